"""Step 1, RECEIVE: MIT's notification read, stored exactly once, then applied.

STORE the notification as received (`INSERT … ON CONFLICT DO NOTHING` on MIT's (folio,
reference)): the same notification again is recognised as a duplicate. Then APPLY it
(notifications/apply.py), usually in the same transaction. If applying fails, that
transaction rolls back and the notification is stored alone in a transaction of its own, so
it is never lost: it stays "por revisar" and MIT's next retry (a duplicate) finishes applying
it. Only when it cannot be stored at all does the caller answer MIT with an error.

When MIT's transaction query is configured, an approval is stored "confirming" instead and
applied only once MIT lists it (notifications/confirm.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from paylink_tui.domain.dates import parse_mit_datetime
from paylink_tui.domain.money import CENT
from paylink_tui.domain.results import Received
from paylink_tui.domain.status import NotificationStatus
from paylink_tui.domain.text import clean_text, loggable
from paylink_tui.gateway.base import Notification as MitNotification
from paylink_tui.gateway.errors import NotificationRejected
from paylink_tui.gateway.messages import MAX_XML_CHARS, NOTIFICATION_FIELDS, parse_xml
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications.apply import _apply, _apply_in
from paylink_tui.services.notifications.common import _conn, _deliver, _sql, _write
from paylink_tui.services.notifications.confirm import held, held_values

log = logging.getLogger(__name__)

# A notification that is not ours: re-exported under the service's own name.
Rejected = NotificationRejected


# -- step 0: parse ------------------------------------------------------------------------


def parse(ctx: AppContext, str_response: str) -> MitNotification:
    """Decrypt and read with the configured gateway's key; Rejected when it is not ours."""
    return ctx.get_gateway().parse_notification(str_response)


@dataclass(frozen=True)
class Prepared:
    """A notification decrypted, read and turned into the row it will be stored as: the work
    `serve` does per request, outside the single writer (issue 11 §2)."""

    values: dict[str, Any]


def prepare(ctx: AppContext, str_response: str) -> Prepared:
    """strResponse -> the row to store. Rejected when it is not ours."""
    return Prepared(_row_values(ctx, parse(ctx, str_response), ctx.now()))


# -- step 1: store --------------------------------------------------------------------------

_DIGITS = re.compile(r"\d")


def _clip(value: str | None, size: int) -> str | None:
    """A field as stored: cleaned like imported text (control characters, line breaks and
    bidirectional overrides can't reach a log line or a screen), then cut to the column."""
    value = clean_text(value)
    return value[:size] if value else None


def safe_mask(cc_mask: str, cc_number: str) -> str | None:
    """MIT's mask (first 6 + XXXXXX + last 4); anything showing more digits is re-masked so
    that no full card number is ever stored."""
    mask = clean_text(cc_mask)
    if mask and len(_DIGITS.findall(mask)) <= 10:
        return mask[:30]
    digits = "".join(_DIGITS.findall(mask or cc_number))
    if not digits:
        return None
    return ("XXXXXX" + digits[-4:])[:30]


# What of MIT's XML is kept (docs: the notification's elements, `promocion`, the request's
# own `datos_adicionales`). Anything else goes: a card token (`number_tkn`), the card's expiry
# (`cc_expmonth`, `cc_expyear`), fields MIT may add tomorrow.
_KEPT_ELEMENTS = (*NOTIFICATION_FIELDS, "promocion", "datos_adicionales")
_CARD_RUN = re.compile(r"\d[\d\s-]{11,}\d")
_UNKEPT = re.compile(r"<(number_tkn|cc_exp\w*|emv_\w*|token\w*)\b[^>]*>.*?</\1\s*>", re.S | re.I)


def scrub_raw_xml(xml: str) -> str:
    """The raw XML as stored: the elements MIT documents, card fields reduced to what MIT is
    supposed to send, nothing else. Parsed (defusedxml, depth-capped) and rebuilt, so CDATA,
    attributes or odd whitespace can't carry a full number past the scrub. Never raises."""
    import xml.etree.ElementTree as ET  # noqa: N817, S405 - builds only; parse_xml parses

    try:
        parsed = parse_xml(xml, lenient=True)
        root = ET.Element(parsed.tag)
        for el in parsed:
            if el.tag not in _KEPT_ELEMENTS:
                continue
            el.tail = None
            if el.tag == "cc_number":
                el.text = "".join(_DIGITS.findall(el.text or ""))[-4:]
                el.attrib.clear()
                el[:] = []
            elif el.tag == "cc_mask":
                el.text = safe_mask("".join(el.itertext()), "") or ""
                el.attrib.clear()
                el[:] = []
            root.append(el)
        return ET.tostring(root, encoding="unicode")
    except Exception:  # noqa: BLE001 - parse_notification read it; keep what is safe to keep
        log.warning("notification XML could not be rebuilt for storage; kept with card-like "
                    "digits and unknown card fields removed", exc_info=True)
        return _CARD_RUN.sub("XXXXXX", _UNKEPT.sub("", xml))[:MAX_XML_CHARS]


