"""Many links at once: the plan (one link per policy and currency, all its pending receipts,
to the email on file; who is skipped and why), then the links through the generate use case
against the sandbox over HTTP: at most 4 MIT calls at a time, a failure does not stop the
others, it can be stopped, and running it again never makes a second link for anyone."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
from defusedxml import ElementTree
from sqlmodel import Session, select

from paylink_tui.domain.batch import FAILED, MADE, SKIPPED, UNCONFIRMED
from paylink_tui.domain.errors import BatchTooLarge, GatewayNotConfiguredError
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import decrypt
from paylink_tui.gateway.sandbox import create_sandbox_app
from paylink_tui.services import batch as batch_service
from paylink_tui.services.batch import batch_preview, run_batch
from paylink_tui.services.links import generate_link
from paylink_tui.store.models import Client, LinkReceipt, PaymentLink, Receipt
from tests.helpers import command_env, link_command


class MitGauge:
    """ASGI middleware in front of the sandbox: how many /gen calls are in flight at most, and
    a definite refusal (HTTP 400) for references of the policies in `refuse`."""

    def __init__(self, app, hold: float = 0.05) -> None:
        self.app, self.hold = app, hold
        self.in_flight = self.peak = self.calls = 0
        self.refuse: set[str] = set()
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/gen":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        envelope = ElementTree.fromstring(parse_qs(body.decode())["xml"][0])
        reference = ElementTree.fromstring(decrypt(envelope.findtext("data"), sd.SANDBOX_KEY)).findtext("url/reference")
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.hold)
            if any(reference.startswith(p + "-") for p in self.refuse):
                await send({"type": "http.response.start", "status": 400, "headers": []})
                await send({"type": "http.response.body", "body": b"Bad Request"})
                return
            sent = False

            async def replay():
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
        finally:
            with self._lock:
                self.in_flight -= 1


@pytest.fixture
def mit(serve, clock):
    gauge = MitGauge(create_sandbox_app(company="AXA", now=clock))
    server = serve(gauge)
    gauge.gen_url = f"{server.url}/gen"
    return gauge


def links_in(engine) -> list[tuple[str, tuple[str, ...], str]]:
    """(policy, receipts, email) of every stored link."""
    with Session(engine) as s:
        out = []
        for link in s.exec(select(PaymentLink).order_by(PaymentLink.id)).all():
            numbers = tuple(sorted(s.exec(select(Receipt.number).join(LinkReceipt, LinkReceipt.receipt_id == Receipt.id)
                                          .where(LinkReceipt.link_id == link.id)).all()))
            out.append((numbers[0].split("-")[0], numbers, link.email))
        return out


def portfolio(seed, engine, clock):
    seed(engine, "P1", [("P1-1", "100.00", "MXN"), ("P1-2", "50.00", "MXN"), ("P1-3", "10.00", "USD")],
         now=clock(), holder=("Ana", "Gómez", "Ruiz"), email="ana@example.com")
    seed(engine, "P2", [("P2-1", "20.00", "MXN")], now=clock(), holder=("Luis", "Paz", ""), email=None)
    seed(engine, "P3", [("P3-1", "30.00", "MXN")], now=clock(), holder=("Eva", "Gómez", "Luna"),
         email="eva@example.com")
    seed(engine, "P4", [("P4-1", "40.00", "MXN", "paid")], now=clock(), holder=("Iván", "Soto", ""),
         email="ivan@example.com")


# -- the plan ------------------------------------------------------------------------------------


def test_the_plan_for_the_whole_list_is_one_link_per_policy_and_currency(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    portfolio(seed, ctx.engine, clock)
    generate_link(ctx, receipt_numbers=["P3-1"], email="eva@example.com")  # already linked
    mit.calls = 0

    plan = batch_preview(ctx)

    assert [(x.policy, x.currency, x.receipts, x.email, x.amount) for x in plan.links] == [
        ("P1", "MXN", ("P1-1", "P1-2"), "ana@example.com", Decimal("150.00")),
        ("P1", "USD", ("P1-3",), "ana@example.com", Decimal("10.00")),
    ]
    assert plan.clients == 1 and plan.receipts == 3
    assert plan.amounts == {"MXN": Decimal("150.00"), "USD": Decimal("10.00")}
    assert [(s.receipt, s.reason) for s in plan.skipped] == [("P2-1", "no_email")]
    assert plan.skipped[0].holder == "Luis Paz"
    assert plan.summary == ("Se generarán 2 ligas para 3 recibos de 1 cliente, por $ 150.00 MXN y "
                            "$ 10.00 USD; cada una al correo registrado.")
    assert mit.calls == 0  # a plan reserves and calls nothing


def test_a_search_takes_every_pending_receipt_of_the_policies_it_finds(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    portfolio(seed, ctx.engine, clock)
    plan = batch_preview(ctx, search="p1-2")  # one receipt found: its policy's whole MXN set
    assert [(x.policy, x.currency, x.receipts) for x in plan.links] == [("P1", "MXN", ("P1-1", "P1-2"))]
    plan = batch_preview(ctx, search="gomez")
    assert [(x.policy, x.currency) for x in plan.links] == [("P1", "MXN"), ("P1", "USD"), ("P3", "MXN")]
    assert plan.clients == 2


def test_marked_receipts_say_why_each_one_left_out_is_left_out(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    portfolio(seed, ctx.engine, clock)
    generate_link(ctx, receipt_numbers=["P3-1"], email="eva@example.com")

    plan = batch_preview(ctx, receipt_numbers=["P1-2", "P2-1", "P3-1", "P4-1", "P9-9"])

    assert [(x.policy, x.receipts) for x in plan.links] == [("P1", ("P1-1", "P1-2"))]
    reasons = {s.receipt: (s.reason, s.detail) for s in plan.skipped}
    assert reasons == {
        "P2-1": ("no_email", "La póliza no tiene correo registrado."),
        "P3-1": ("already_linked", "Tiene una liga activa."),
        "P4-1": ("not_pending", "El recibo ya está pagado."),
        "P9-9": ("not_found", "No existe el recibo."),
    }


def test_too_many_links_for_one_batch_are_refused_in_spanish(make_ctx, seed, clock, monkeypatch):
    ctx = make_ctx()
    portfolio(seed, ctx.engine, clock)
    monkeypatch.setattr(batch_service, "MAX_LINKS", 1)
    with pytest.raises(BatchTooLarge, match="más de 1 ligas .* Acote la búsqueda"):
        batch_preview(ctx)


# -- running it ----------------------------------------------------------------------------------


def many(seed, engine, clock, n: int, **kwargs) -> None:
    for i in range(n):
        seed(engine, f"Q{i:02d}", [(f"Q{i:02d}-1", "10.00", "MXN")], now=clock(),
             holder=("Cliente", f"N{i:02d}", ""), email=f"c{i:02d}@example.com", **kwargs)


def test_the_batch_makes_each_link_to_the_email_on_file_four_mit_calls_at_most(make_ctx, mit, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    many(seed, ctx.engine, clock, 10)
    mit.hold = 0.5  # MIT takes its time: the four calls overlap, a fifth never starts
    heard = []

    outcome = run_batch(ctx, batch_preview(ctx), on_progress=heard.append)

    assert len(outcome.made) == 10 and outcome.failed == () and not outcome.stopped
    assert mit.calls == 10 and mit.peak == 4
    assert [p.done for p in heard] == list(range(1, 11)) and heard[-1].made == 10
    assert all(p.total == 10 for p in heard)
    assert sorted((p, e) for p, _, e in links_in(ctx.engine)) == [
        (f"Q{i:02d}", f"c{i:02d}@example.com") for i in range(10)]
    assert sorted(m["To"] for m in mailbox.parsed()) == [f"c{i:02d}@example.com" for i in range(10)]
    assert all(r.email_status == "sent" and r.reference for r in outcome.made)
    assert outcome.amounts == {"MXN": Decimal("100.00")}


def test_running_it_again_never_makes_a_second_link(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    many(seed, ctx.engine, clock, 5)
    plan = batch_preview(ctx)
    run_batch(ctx, plan)
    calls = mit.calls

    again = run_batch(ctx, plan)  # the same plan confirmed twice (a double key press)

    assert again.made == () and len(again.skipped) == 5 and again.failed == ()
    assert all(r.outcome == SKIPPED and "ya tiene una liga activa" in r.message for r in again.skipped)
    assert mit.calls == calls  # refused at the claim, before MIT
    assert batch_preview(ctx).links == ()
    assert len(links_in(ctx.engine)) == 5


def test_two_batches_at_once_make_one_link_per_policy(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    other = make_ctx(mit_gen_url=mit.gen_url)
    many(seed, ctx.engine, clock, 8)
    plan = batch_preview(ctx)
    outcomes = []
    threads = [threading.Thread(target=lambda c=c: outcomes.append(run_batch(c, plan))) for c in (ctx, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(len(o.made) for o in outcomes) == 8
    assert sum(len(o.skipped) for o in outcomes) == 8
    assert sorted(p for p, _, _ in links_in(ctx.engine)) == [f"Q{i:02d}" for i in range(8)]
    assert mit.calls == 8


def test_a_failing_link_does_not_stop_the_others(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    many(seed, ctx.engine, clock, 6)
    with Session(ctx.engine) as s:  # an address on file that is not one (written by hand)
        client = s.exec(select(Client).where(Client.last_name == "N02")).one()
        client.email = "no-es-correo"
        s.add(client)
        s.commit()
    mit.refuse = {"Q04"}  # MIT answers 400 for this one

    outcome = run_batch(ctx, batch_preview(ctx))

    assert sorted(r.policy for r in outcome.made) == ["Q00", "Q01", "Q03", "Q05"]
    failed = {r.policy: r for r in outcome.failed}
    assert set(failed) == {"Q02", "Q04"} and all(r.outcome == FAILED for r in failed.values())
    assert "no-es-correo" in failed["Q02"].message or "correo" in failed["Q02"].message
    assert "MIT" in failed["Q04"].message
    # Fixed, the batch again makes just the missing one.
    mit.refuse = set()
    again = run_batch(ctx, batch_preview(ctx))
    assert [r.policy for r in again.made] == ["Q04"]
    assert sorted(p for p, _, _ in links_in(ctx.engine)) == ["Q00", "Q01", "Q03", "Q04", "Q05"]


def test_a_lost_answer_leaves_the_link_unconfirmed_and_the_rerun_retries_it(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, mit_timeout=0.5)
    many(seed, ctx.engine, clock, 3)
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 2.0  # the first answer is lost
    plan = batch_preview(ctx)
    outcome = run_batch(ctx, plan, max_parallel=1)
    (lost,) = outcome.unconfirmed
    assert lost.outcome == UNCONFIRMED and lost.reference
    assert len(outcome.made) == 2
    again = run_batch(ctx, plan)  # the same receipts: generate_link retries the same reference
    assert [(r.policy, r.reference, r.outcome) for r in again.made] == [(lost.policy, lost.reference, MADE)]
    assert len(links_in(ctx.engine)) == 3


def test_the_batch_can_be_stopped_and_then_continued(make_ctx, mit, seed, clock):
    ctx = make_ctx(mit_gen_url=mit.gen_url)
    many(seed, ctx.engine, clock, 12)
    heard = []
    outcome = run_batch(ctx, batch_preview(ctx), on_progress=heard.append,
                        should_stop=lambda: len(heard) >= 2)
    assert outcome.stopped and outcome.not_run
    tried = len(outcome.made) + len(outcome.failed) + len(outcome.skipped)
    assert tried + len(outcome.not_run) == 12
    assert 2 <= tried <= 2 + 4  # the ones under way when it was asked to stop finish
    rest = run_batch(ctx, batch_preview(ctx))
    assert len(rest.made) == 12 - len(outcome.made)
    assert sorted(p for p, _, _ in links_in(ctx.engine)) == [f"Q{i:02d}" for i in range(12)]


def test_without_a_gateway_nothing_is_tried(make_ctx, seed, clock):
    ctx = make_ctx(gateway=None)
    many(seed, ctx.engine, clock, 2)
    with pytest.raises(GatewayNotConfiguredError):
        run_batch(ctx, batch_preview(ctx))
    assert links_in(ctx.engine) == []


# -- the command ---------------------------------------------------------------------------------


def test_link_all_previews_confirms_and_summarises(database_url, engine, real_time_sandbox, mailbox,
                                                   seed, clock, tmp_path):
    portfolio(seed, engine, clock)
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))

    asked = link_command("--all", env=env)  # stdin is not a terminal: nothing without --yes
    out, err = asked.communicate(timeout=60)
    assert asked.returncode == 2 and "confirme con --yes" in err
    assert out.splitlines() == [
        "Se generarán 3 ligas para 4 recibos de 2 clientes, por $ 180.00 MXN y $ 10.00 USD; cada "
        "una al correo registrado.",
        "Se omite 1 recibo:",
        "  sin correo registrado (1): P2-1 (póliza P2, Luis Paz)",
    ]
    assert links_in(engine) == []

    proc = link_command("--all", "--search", "ruiz", "--yes", env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Se generarán 2 ligas para 3 recibos de 1 cliente, por $ 150.00 MXN y $ 10.00 USD" in out
    assert "Ligas generadas: 2 por $ 150.00 MXN y $ 10.00 USD" in out
    assert out.count("correo Enviado a ana@example.com") == 2
    assert len(links_in(engine)) == 2

    rest = link_command("--all", "--yes", env=env)  # continues with the others, no second link
    out, err = rest.communicate(timeout=120)
    assert rest.returncode == 0, err
    assert "Ligas generadas: 1 por $ 30.00 MXN" in out and "correo Enviado a eva@example.com" in out
    assert "Omitidos: 1 recibo" in out
    assert len(links_in(engine)) == 3

    again = link_command("--all", "--yes", env=env)
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "No hay ligas que generar." in out and len(links_in(engine)) == 3


@pytest.mark.parametrize(("args", "text"), [
    (("--all", "R-1"), "no indique recibos"),
    (("--all", "--email", "a@b.mx"), "no indique recibos, --policy ni --email"),
    (("R-1", "--email", "a@b.mx", "--yes"), "--search y --yes solo van con --all"),
])
def test_link_all_explains_bad_arguments(sqlite_url, tmp_path, args, text):
    proc = link_command(*args, env=command_env(sqlite_url, tmp_path))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and text in err


def test_with_the_mail_server_down_the_links_are_made_and_their_emails_wait(make_ctx, mit, seed, clock):
    from tests.helpers import closed_port

    ctx = make_ctx(mit_gen_url=mit.gen_url, smtp_port=closed_port())
    many(seed, ctx.engine, clock, 3)
    outcome = run_batch(ctx, batch_preview(ctx))
    assert len(outcome.made) == 3
    assert all(r.email_status == "failed" and "conexión rechazada" in r.message for r in outcome.made)
    with Session(ctx.engine) as s:
        from paylink_tui.store.models import EmailMessage

        assert [m.status for m in s.exec(select(EmailMessage)).all()] == ["failed"] * 3  # retried later


def test_link_all_shows_a_progress_bar_on_a_terminal_and_stops_on_ctrl_c(database_url, engine, mit, mailbox,
                                                                         seed, clock, tmp_path):
    """stderr a pseudo-terminal (the bar draws there), SIGINT once a link is made: the links
    under way finish, the rest are not tried, exit 130; a second run makes only the rest."""
    import os
    import pty
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import ROOT

    many(seed, engine, clock, 16)
    mit.hold = 0.4
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox", PAYLINK_MIT_GEN_URL=mit.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port), COLUMNS="100")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "link", "--all", "--yes"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, text=True,
                            encoding="utf-8")
    os.close(slave)
    drawn = bytearray()

    def read_terminal() -> None:  # drained all along: a full terminal buffer would block it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(links_in(engine)) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    reader.join(10)
    os.close(master)
    assert proc.returncode == 130, out
    assert b"Generando ligas" in drawn and b"Deteniendo" in drawn
    made = len(links_in(engine))
    assert 1 <= made < 16
    assert f"Ligas generadas: {made}" in out and "Detenida:" in out and "no se intentaron" in out

    rest = link_command("--all", "--yes", env=env)
    out, err = rest.communicate(timeout=120)
    assert rest.returncode == 0, err
    assert f"Ligas generadas: {16 - made}" in out
    assert sorted(p for p, _, _ in links_in(engine)) == [f"Q{i:02d}" for i in range(16)]
