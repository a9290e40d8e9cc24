"""Card rules of the sandbox payment form: validation and the outcome of each test card.

Only the mask (first 6 + XXXXXX + last 4) and the last 4 digits ever leave this module."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

APPROVE = "4111111111111111"
DENY = "4000000000000002"
FAIL = "4000000000000119"

TEST_CARDS = (
    ("4111 1111 1111 1111", "Aprobada"),
    ("4000 0000 0000 0002", "Rechazada por el banco"),
    ("4000 0000 0000 0119", "Error de comunicación"),
    ("Cualquier otra tarjeta válida", "Aprobada"),
)

_EXPIRY = re.compile(r"^(\d{2})\s*/\s*(\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def digits(card: str) -> str:
    return re.sub(r"[\s-]", "", card or "")


def luhn_ok(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask(number: str) -> str:
    return f"{number[:6]}XXXXXX{number[-4:]}"


def brand(number: str) -> str:
    if number.startswith("4"):
        return "Visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "Mastercard"
    if number[:2] in {"34", "37"}:
        return "American Express"
    return "Visa"


@dataclass(frozen=True)
class Outcome:
    response: str  # approved | denied | error
    cd_response: str
    cd_error: str
    nb_error: str


def outcome_for(number: str) -> Outcome:
    if number == DENY:
        return Outcome("denied", "05", "05",
                       "Transacción rechazada por el banco emisor. Intente con otra tarjeta.")
    if number == FAIL:
        return Outcome("error", "", "18",
                       "Sin comunicación con el banco emisor. Intente más tarde.")
    return Outcome("approved", "0C", "", "")


def validate_form(form: dict[str, str], today: date) -> dict[str, str]:
    """Field name -> Spanish message, for every field that is wrong."""
    errors: dict[str, str] = {}
    if not form.get("nombre", "").strip():
        errors["nombre"] = "Escriba el nombre como aparece en la tarjeta."
    if not form.get("apellido_paterno", "").strip():
        errors["apellido_paterno"] = "Escriba el apellido paterno."
    number = digits(form.get("tarjeta", ""))
    if not number:
        errors["tarjeta"] = "Escriba el número de tarjeta."
    elif not number.isdigit() or not 13 <= len(number) <= 19:
        errors["tarjeta"] = "El número de tarjeta debe tener de 13 a 19 dígitos."
    elif not luhn_ok(number):
        errors["tarjeta"] = "El número de tarjeta no es válido; revíselo."
    expiry = form.get("expira", "").strip()
    match = _EXPIRY.match(expiry)
    if not expiry:
        errors["expira"] = "Escriba la fecha de vencimiento (MM/AA)."
    elif not match or not 1 <= int(match.group(1)) <= 12:
        errors["expira"] = "Use el formato MM/AA, por ejemplo 08/29."
    else:
        month, year = int(match.group(1)), 2000 + int(match.group(2))
        if (year, month) < (today.year, today.month):
            errors["expira"] = "La tarjeta está vencida."
    cvv = form.get("cvv", "").strip()
    if not re.fullmatch(r"\d{3,4}", cvv):
        errors["cvv"] = "El CVV son 3 o 4 dígitos (al reverso de la tarjeta)."
    email = form.get("correo", "").strip()
    if not email:
        errors["correo"] = "Escriba su correo electrónico para recibir el comprobante."
    elif len(email) > 50 or not _EMAIL.match(email):
        errors["correo"] = "El correo electrónico no es válido."
    if form.get("terminos") not in ("on", "1", "true", "si"):
        errors["terminos"] = "Debe aceptar los Términos y condiciones para pagar."
    return errors
