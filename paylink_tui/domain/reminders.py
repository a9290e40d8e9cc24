"""When a reminder for an unpaid link is due (domain.md, "Collecting more: Reminders").

- A link generated on local day D gets a reminder on each day D+k for k in
  PAYLINK_REMINDER_DAYS (default `3`, the link's last valid day; empty: none), from
  PAYLINK_REMINDER_HOUR (default 9) local, and never outside 07:00-22:00 local (the hours
  Mexican rules allow for collection contact).
- At most one per link per day; none once the link is paid, cancelled or expired, none when
  its link email was never delivered, none for a link marked "sin recordatorios" (those are
  the service's checks, services/reminders.py).
- A reminder is only sent on its own day, before 22:00 (and before the link expires): one
  that the mail server kept refusing until then is recorded as not sent, never sent late.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pendulum

from paylink_tui.domain.dates import long_date, to_local, utc, zone
from paylink_tui.domain.validity import VALID_DAYS

CONTACT_START_HOUR = 7  # 07:00 local: the first minute a client may be contacted
CONTACT_END_HOUR = 22  # 22:00 local: the first minute a client may no longer be contacted


def parse_reminder_days(text: str) -> tuple[int, ...]:
    """`"1,3"` -> (1, 3); `""` -> (). ValueError (Spanish) for anything else.

    The days count after D, the link's day, while the link is valid: 1 to 3."""
    items = [part.strip() for part in (text or "").split(",")]
    if items == [""]:
        return ()
    days: set[int] = set()
    for item in items:
        if not item.isdigit() or not 1 <= int(item) <= VALID_DAYS:
            raise ValueError(
                f"«{item}» no es un día válido: use días después del de la liga, de 1 a "
                f"{VALID_DAYS}, separados por comas (p. ej. 1,3); vacío: sin recordatorios")
        days.add(int(item))
    return tuple(sorted(days))


def reminder_last_valid_days(today: date, offsets: tuple[int, ...]) -> list[date]:
    """The last valid days (D+3) of the links whose reminder day is `today`."""
    return [today + timedelta(days=VALID_DAYS - k) for k in offsets]


def in_contact_hours(now: datetime, tz: str, start_hour: int = CONTACT_START_HOUR) -> bool:
    """Whether a client may be contacted now: from `start_hour` (at least 07:00) to 22:00."""
    local = to_local(now, tz)
    return max(start_hour, CONTACT_START_HOUR) <= local.hour < CONTACT_END_HOUR


def send_before(day: date, tz: str, expires_at: datetime) -> datetime:
    """The UTC instant after which a reminder for `day` must not go out: 22:00 local of that
    day, or the link's expiry if sooner."""
    end = utc(pendulum.datetime(day.year, day.month, day.day, CONTACT_END_HOUR, tz=zone(tz)))
    return min(end, utc(expires_at))


def due_phrase(last_valid_day: date, today: date) -> str:
    """What the reminder says of the deadline: "vence hoy a las 23:59" on the last valid day,
    else "vence el domingo 10 de octubre de 2021" (the link is valid through that day)."""
    if last_valid_day == today:
        return "vence hoy a las 23:59"
    return f"vence el {long_date(last_valid_day)} a las 23:59"


def upcoming_reminder_days(link_day: date, offsets: tuple[int, ...], local_now: datetime,
                           done: set[date]) -> list[date]:
    """The days still ahead on which an unpaid link made on local day `link_day` gets a
    reminder (`done`: the days that already have one), for the link's detail: a day counts
    while its contact hours have not ended."""
    today = local_now.date()
    ahead = []
    for k in offsets:
        day = link_day + timedelta(days=k)
        if day in done or day < today or (day == today and local_now.hour >= CONTACT_END_HOUR):
            continue
        ahead.append(day)
    return ahead
