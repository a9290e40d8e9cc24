"""Column types: UTC instants that come back aware, exact money."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Integer, Numeric
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from paylink_tui.domain.money import CENT, from_cents, to_cents


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


class Money(TypeDecorator):
    """Exact money: binds a Decimal (or an int), reads back a Decimal with two places.

    PostgreSQL keeps NUMERIC(12, 2). SQLite has no decimal type: SQLAlchemy would bind a
    Decimal as a binary float and SQLite would keep a REAL, so there the value is whole cents
    in an INTEGER (migration 0002 converted the older REAL values). An amount that is not a
    whole number of cents, or does not fit NUMERIC(12, 2), raises ValueError on both
    engines: it is never rounded.
    """

    impl = Numeric(12, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):  # type: ignore[no-untyped-def]
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: Decimal | int | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        cents = to_cents(value)
        return cents if dialect.name == "sqlite" else from_cents(cents)

    def process_result_value(self, value: Decimal | int | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_cents(value)  # type: ignore[arg-type]
        exact = value.quantize(CENT)  # type: ignore[union-attr]
        if exact != value:
            raise ValueError(f"not a whole number of cents: {value!r}")
        return exact

    def coerce_compared_value(self, op, value):  # type: ignore[no-untyped-def]
        # `amount > Decimal("100.00")` and `amount + Decimal("0.50")` bind the other side as
        # money (cents on SQLite). In `amount * 3` the 3 is a factor, not money: scaled to
        # cents it would multiply by 300. Any other factor or a division has no exact meaning
        # in whole cents (SQLite divides integers by truncating): do it in Python on Decimals.
        if op in (operators.mul, operators.truediv, operators.floordiv, operators.mod):
            if op is operators.mul and type(value) is int:
                return Integer()
            raise TypeError("in SQL, money can only be multiplied by an int; "
                            "compute anything else in Python with Decimal")
        return self


class _SumInCents(FunctionElement):  # type: ignore[type-arg]
    type = BigInteger()
    name = "sum_in_cents"
    inherit_cache = True


def sum_in_cents(column) -> _SumInCents:  # type: ignore[no-untyped-def]
    """SUM of a money column as whole cents (an integer), exact on every engine.

    SQLite stores cents already, and integers add exactly; PostgreSQL adds NUMERIC exactly
    and the total of two-place amounts times 100 is whole. Divide the result by 100 as a
    Decimal.
    """
    return _SumInCents(column)


@compiles(_SumInCents)
def _sum_in_cents(element, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    return f"CAST(SUM({compiler.process(element.clauses, **kw)}) * 100 AS BIGINT)"


@compiles(_SumInCents, "sqlite")
def _sum_in_cents_sqlite(element, compiler, **kw) -> str:  # type: ignore[no-untyped-def]
    return f"SUM({compiler.process(element.clauses, **kw)})"
