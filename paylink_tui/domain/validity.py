"""The validity window of a payment link.

D is the insurer-local calendar date on which the link was generated.
- valid through the end of local day D+3: expires at local 00:00 of D+4;
- hides its receipts from the pending list until local 00:00 of D+5;
- MIT's `fh_vigencia` is D+3 as dd/MM/yyyy.
Days are calendar days in the insurer's zone, so a DST change never shifts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pendulum

from paylink_tui.domain.dates import local_date, utc, zone

VALID_DAYS = 3
HIDDEN_DAYS = 5


@dataclass(frozen=True)
class LinkWindow:
    generated_on: date  # D, local
    last_valid_day: date  # D+3, local
    expires_at: datetime  # UTC instant of local 00:00 D+4 (exclusive end)
    reappears_on: date  # D+5, local
    hidden_until: datetime  # UTC instant of local 00:00 D+5

    @property
    def fh_vigencia(self) -> str:
        return fh_vigencia(self.last_valid_day)


def _local_midnight_utc(d: date, tz: str) -> datetime:
    return utc(pendulum.datetime(d.year, d.month, d.day, tz=zone(tz)))


def link_window(created_at: datetime, tz: str) -> LinkWindow:
    d = local_date(created_at, tz)
    last = d + timedelta(days=VALID_DAYS)
    reappears = d + timedelta(days=HIDDEN_DAYS)
    return LinkWindow(
        generated_on=d,
        last_valid_day=last,
        expires_at=_local_midnight_utc(last + timedelta(days=1), tz),
        reappears_on=reappears,
        hidden_until=_local_midnight_utc(reappears, tz),
    )


def fh_vigencia(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return utc(now) >= utc(expires_at)


def taken_in_time(taken_at: datetime, expires_at: datetime) -> bool:
    """A payment counts by when MIT took it: before the link's exclusive end."""
    return utc(taken_at) < utc(expires_at)


# MIT's clock and ours differ by seconds, sometimes a minute or two: a payment this close to
# the link's creation is not called impossible.
CLOCK_TOLERANCE = timedelta(minutes=5)


def taken_before(taken_at: datetime, created_at: datetime) -> bool:
    """A payment MIT says it took before the link existed (beyond the clocks' difference):
    impossible for that link, so never applied without a person."""
    return utc(taken_at) < utc(created_at) - CLOCK_TOLERANCE
