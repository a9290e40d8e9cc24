"""Dates in the insurer's zone and in Spanish words."""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache

import pendulum

DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
MONTHS = ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre"]


def utc(dt: datetime) -> datetime:
    """Aware UTC datetime from an aware one; naive values are taken as UTC (as stored)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@lru_cache(maxsize=16)
def zone(tz: str) -> pendulum.Timezone:
    """The zone object, loaded once per process (it is read from the tz database)."""
    return pendulum.timezone(tz)  # type: ignore[return-value]


def to_local(dt: datetime, tz: str) -> pendulum.DateTime:
    return pendulum.instance(utc(dt)).in_timezone(zone(tz))


def local_date(dt: datetime, tz: str) -> date:
    return to_local(dt, tz).date()


def long_date(d: date) -> str:
    """`domingo 10 de octubre de 2021`."""
    return f"{DAYS[d.weekday()]} {d.day} de {MONTHS[d.month - 1]} de {d.year}"


def short_date(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def local_datetime_text(dt: datetime, tz: str) -> str:
    """`07/10/2021 16:04` in the insurer's zone."""
    return to_local(dt, tz).strftime("%d/%m/%Y %H:%M")


def mit_datetime_text(dt: datetime, tz: str) -> str:
    """MIT's receipt format, dd/mm/yy HH:MM:SS, in the insurer's zone."""
    return to_local(dt, tz).strftime("%d/%m/%y %H:%M:%S")


def parse_mit_datetime(date_text: str, time_text: str, tz: str) -> datetime:
    """MIT's `date` and `time` (HH:MM:SS), local to the insurer -> UTC instant.

    The date comes as dd/mm/yy (`05/09/22`) or dd/mm/yyyy (`29/09/2021`): MIT's own encrypted
    samples use both. ValueError for anything else."""
    text = date_text.strip()
    # Naive on purpose: these are wall-clock values in `tz`, made aware just below.
    pattern = "%d/%m/%Y" if len(text.rsplit("/", 1)[-1]) == 4 else "%d/%m/%y"
    d = datetime.strptime(text, pattern)  # noqa: DTZ007
    t = datetime.strptime(time_text.strip(), "%H:%M:%S")  # noqa: DTZ007
    local = pendulum.datetime(d.year, d.month, d.day, t.hour, t.minute, t.second, tz=zone(tz))
    return utc(local)


def parse_local_datetime(text: str, fmt: str, tz: str) -> datetime:
    """A wall-clock time in `tz` written as `fmt` (e.g. MIT's query: dd/mm/yyyy HH:MM) ->
    UTC instant. ValueError when it does not read."""
    # Naive on purpose: a wall-clock value in `tz`, made aware just below.
    t = datetime.strptime(text.strip(), fmt)  # noqa: DTZ007
    return utc(pendulum.datetime(t.year, t.month, t.day, t.hour, t.minute, t.second,
                                 tz=zone(tz)))
