"""Meses sin intereses: the installment plans of the merchant's MIT contract, and which of them
a link offers (docs: mit-webpay-plus.md "Months without interest", domain.md "Collecting more").

- `PAYLINK_MIT_PROMOTIONS` lists the plans the contract enables, each with the amount (MXN)
  from which MIT accepts it: `3:300,6:600,9:900,12:1200`. MIT publishes no minimums, and a
  plan below its minimum fails at payment time with error 08, so it is never offered.
- A link in MXN offers every enabled plan its amount reaches, unless the agent chose fewer;
  a USD link offers the single payment only.
- MIT's `promociones` always starts with `C`, the single payment: without it debit cards,
  which cannot pay in instalments, would be refused.
- The notification's `promocion` says what the client chose: `C` or the months.

Pure functions: the dialog asks which plans apply on every keystroke without waiting on
anything. Every word here is shown to the agent or the payer (es-MX).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from paylink_tui.domain.errors import PlanRefused
from paylink_tui.domain.money import format_money

SINGLE_PAYMENT = "C"
CURRENCY = "MXN"  # the only currency MIT offers instalments in
MAX_PROMOCIONES = 40  # MIT's XSD: promociones is at most 40 characters
MIN_MONTHS, MAX_MONTHS = 2, 99  # the XSD allows 1-99; "1 mes sin intereses" is no plan
SETTING = "PAYLINK_MIT_PROMOTIONS"

# MIT's XSD pattern for promociones.
_PROMOCIONES = re.compile(r"C|(C,)?([1-9][0-9]?)(,([1-9][0-9]?))*")
_ITEM = re.compile(r"(\d{1,3})\s*:\s*(\$?\s*\d{1,10}(?:\.\d{1,2})?)")
_MONTHS = re.compile(r"\d{1,2}")
EXAMPLE = "3:300,6:600,9:900,12:1200"


@dataclass(frozen=True, order=True)
class InstallmentPlan:
    """A plan of the contract: `months` monthly payments without interest, on a credit card,
    for amounts of `minimum` MXN or more."""

    months: int
    minimum: Decimal

    @property
    def label(self) -> str:
        return months_text(self.months)

    @property
    def minimum_text(self) -> str:
        return format_money(self.minimum, CURRENCY)

    def reached_by(self, amount: Decimal) -> bool:
        return amount >= self.minimum


# -- the setting -----------------------------------------------------------------------------


def parse_promotions(text: str | None) -> tuple[InstallmentPlan, ...]:
    """`3:300,6:600` -> the plans, by months. Empty or None: no plans (single payment only).

    ValueError with a Spanish reason that quotes the offending item (settings say which
    setting)."""
    text = (text or "").strip()
    if not text:
        return ()
    plans: dict[int, InstallmentPlan] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ValueError(f"sobra una coma o falta un plan (use la forma {EXAMPLE})")
        match = _ITEM.fullmatch(item)
        if match is None and plans and re.fullmatch(r"\d{3}(\.\d{1,2})?", item):
            raise ValueError(f"«{_shown(item)}» no es un plan: escriba los mínimos sin comas de "
                             f"miles (por ejemplo 12:1200)")
        if match is None:
            raise ValueError(f"«{_shown(item)}» no tiene la forma MESES:MÍNIMO "
                             f"(por ejemplo {EXAMPLE})")
        months = int(match.group(1))
        if not MIN_MONTHS <= months <= MAX_MONTHS:
            raise ValueError(f"«{_shown(item)}»: los meses van de {MIN_MONTHS} a {MAX_MONTHS}")
        try:
            minimum = Decimal(match.group(2).lstrip("$").strip()).quantize(Decimal("0.01"))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise ValueError(f"«{_shown(item)}»: el mínimo no es un monto") from None
        if months in plans:
            raise ValueError(f"el plan de {months} meses aparece dos veces")
        plans[months] = InstallmentPlan(months, minimum)
    ordered = tuple(sorted(plans.values()))
    if len(promociones(p.months for p in ordered)) > MAX_PROMOCIONES:
        raise ValueError(f"demasiados planes: MIT admite a lo sumo {MAX_PROMOCIONES} "
                         "caracteres en «promociones»")
    return ordered


def _shown(item: str) -> str:
    return item if len(item) <= 30 else item[:29] + "…"


# -- what a link offers ------------------------------------------------------------------------


def applicable_plans(amount: Decimal, currency: str,
                     enabled: Sequence[InstallmentPlan]) -> tuple[InstallmentPlan, ...]:
    """The enabled plans a link of `amount` can offer: MXN only, from each plan's minimum."""
    if currency != CURRENCY:
        return ()
    return tuple(p for p in enabled if p.reached_by(amount))


