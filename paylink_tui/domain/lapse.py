"""The lapse clock (domain.md, "Collecting more: Grace period and lapse").

By the Ley sobre el Contrato de Seguro (art. 40), a premium not paid within the agreed term
(at least 3, at most 30 calendar days after its due date) makes the contract's effects cease
automatically at 12:00 of the term's last day. With G grace days (PAYLINK_GRACE_DAYS, 3-30,
default 30), a receipt due on day V lapses at local 12:00 of V+G, in the insurer's zone.

What the agent reads of it, at a glance:
- "Cesa en 5 días" (calendar days from today to the lapse day), "Cesa en 1 día";
- "Cesa hoy a las 12:00" on the lapse day before noon (short: "Cesa hoy 12:00");
- "Cesó el 03/12/2026" from that instant on (short: "Cesó 03/12").

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pendulum

from paylink_tui.domain.dates import local_date, long_date, to_local, utc, zone
from paylink_tui.domain.lapse_words import (  # noqa: F401 - re-exported
    LAPSE_HOUR,
    LAPSED,
    LATER,
    SOON,
    SOON_DAYS,
    TODAY,
    lapse_words,
)

DEFAULT_GRACE_DAYS = 30
MIN_GRACE_DAYS = 3
MAX_GRACE_DAYS = 30


def lapse_instant(due_date: date, grace_days: int, tz: str) -> datetime:
    """The UTC instant the coverage of a receipt due on `due_date` ceases: local 12:00 of
    due date + G. ValueError for a G outside 3-30 (the law's bounds)."""
    if not MIN_GRACE_DAYS <= grace_days <= MAX_GRACE_DAYS:
        raise ValueError(f"los días de gracia van de {MIN_GRACE_DAYS} a {MAX_GRACE_DAYS}")
    day = due_date + timedelta(days=grace_days)
    return utc(pendulum.datetime(day.year, day.month, day.day, LAPSE_HOUR, tz=zone(tz)))


@dataclass(frozen=True)
class LapseClock:
    lapses_at: datetime  # UTC
    lapse_day: date  # local
    days_left: int  # local calendar days from today to the lapse day (negative: past)
    lapsed: bool
    urgency: str  # LAPSED | TODAY | SOON | LATER
    text: str  # "Cesa en 5 días", "Cesa hoy a las 12:00", "Cesó el 03/12/2026"
    short_text: str  # for a table column: "Cesa en 5 días", "Cesa hoy 12:00", "Cesó 03/12"


def lapse_clock(lapses_at: datetime, now: datetime, tz: str) -> LapseClock:
    """Where `now` stands against the lapse instant, in words."""
    day = local_date(lapses_at, tz)
    text, short, urgency, days_left, lapsed = lapse_words(day, to_local(now, tz))
    return LapseClock(utc(lapses_at), day, days_left, lapsed, urgency, text, short)


def lapse_warning(*, lapses_at: datetime, receipt: str, valid_through: date,
                  expires_at: datetime, now: datetime, tz: str) -> str | None:
    """The link dialog's warning when a link would still be payable after the lapse instant
    of its earliest receipt (a payment after it does not by itself restore the coverage);
    None when the link expires first."""
    if utc(expires_at) <= utc(lapses_at):
        return None
    when = f"el {long_date(local_date(lapses_at, tz))} a las 12:00"
    if utc(now) >= utc(lapses_at):
        return (f"La póliza cesó {when} por falta de pago del recibo {receipt}: un pago con "
                "esta liga no restablece por sí solo la cobertura.")
    return (f"La póliza cesa {when} si el recibo {receipt} no se paga, y esta liga se puede "
            f"pagar hasta el {long_date(valid_through)}: un pago después del cese no "
            "restablece por sí solo la cobertura.")