def _identity_key(n: MitNotification, folio: str | None, reference: str | None) -> str | None:
    """None when MIT's folio and our reference identify the notification (the unique
    constraint on both); otherwise what identifies it when MIT sends it again: the folio
    alone, or a hash of the decrypted body (docs: an error notification may have no folio)."""
    if folio and reference:
        return None
    if folio:
        return f"folio:{folio}"
    return "sha256:" + hashlib.sha256(n.raw_xml.strip().encode("utf-8")).hexdigest()


def _taken_at(n: MitNotification, tz: str) -> datetime | None:
    if not n.date or not n.time:
        return None
    try:
        return parse_mit_datetime(n.date, n.time, tz)
    except ValueError:
        return None


def _row_values(ctx: AppContext, n: MitNotification, now: datetime) -> dict[str, Any]:
    amount = n.amount
    if amount is not None and (abs(amount) >= Decimal("1e10") or amount != amount.quantize(CENT)):
        # Does not fit Numeric(12,2): kept in raw_xml, reviewed as a missing amount.
        amount = None
    folio = _clip(n.folio, 40)
    reference = _clip(n.reference, 100)
    return {
        "folio": folio,
        "reference": reference,
        "identity_key": _identity_key(n, folio, reference),
        "response": _clip(n.response, 20),
        "amount": amount,
        "authorization": _clip(n.auth, 20),
        "cd_error": _clip(n.cd_error, 20),
        "nb_error": _clip(n.nb_error, 2000),
        "taken_at": _taken_at(n, ctx.tz),
        "card_type": _clip(n.cc_type, 100),
        "card_mask": safe_mask(n.cc_mask, n.cc_number),
        "email": _clip(n.email, 254),
        "promotion": _clip(n.promocion, 40),
        "raw_xml": scrub_raw_xml(n.raw_xml),
        "received_at": now,
        # Stored "por revisar" with no reason yet: until the apply step finishes, a person
        # sees it. The apply step replaces status and reason.
        "status": NotificationStatus.REVIEW.value,
        "review_reason": None,
    }


def _insert(session: Session, ctx: AppContext, values: dict[str, Any]) -> tuple[int, bool]:
    """Insert once per (folio, reference) in `session`; (id, duplicate). ON CONFLICT DO
    NOTHING settles the race between two workers without an IntegrityError."""
    sql = _sql(ctx)
    conn = _conn(session)
    new_id = conn.execute(sql.insert, values).scalar()
    if new_id is not None:
        return int(new_id), False
    if values.get("identity_key"):
        existing = conn.execute(sql.existing_by_key, {"k": values["identity_key"]}).scalar_one()
    else:
        existing = conn.execute(
            sql.existing, {"f": values["folio"], "r": values["reference"]}
        ).scalar_one()
    return int(existing), True


def _store(ctx: AppContext, values: dict[str, Any]) -> tuple[int, bool]:
    """Store only, in a transaction of its own (held for MIT's confirmation like
    `_receive_in` would: the fallback must not apply what the usual path would hold)."""
    values = held_values(ctx, values, values["received_at"])
    with _write(ctx) as session:
        notification_id, duplicate = _insert(session, ctx, values)
        if not duplicate:
            held(session, ctx, notification_id, values, values["received_at"])
        return notification_id, duplicate


def _receive_in(session: Session, ctx: AppContext, values: dict[str, Any],
                now: datetime) -> tuple[int, bool, str, str | None, tuple[int, ...]]:
    """Store and apply in the caller's transaction: (id, duplicate, status, reason, emails).
    An approval to be confirmed with MIT first is stored "confirming" and not applied."""
    values = held_values(ctx, values, now)
    notification_id, duplicate = _insert(session, ctx, values)
    if not duplicate:
        held(session, ctx, notification_id, values, now)
    fresh = None if duplicate else SimpleNamespace(
        id=notification_id, link_id=None, note=None, **values)
    status, reason, email_ids = _apply_in(session, ctx, notification_id, now, fresh)
    return notification_id, duplicate, status, reason, email_ids


