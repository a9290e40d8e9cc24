"""Column types: UTC instants that come back aware, exact money."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes.

    SQLite has no time zones, so values are written as naive UTC; PostgreSQL keeps
    `timestamp with time zone`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants must be timezone-aware")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def Money() -> Numeric:  # noqa: N802 - reads like a type
    return Numeric(12, 2, asdecimal=True)


def sum_in_cents(column):  # type: ignore[no-untyped-def]
    """SUM of a money column as whole cents, exact on every engine.

    SQLite keeps NUMERIC values as binary floats and adds them as floats: over a few
    thousand large amounts the total drifts by cents. Each amount is rounded to its cents
    first, and integers add exactly. Divide the result by 100 as a Decimal.
    """
    from sqlalchemy import BigInteger, cast, func

    return func.sum(cast(func.round(column * 100), BigInteger))
