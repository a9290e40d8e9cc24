"""Many links at once (domain.md, "Collecting more: Many links at once").

`batch_preview` turns the agent's choice (the marked receipts, or every receipt that matches
the search) into a plan: one link per policy and currency with ALL its pending receipts of
that currency (oldest first, whichever of them were chosen), each to the email on file.
Receipts without an email are listed and skipped; receipts that are not in the pending list
(a live link hides them, or they were paid or settled) are listed and skipped. Nothing is
reserved: the plan is what the confirmation shows.

`run_batch` makes the plan's links through `generate_link`, whose own rules keep it safe: a
receipt that got a link meanwhile is skipped (`AlreadyLinked`), an unconfirmed link is
retried with its reference, so running the batch again never makes a second link for
anyone. At most MAX_PARALLEL calls to MIT at a time (each link is a claim, a call and a
confirmation); a link that fails does not stop the others; `should_stop` is asked before
each link is started (the ones under way finish); `on_progress` hears each outcome, in the
caller's thread. The links' emails are delivered by one mail thread as the links are made.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from decimal import Decimal

from sqlalchemy import select

from paylink_tui.domain.batch import (
    FAILED,
    MADE,
    SKIP_ALREADY_LINKED,
    SKIP_NO_EMAIL,
    SKIP_NOT_FOUND,
    SKIP_NOT_PENDING,
    SKIPPED,
    UNCONFIRMED,
    BatchLink,
    BatchOutcome,
    BatchPlan,
    BatchProgress,
    BatchResult,
    BatchSkip,
)
from paylink_tui.domain.dates import local_date, long_date, utc
from paylink_tui.domain.errors import (
    AgentError,
    AlreadyLinked,
    BatchTooLarge,
    NotPending,
    OutcomeUnknown,
)
from paylink_tui.domain.status import EmailStatus, ReceiptStatus
from paylink_tui.domain.text import full_name
from paylink_tui.services.access import receipt_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import read_session
from paylink_tui.store.models import Client, EmailMessage, Policy, Receipt

log = logging.getLogger(__name__)

MAX_PARALLEL = 4  # calls to MIT at a time
MAX_LINKS = 5000  # links in one batch: more is a search to narrow down
_CHUNK = 500  # policies per query
MAIL_ROUND = 0.5  # seconds between the mail thread's delivery rounds


def batch_preview(ctx: AppContext, *, receipt_numbers: Sequence[str] = (),
                  search: str | None = None) -> BatchPlan:
    """The plan for the marked receipts (`receipt_numbers`) or, without them, for every
    receipt of the pending list that matches `search` ("" or None: the whole list)."""
    skipped: list[BatchSkip] = []
    if receipt_numbers:
        pairs = _pairs_of_receipts(ctx, receipt_numbers, skipped)
    else:
        pairs = _pairs_of_search(ctx, search or "")
    links = _links_for(ctx, pairs, skipped)
    skipped.sort(key=lambda s: (s.reason, s.policy, s.receipt))
    return BatchPlan(links=tuple(links), skipped=tuple(skipped))


def _too_large(count: int) -> BatchTooLarge:
    return BatchTooLarge(
        f"La selección daría más de {MAX_LINKS:,} ligas ({count:,} o más). Acote la búsqueda "
        "(por ejemplo, por ramo o por apellido) y envíelas por partes.")


def _pairs_of_search(ctx: AppContext, search: str) -> list[tuple[str, str]]:
    """The (policy, currency) of every pending receipt that matches, in list order."""
    from paylink_tui.services.receipts import iter_pending

    pairs: dict[tuple[str, str], None] = {}
    for row in iter_pending(ctx, search=search):
        pairs.setdefault((row.policy, row.currency), None)
        if len(pairs) > MAX_LINKS:
            raise _too_large(len(pairs))
    return list(pairs)


def _pairs_of_receipts(ctx: AppContext, numbers: Sequence[str],
                       skipped: list[BatchSkip]) -> list[tuple[str, str]]:
    """The (policy, currency) of the marked receipts that are in the pending list; the
    others go to `skipped`, saying why."""
    from paylink_tui.services.link_advice import live_receipt_ids

    wanted = list(dict.fromkeys(n.strip() for n in numbers if n and n.strip()))
    now = utc(ctx.now())
    pairs: dict[tuple[str, str], None] = {}
    with read_session(ctx.engine) as session:
        found: dict[str, tuple[Receipt, str]] = {}
        for start in range(0, len(wanted), _CHUNK):
            for rec, first, last, second in session.execute(scoped(
                select(Receipt, Client.first_name, Client.last_name, Client.second_last_name)
                .join(Policy, Policy.id == Receipt.policy_id)  # type: ignore[arg-type]
                .join(Client, Client.id == Policy.client_id)  # type: ignore[arg-type]
                .where(Receipt.number.in_(wanted[start:start + _CHUNK])),  # type: ignore[attr-defined]
                receipt_scope(ctx))  # outside the portfolio: "does not exist"
            ):
                found[rec.number] = (rec, full_name(first, last, second))
        hidden = [rec.id for rec, _ in found.values()
                  if rec.hidden_until is not None and utc(rec.hidden_until) > now]
        live = live_receipt_ids(session, hidden, now)
    for number in wanted:
        if number not in found:
            skipped.append(BatchSkip(number, "", "", SKIP_NOT_FOUND, "No existe el recibo."))
            continue
        rec, holder = found[number]
        if rec.status != ReceiptStatus.PENDING.value:
            what = ("ya está pagado" if rec.status == ReceiptStatus.PAID.value
                    else "fue liquidado fuera")
            skipped.append(BatchSkip(number, rec.policy_number, holder, SKIP_NOT_PENDING,
                                     f"El recibo {what}."))
        elif rec.hidden_until is not None and utc(rec.hidden_until) > now:
            back = long_date(local_date(rec.hidden_until, ctx.tz))
            detail = ("Tiene una liga activa." if rec.id in live
                      else "Su liga venció hace poco; vuelve a pendientes el " + back + ".")
            skipped.append(BatchSkip(number, rec.policy_number, holder, SKIP_ALREADY_LINKED, detail))
        else:
            pairs.setdefault((rec.policy_number, rec.currency), None)
    if len(pairs) > MAX_LINKS:
        raise _too_large(len(pairs))
    return list(pairs)


def _links_for(ctx: AppContext, pairs: list[tuple[str, str]],
               skipped: list[BatchSkip]) -> list[BatchLink]:
    """One link per (policy, currency): its receipts in the pending list, oldest first."""
    from paylink_tui.services.receipts import _pending_filter  # the pending list's own rule

    now = ctx.now()
    policies = list(dict.fromkeys(p for p, _ in pairs))
    wanted = set(pairs)
    groups: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    holders: dict[str, tuple[str, str | None]] = {}
    with read_session(ctx.engine) as session:
        for start in range(0, len(policies), _CHUNK):
            rows = session.execute(scoped(
                select(Receipt.policy_number, Receipt.currency, Receipt.number, Receipt.amount,
                       Client.first_name, Client.last_name, Client.second_last_name, Client.email)
                .join(Policy, Policy.id == Receipt.policy_id)  # type: ignore[arg-type]
                .join(Client, Client.id == Policy.client_id)  # type: ignore[arg-type]
                .where(Receipt.policy_number.in_(policies[start:start + _CHUNK]),  # type: ignore[attr-defined]
                       _pending_filter(now)),
                receipt_scope(ctx))
                .order_by(Receipt.policy_number, Receipt.due_date, Receipt.number)  # type: ignore[arg-type]
            )
            for policy, currency, number, amount, first, last, second, email in rows:
                if (policy, currency) in wanted:
                    groups.setdefault((policy, currency), []).append((number, Decimal(amount)))
                    holders[policy] = (full_name(first, last, second), email)
    links: list[BatchLink] = []
    for pair in pairs:
        receipts = groups.get(pair)
        if not receipts:  # left the list between the two reads
            continue
        policy, currency = pair
        holder, email = holders[policy]
        if not email:
            skipped.extend(BatchSkip(number, policy, holder, SKIP_NO_EMAIL,
                                     "La póliza no tiene correo registrado.")
                           for number, _ in receipts)
            continue
        links.append(BatchLink(policy=policy, currency=currency, holder=holder, email=email,
                               receipts=tuple(n for n, _ in receipts),
                               amount=sum((a for _, a in receipts), Decimal("0.00"))))
    return links


# -- running it -----------------------------------------------------------------------------


def run_batch(ctx: AppContext, plan: BatchPlan, *, agent: str | None = None,
              on_progress: Callable[[BatchProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              max_parallel: int = MAX_PARALLEL) -> BatchOutcome:
    """Make the plan's links, at most `max_parallel` at a time. Raises only when nothing can
    be made at all (the gateway is not configured); each link's failure is its outcome.

    Each link's email is queued with it and delivered by one mail thread beside the links
    (the outbox's claims; a failure stays queued and is retried by the outbox as always):
    with SQLite's single writer, four links each delivering its own email spent more time
    waiting for the write lock than calling MIT (bench/batch.py)."""
    from paylink_tui.services.links import check_gateway

    agent = agent or ctx.agent
    check_gateway(ctx)  # once, before anything: the same error generate_link would give
    ctx.get_mail_transport()  # built once, not by four threads at once
    stop = should_stop or (lambda: False)
    queue = list(plan.links)
    results: list[BatchResult] = []
    made_ids: dict[str, int] = {}  # reference -> link id
    stopped = False
    futures: set[Future[tuple[BatchResult, int | None]]] = set()
    mailer = _Mailer(ctx)
    mailer.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, max_parallel),
                                thread_name_prefix="paylink-batch") as pool:
            while True:
                while queue and len(futures) < max_parallel and not stopped:
                    if stop():
                        stopped = True
                        break
                    futures.add(pool.submit(_make_one, ctx, queue.pop(0), agent))
                if not futures:
                    break
                done, futures = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    result, link_id = future.result()
                    if link_id is not None and result.reference:
                        made_ids[result.reference] = link_id
                        mailer.add(link_id)
                    results.append(result)
                    if on_progress is not None:
                        on_progress(_progress(results, len(plan.links)))
    finally:
        mailer.finish()
    results = _with_email_status(ctx, results, made_ids)
    by = {MADE: [], SKIPPED: [], FAILED: []}  # type: dict[str, list[BatchResult]]
    for r in results:
        by[FAILED if r.outcome in (FAILED, UNCONFIRMED) else r.outcome].append(r)
    return BatchOutcome(made=tuple(by[MADE]), skipped=tuple(by[SKIPPED]),
                        failed=tuple(by[FAILED]), plan_skipped=plan.skipped, stopped=stopped,
                        not_run=tuple(queue) if stopped else ())


class _Mailer(threading.Thread):
    """Delivers the emails of the links made so far, a round every MAIL_ROUND seconds."""

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(name="paylink-batch-mail", daemon=True)
        self.ctx = ctx
        self._links: list[int] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = False

    def add(self, link_id: int) -> None:
        with self._lock:
            self._links.append(link_id)
        self._wake.set()

    def finish(self) -> None:
        self._done = True
        self._wake.set()
        self.join()

    def run(self) -> None:
        while True:
            if not self._done:
                self._wake.wait(MAIL_ROUND)
            self._wake.clear()
            with self._lock:
                links, self._links = self._links, []
            if links:
                try:
                    _deliver_link_emails(self.ctx, links)
                except Exception:  # they stay queued: the outbox retries them
                    log.exception("batch: delivering %d link emails failed", len(links))
            elif self._done:
                return


def _link_emails(session, link_ids: list[int]) -> list[tuple[int, int, str, str | None]]:  # type: ignore[no-untyped-def]
    """(link id, email id, status, last error) of these links' link emails."""
    em = EmailMessage.__table__  # type: ignore[attr-defined]
    out = []
    for start in range(0, len(link_ids), _CHUNK):
        out += list(session.execute(
            select(em.c.link_id, em.c.id, em.c.status, em.c.last_error)
            .where(em.c.link_id.in_(link_ids[start:start + _CHUNK]), em.c.kind == "link")
            .order_by(em.c.id)))
    return out


def _deliver_link_emails(ctx: AppContext, link_ids: list[int]) -> None:
    from paylink_tui.services import outbox

    with read_session(ctx.engine) as session:
        ids = [email_id for _, email_id, status, _ in _link_emails(session, link_ids)
               if status != EmailStatus.SENT.value]
    if ids:
        outbox.deliver_due(ctx, ids=ids, limit=len(ids))


def _with_email_status(ctx: AppContext, results: list[BatchResult],
                       made_ids: dict[str, int]) -> list[BatchResult]:
    """The made links' results with their email's status after the mail thread's rounds."""
    if not made_ids:
        return results
    with read_session(ctx.engine) as session:
        latest = {link_id: (status, error)
                  for link_id, _, status, error in _link_emails(session, list(made_ids.values()))}
    out = []
    for r in results:
        got = latest.get(made_ids.get(r.reference or "", -1))
        if r.outcome == MADE and got is not None:
            r = dataclasses.replace(r, email_status=got[0], message=got[1])
        out.append(r)
    return out


def _progress(results: list[BatchResult], total: int) -> BatchProgress:
    made = sum(r.outcome == MADE for r in results)
    skipped = sum(r.outcome == SKIPPED for r in results)
    return BatchProgress(done=len(results), total=total, made=made, skipped=skipped,
                         failed=len(results) - made - skipped, last=results[-1])


def _make_one(ctx: AppContext, link: BatchLink, agent: str) -> tuple[BatchResult, int | None]:
    """One planned link through the generate use case: its outcome (never an exception) and
    the id of the link made."""
    from paylink_tui.services.links import generate_link

    base = {"policy": link.policy, "currency": link.currency, "receipts": link.receipts,
            "email": link.email, "amount": link.amount}
    try:
        made = generate_link(ctx, receipt_numbers=link.receipts, policy_number=link.policy,
                             email=link.email, agent=agent, deliver=False)
    except (AlreadyLinked, NotPending) as exc:
        return BatchResult(**base, outcome=SKIPPED, message=exc.message), None  # type: ignore[arg-type]
    except OutcomeUnknown as exc:
        return BatchResult(**base, outcome=UNCONFIRMED, reference=exc.reference,  # type: ignore[arg-type]
                           message=exc.message), None
    except AgentError as exc:
        return BatchResult(**base, outcome=FAILED, message=exc.message), None  # type: ignore[arg-type]
    except Exception:  # a bug must not stop the batch nor lose what the others made
        log.exception("batch: link for policy %s failed unexpectedly", link.policy)
        return BatchResult(**base, outcome=FAILED,  # type: ignore[arg-type]
                           message="Error inesperado al generar la liga; quedó en el registro."), None
    return BatchResult(policy=link.policy, currency=link.currency, receipts=made.receipt_numbers,
                       outcome=MADE, reference=made.reference, email=made.email,
                       amount=made.amount, email_status=made.email_status,
                       message=made.email_error), made.link_id