def receive_notification(ctx: AppContext, str_response: str, *, deliver: bool = True) -> Received:
    """MIT's strResponse -> stored exactly once -> applied or kept for review.

    Raises Rejected (nothing stored) for a body that is not ours. Raises only database errors
    if it could not be stored (the caller answers 5xx so that MIT retries). With
    `deliver=False` the caller delivers `Received.email_ids` itself (after answering MIT).
    """
    now = ctx.now()
    values = _row_values(ctx, parse(ctx, str_response), now)
    received = _receive_values(ctx, values, now)
    if deliver:
        _deliver(ctx, received.email_ids)
    return received


def _receive_values(ctx: AppContext, values: dict[str, Any], now: datetime) -> Received:
    """One parsed notification in a transaction of its own, with the store-alone fallback."""
    try:
        # The usual path: stored and applied in one transaction (one commit).
        with _write(ctx) as session:
            notification_id, duplicate, status, reason, email_ids = _receive_in(
                session, ctx, values, now)
    except Exception:
        # Applying failed and rolled everything back: store it on its own so it is never
        # lost (this raises if even that fails: the caller answers 5xx and MIT retries).
        log.exception("notification (folio %s, ref %s) could not be applied; storing it alone",
                      loggable(values["folio"]), loggable(values["reference"]))
        notification_id, duplicate = _store(ctx, values)
        try:
            status, reason, email_ids = _apply(ctx, notification_id)
        except Exception:
            # Stored, not applied: it stays "por revisar" and MIT's retry tries again.
            log.exception("notification %s stored but could not be applied", notification_id)
            return Received(notification_id, NotificationStatus.REVIEW.value, None, duplicate,
                            pending=True)
    return _received(values, notification_id, duplicate, status, reason, email_ids)


def _received(values: dict[str, Any], notification_id: int, duplicate: bool, status: str,
              reason: str | None, email_ids: tuple[int, ...]) -> Received:
    """The outcome, logged once it is committed."""
    folio, reference = loggable(values["folio"]), loggable(values["reference"])
    if duplicate:
        log.info("notification %s (folio %s, ref %s): duplicate, nothing changed",
                 notification_id, folio, reference)
    else:
        log.info("notification %s (folio %s, ref %s, %s): %s%s", notification_id,
                 folio, reference, loggable(values["response"]), status,
                 f" ({reason})" if reason else "")
    return Received(notification_id, status, reason, duplicate, email_ids)


def receive_many(ctx: AppContext, items: Sequence[str | Prepared]) -> list[Received | Exception]:
    """Several notifications (MIT's strResponse each, or already `prepare`d) stored and
    applied in ONE transaction: one commit, hence one disk sync, for the lot. Same result per
    item as `receive_notification(..., deliver=False)`, in order: a `Received`, or the
    exception it would have raised (Rejected, or any error when it could not be stored).

    Each item fails on its own: an exception while reading one is that one's result; if
    anything fails inside the shared transaction, it rolls back as a whole and each
    notification is received on its own (with its own store-alone fallback): one bad
    notification never costs the others.
    """
    now = ctx.now()
    results: list[Received | Exception | None] = [None] * len(items)
    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, item in enumerate(items):
        try:
            values = item.values if isinstance(item, Prepared) else prepare(ctx, item).values
        except Rejected as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - this item's answer; the others go on
            log.exception("a notification could not be read; MIT will retry it")
            results[i] = exc
        else:
            parsed.append((i, values))
    # One order for every process (by reference, then folio), so that two PostgreSQL
    # writers lock links and unique keys in the same order instead of deadlocking.
    parsed.sort(key=lambda item: (item[1]["reference"] or "", item[1]["folio"] or "",
                                  item[1].get("identity_key") or ""))
    if parsed:
        try:
            with _write(ctx) as session:
                done = [(i, values, _receive_in(session, ctx, values, now))
                        for i, values in parsed]
        except Exception:
            log.exception("a batch of %d notifications could not be applied together; "
                          "receiving them one by one", len(parsed))
            for i, values in parsed:
                try:
                    results[i] = _receive_values(ctx, values, now)
                except Exception as exc:
                    log.exception("notification (folio %s, ref %s) could NOT be stored",
                                  loggable(values["folio"]), loggable(values["reference"]))
                    results[i] = exc
        else:
            for i, values, outcome in done:
                results[i] = _received(values, *outcome)
    return [r for r in results if r is not None]
