"""Meses sin intereses in the sandbox, the way MIT applies a merchant's contract (docs:
mit-webpay-plus.md, "Months without interest").

The sandbox is given the contract's plans with their minimums (the same `months:minimum`
table as PAYLINK_MIT_PROMOTIONS; the demo passes the agency's). Then:
- `/gen` reads `promociones` (MIT's XSD pattern, at most 40 characters; absent means `C`):
  a malformed value, or a plan the contract does not enable, is refused;
- the payment page offers the single payment and every plan of the link, and the payer
  chooses one (`promocion` in the form; `C` when none was chosen);
- a plan whose minimum the amount does not reach is answered like MIT does, with error 08
  ("El importe es menor al permitido para la promoción a meses seleccionada"): the link
  stays unpaid and the payer may choose another way to pay;
- the notification carries `<promocion>`: `C` or the months.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from paylink_tui.domain.promotions import (
    SINGLE_PAYMENT,
    InstallmentPlan,
    months_text,
    read_promociones,
)
from paylink_tui.gateway.messages import text_of
from paylink_tui.gateway.sandbox.cards import Outcome

ERROR_08 = Outcome(
    "error", "", "08", "El importe es menor al permitido para la promoción a meses seleccionada.")
SINGLE_PAYMENT_LABEL = "Una sola exhibición"


def minimums(plans: Iterable[InstallmentPlan]) -> dict[int, Decimal]:
    """The contract's table: months -> minimum amount."""
    return {p.months: p.minimum for p in plans}


def request_plans(url: object, table: Mapping[int, Decimal]) -> tuple[int, ...]:
    """The months a generation request offers (its `<url>` element). ValueError with an
    MIT-like message when promociones is malformed or names a plan the contract lacks."""
    text = text_of(url, "promociones")  # type: ignore[arg-type]
    try:
        months = read_promociones(text)
    except ValueError:
        raise ValueError("El elemento promociones es incorrecto.") from None
    missing = [m for m in months if m not in table]
    if missing:
        raise ValueError(f"La promoción a {missing[0]} meses no está habilitada para el "
                         "comercio.")
    return months


def choices(plans: Iterable[int]) -> list[tuple[str, str]]:
    """(value, label) of each way to pay the page offers: the single payment first."""
    return [(SINGLE_PAYMENT, SINGLE_PAYMENT_LABEL), *((str(m), months_text(m)) for m in plans)]


def chosen(form: Mapping[str, str], plans: Iterable[int]) -> tuple[str, dict[str, str]]:
    """The payer's choice (`C` or the months) and the form error when it is not one the link
    offers."""
    value = (form.get("promocion") or "").strip() or SINGLE_PAYMENT
    if value not in {v for v, _ in choices(plans)}:
        return SINGLE_PAYMENT, {"promocion": "Elija una de las formas de pago de la lista."}
    return value, {}


def outcome(card: Outcome, amount: Decimal, promocion: str,
            table: Mapping[int, Decimal]) -> Outcome:
    """What MIT answers: error 08 for a plan the amount does not reach (checked before the
    card goes to the bank), else the card's own outcome."""
    if promocion != SINGLE_PAYMENT:
        minimum = table.get(int(promocion))
        if minimum is None or amount < minimum:
            return ERROR_08
    return card
