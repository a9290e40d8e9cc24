"""The insurer's file, one field at a time: numbers, email addresses, amounts and due dates,
each accepted in the shapes an export has or refused with a Spanish reason (importer/rows.py
puts them together into rows)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from paylink_tui.domain import address
from paylink_tui.domain.money import CENT, InvalidAmount, parse_amount
from paylink_tui.domain.results import RowError

MAX_NUMBER_LEN = 40  # policy and receipt numbers

_NUMBER_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z./\-_]*$")
_DMY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")


class _Rejected(ValueError):
    pass


def _number_problem(value: str, what: str) -> str | None:
    if not value:
        return "el campo es obligatorio y está vacío"
    if len(value) > MAX_NUMBER_LEN:
        return f"{what} admite a lo más {MAX_NUMBER_LEN} caracteres"
    if not _NUMBER_RE.match(value):
        return f"{what} solo admite letras, dígitos, «-», «/», «.» y «_», sin espacios"
    return None


_ASCII_LOCAL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """The normalized domain, validated once: a file repeats a handful of domains."""
    return address.validated(f"x@{domain}").domain


def normalize_email(value: str) -> str:
    """The address as domain/address.py normalises it: the one rule of every entry point
    and of the mail step, so an imported address is one the link email can go to.

    The common plain-ASCII local part is checked here and only the domain goes through the
    validator (cached); anything else takes the rule's full path, with its reason.
    """
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and len(value) <= 254 and _ASCII_LOCAL_RE.match(local):
        try:
            return f"{local}@{_email_domain(domain)}"
        except address.AddressRefused:
            pass  # the full path says why
    try:
        return address.normalized(value)
    except address.AddressRefused as exc:
        raise _Rejected(f"el correo electrónico no es válido: {exc.reason}") from None


def _amount(
    line: int, values: list[object], index: int, text: str, errors: list[RowError]
) -> Decimal | None:
    raw = values[index] if index < len(values) else None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        # A numeric XLSX cell: Excel keeps binary floats; accept only what shows as cents.
        exact = Decimal(repr(raw))
        cents = exact.quantize(CENT)
        if abs(exact - cents) > Decimal("0.000001"):
            errors.append(RowError(line, "monto", text, "el monto tiene más de dos decimales"))
            return None
        text = f"{cents:f}"
    try:
        return parse_amount(text)
    except (InvalidAmount, InvalidOperation) as exc:
        errors.append(RowError(line, "monto", text, str(exc)))
        return None


def _due_date(
    line: int, values: list[object], index: int, text: str, errors: list[RowError]
) -> date | None:
    raw = values[index] if index < len(values) else None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if not text:
        errors.append(RowError(line, "vencimiento", text, "el campo es obligatorio y está vacío"))
        return None
    if len(text) == 10 and text[2] == "/" and text[5] == "/" and text.replace("/", "").isdigit():
        try:  # the usual dd/mm/yyyy, without the regex
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
        except ValueError:
            errors.append(RowError(line, "vencimiento", text,
                                   "la fecha no existe en el calendario"))
            return None
    m = _DMY_RE.match(text)
    if m:
        day, month, year = (int(g) for g in m.groups())
    else:
        m = _ISO_RE.match(text)
        if not m:
            errors.append(RowError(
                line, "vencimiento", text, "la fecha debe ser dd/mm/aaaa o aaaa-mm-dd"
            ))
            return None
        year, month, day = (int(g) for g in m.groups())
    try:
        return date(year, month, day)
    except ValueError:
        errors.append(RowError(line, "vencimiento", text, "la fecha no existe en el calendario"))
        return None