def choose_plans(requested: Sequence[int] | None, amount: Decimal, currency: str,
                 enabled: Sequence[InstallmentPlan]) -> tuple[int, ...]:
    """The months a link offers. `requested` None: every plan that applies; empty: single
    payment only; else exactly those, each enabled and reached by the amount, or PlanRefused
    naming every plan refused and why (before anything is sent to MIT)."""
    if requested is None:
        return tuple(p.months for p in applicable_plans(amount, currency, enabled))
    wanted = sorted(set(requested))
    if not wanted:
        return ()
    if currency != CURRENCY:
        raise PlanRefused(
            f"No se generó la liga: es en {currency}, y los meses sin intereses solo se "
            "ofrecen en ligas en pesos (MXN). Genérela para pago en una sola exhibición.",
            months=wanted[0])
    by_months = {p.months: p for p in enabled}
    refused: list[tuple[int, Decimal | None, str]] = []
    for months in wanted:
        plan = by_months.get(months)
        if plan is None:
            refused.append((months, None, f"el plan de {months_text(months)} no está "
                                          f"habilitado ({enabled_text(enabled)})"))
        elif not plan.reached_by(amount):
            refused.append((months, plan.minimum,
                            f"el plan de {months_text(months)} requiere un monto mínimo de "
                            f"{plan.minimum_text} y la liga es por "
                            f"{format_money(amount, currency)}"))
    if refused:
        months, minimum, _ = refused[0]
        raise PlanRefused("No se generó la liga: " + "; ".join(r[2] for r in refused) + ".",
                          months=months, minimum=minimum)
    return tuple(wanted)


def enabled_text(enabled: Sequence[InstallmentPlan]) -> str:
    if not enabled:
        return f"no hay planes configurados en {SETTING}"
    items = [f"{p.months} meses desde {p.minimum_text}" for p in enabled]
    return f"{SETTING} habilita: " + ", ".join(items)


def parse_msi_option(text: str) -> tuple[int, ...]:
    """`--msi`: `no` (single payment only) or months separated by commas (`3,6`).
    ValueError with the Spanish reason."""
    value = (text or "").strip().lower()
    if value == "no":
        return ()
    months = []
    for raw in value.split(","):
        item = raw.strip()
        if not _MONTHS.fullmatch(item) or not MIN_MONTHS <= int(item) <= MAX_MONTHS:
            raise ValueError(f"«{_shown(raw.strip())}» no es un plan: use «no» o los meses "
                             "separados por comas, p. ej. --msi 3,6")
        months.append(int(item))
    return tuple(sorted(set(months)))


# -- MIT's promociones and promocion ----------------------------------------------------------


def promociones(months: Iterable[int]) -> str:
    """MIT's `promociones` for these months: `C`, or `C,3,6`: the single payment first."""
    return ",".join([SINGLE_PAYMENT, *(str(m) for m in sorted(set(months)))])


def read_promociones(text: str | None) -> tuple[int, ...]:
    """The months in a `promociones` value (`C,3,6` -> (3, 6)); None or `C`: none.
    ValueError when it does not follow MIT's pattern."""
    text = (text or "").strip() or SINGLE_PAYMENT
    if len(text) > MAX_PROMOCIONES or not _PROMOCIONES.fullmatch(text):
        raise ValueError("promociones does not follow MIT's pattern")
    return tuple(sorted({int(x) for x in text.split(",") if x != SINGLE_PAYMENT}))


def offered_months(stored: str | None) -> tuple[int, ...]:
    """The months a stored `promociones` offers, for display: a value we did not write reads
    as the single payment (which it most likely was) instead of failing the screen."""
    try:
        return read_promociones(stored)
    except ValueError:
        return ()


def installment_months(promocion: str | None) -> int | None:
    """The months of the plan a notification says the client chose; None for the single
    payment (`C`), an empty value, or anything that is not a number of months."""
    text = (promocion or "").strip()
    if _MONTHS.fullmatch(text) and int(text) >= 1:
        return int(text)
    return None


# -- words -------------------------------------------------------------------------------------


def months_text(months: int) -> str:
    """`6 meses sin intereses`."""
    return f"{months} mes sin intereses" if months == 1 else f"{months} meses sin intereses"


def plans_text(months: Sequence[int]) -> str:
    """`3, 6 o 12 meses sin intereses`; empty for none."""
    months = sorted(set(months))
    if not months:
        return ""
    numbers = [str(m) for m in months]
    joined = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " o " + numbers[-1]
    return f"{joined} {'mes' if months == [1] else 'meses'} sin intereses"


def payment_text(months: int | None) -> str:
    """How a payment was made: `6 meses sin intereses` or `una sola exhibición`."""
    return months_text(months) if months else "una sola exhibición"


def payment_options(months: Sequence[int]) -> str:
    """What a link offers, for the agent: `una sola exhibición o 3 o 6 meses sin intereses`."""
    if not months:
        return "una sola exhibición"
    return f"una sola exhibición o {plans_text(months)}"


def offer_text(months: Sequence[int]) -> str:
    """What a link offers, for the client: the single payment, and the plans if any."""
    if not months:
        return "Pago en una sola exhibición."
    return (f"Puede pagar en una sola exhibición o a {plans_text(months)} con tarjeta de "
            "crédito.")
