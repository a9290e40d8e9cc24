"""Money is exact: Decimal with two places, in MXN or USD."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # fits Numeric(12, 2)
_LIMIT = Decimal("1E10")  # the first amount that does not


class Currency(str, Enum):
    MXN = "MXN"
    USD = "USD"


class InvalidAmount(ValueError):
    """An amount that is not a positive number with at most two decimals."""


_AMOUNT_RE = re.compile(r"^\d{1,3}(,\d{3})*(\.\d{1,2})?$|^\d+(\.\d{1,2})?$")


def parse_amount(text: str) -> Decimal:
    """Parse `75.17`, `1,234.56` or `$1,234.56` into an exact Decimal.

    Raises InvalidAmount with a Spanish message for anything else (negative, empty,
    more than two decimals, letters).
    """
    raw = (text or "").strip()
    if not raw:
        raise InvalidAmount("el monto está vacío")
    cleaned = raw.replace(" ", "")
    if cleaned.startswith("-") or cleaned.startswith("$-") or cleaned.startswith("-$"):
        raise InvalidAmount("el monto no puede ser negativo")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:]
    if not _AMOUNT_RE.match(cleaned):
        raise InvalidAmount("el monto no es un número válido (ejemplos: 75.17, 1,234.56)")
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise InvalidAmount("el monto no es un número válido") from exc
    if value <= 0:
        raise InvalidAmount("el monto debe ser mayor que cero")
    if value > MAX_AMOUNT:
        raise InvalidAmount("el monto es demasiado grande")
    return value.quantize(CENT)


def quantize(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def format_amount(value: Decimal) -> str:
    """`1234.5` -> `1,234.50`."""
    return f"{quantize(value):,.2f}"


def format_money(value: Decimal, currency: str | Currency) -> str:
    """The insurer's display form: `$ 75.17 MXN`."""
    cur = currency.value if isinstance(currency, Currency) else str(currency)
    return f"$ {format_amount(value)} {cur}"


def mit_amount(value: Decimal) -> str:
    """MIT wants two decimals with a point and no thousands separator: `1234.50`."""
    return f"{quantize(value):.2f}"


def to_cents(value: Decimal | int) -> int:
    """An exact amount as whole cents: `Decimal("5906.07")` -> 590607.

    Never rounds: an amount that is not a whole number of cents (`Decimal("1.005")`), is not
    finite, or does not fit Numeric(12, 2) raises ValueError; a float, a string or a bool
    raises TypeError. `Decimal("1.500")` is 150: no digit is lost.
    """
    if type(value) is int:
        cents = value * 100
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"money must be a finite number, not {value}")
        if not -_LIMIT < value < _LIMIT:
            raise ValueError(f"{value} does not fit Numeric(12, 2) (at most {MAX_AMOUNT})")
        cents = int(value.scaleb(2))
        # Compared exactly (scaleb alone rounds to the context's 28 digits).
        if Decimal(cents).scaleb(-2) != value:
            raise ValueError(f"{value} has more than two decimal places: money is never rounded")
        return cents
    else:
        raise TypeError(f"money must be a Decimal or an int, not {type(value).__name__}")
    if not -_LIMIT < value < _LIMIT:
        raise ValueError(f"{value} does not fit Numeric(12, 2) (at most {MAX_AMOUNT})")
    return cents


def from_cents(cents: int) -> Decimal:
    """Whole cents as an exact amount with two places: 590607 -> `Decimal("5906.07")`.

    A float is taken only when it is a whole number (SQLite may hand one back from
    arithmetic); anything else raises ValueError rather than guess.
    """
    if type(cents) is not int:
        if isinstance(cents, float) and cents.is_integer():
            cents = int(cents)
        else:
            raise ValueError(f"not a whole number of cents: {cents!r}")
    return Decimal(cents).scaleb(-2)


def parse_currency(text: str | None) -> Currency:
    raw = (text or "").strip().upper()
    if not raw:
        return Currency.MXN
    try:
        return Currency(raw)
    except ValueError as exc:
        raise InvalidAmount(f"moneda desconocida «{text}» (use MXN o USD)") from exc
