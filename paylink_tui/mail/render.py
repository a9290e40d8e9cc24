"""Rendering the emails from Jinja2 templates (HTML + plain text + subject), es-MX: the
link, its reminder and the payment confirmation.

Templates are package data (`paylink_tui/mail/templates`); an operator overrides any of
them by putting a file with the same name in `settings.templates_dir` (a ChoiceLoader
looks there first). HTML is autoescaped, so names from the database such as
`<script>` or `Pérez & Hijos` are shown literally; text and subject templates are not
HTML and are not escaped (the subject is checked for control characters instead).

This module takes plain values, not database rows: `services.outbox` gathers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from paylink_tui.domain.dates import long_date, mit_datetime_text, short_date
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import offer_text, payment_text, plans_text
from paylink_tui.mail.errors import TemplateProblem
from paylink_tui.mail.message import check_header

LINK = "link"
REMINDER = "reminder"
CONFIRMATION = "confirmation"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ReceiptLine:
    """One receipt covered by a link, as shown in the email."""

    number: str
    amount: Decimal
    currency: str
    due_date: date | None = None

    @property
    def amount_text(self) -> str:
        return format_money(self.amount, self.currency)

    @property
    def due_text(self) -> str:
        return short_date(self.due_date) if self.due_date else ""


def environment(templates_dir: str | None = None) -> Environment:
    """The shipped templates (compiled once), or the operator's folder in front of them.

    With an override folder the environment is built per email, so a file the operator
    adds or edits takes effect at the next email without a restart (one email per link:
    the compile cost does not matter).
    """
    if not templates_dir:
        return _shipped_environment()
    return _make_environment(templates_dir)


@lru_cache(maxsize=1)
def _shipped_environment() -> Environment:
    return _make_environment(None)


def _make_environment(templates_dir: str | None) -> Environment:
    loaders: list[Any] = []
    if templates_dir:
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(PackageLoader("paylink_tui.mail", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        # HTML (and anything ending in .html.j2) is escaped; .txt parts are plain text.
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render_one(env: Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except TemplateNotFound:
        raise TemplateProblem(f"No se encontró la plantilla de correo «{name}».") from None
    except TemplateError as exc:
        raise TemplateProblem(
            f"La plantilla de correo «{name}» tiene un error: {exc.message or exc}."
        ) from None


def render(kind: str, context: dict[str, Any], templates_dir: Path | str | None = None) -> RenderedEmail:
    """`{kind}_subject.txt`, `{kind}.txt` and `{kind}.html` rendered with `context`."""
    env = environment(str(templates_dir) if templates_dir else None)
    # One line: the template's own final newline goes; any other line break or control
    # character (from the data or the template) is refused, never silently folded.
    subject = _render_one(env, f"{kind}_subject.txt", context).removesuffix("\n").strip(" ")
    check_header(subject, "subject")
    return RenderedEmail(
        subject=subject,
        text=_render_one(env, f"{kind}.txt", context),
        html=_render_one(env, f"{kind}.html", context),
    )


def signer(agent: str, company: str) -> str:
    """Who signs the link email: the agent's name when PAYLINK_AGENT reads as one ("Ana
    Torres", "Ana"), else the company (a login such as "agente" or "ana" signs nothing)."""
    name = (agent or "").strip()
    if name and (" " in name or name[0].isupper()):
        return name
    return company


def _link_context(*, holder_name: str, policy_number: str, receipts: Sequence[ReceiptLine],
                  amount: Decimal, currency: str, url: str, reference: str,
                  last_valid_day: date, agent_name: str, agent_email: str | None,
                  company: str, installment_plans: Sequence[int] = ()) -> dict[str, Any]:
    """What the link email and its reminder both show. `installment_plans`: the meses sin
    intereses the link offers besides the single payment."""
    return {
        "holder_name": holder_name,
        "policy_number": policy_number,
        "receipts": list(receipts),
        "amount": amount,
        "currency": currency,
        "amount_text": format_money(amount, currency),
        "url": url,
        "reference": reference,
        "last_valid_day": last_valid_day,
        "valid_until_text": long_date(last_valid_day),
        "agent_name": signer(agent_name, company),
        "agent_email": agent_email or "",
        "company": company,
        "installment_plans": sorted(set(installment_plans)),
        "installment_text": plans_text(installment_plans),
        "payment_options_text": offer_text(installment_plans),
    }


def render_link_email(*, templates_dir: Path | str | None = None, **values: Any) -> RenderedEmail:
    """The email that carries the payment link to the policy holder. `values`: holder_name,
    policy_number, receipts (ReceiptLine), amount, currency, url, reference, last_valid_day,
    agent_name, agent_email, company, installment_plans."""
    return render(LINK, _link_context(**values), templates_dir)


def render_reminder_email(*, today: date, templates_dir: Path | str | None = None,
                          **values: Any) -> RenderedEmail:
    """The reminder of a link still unpaid, sent on `today` (its last valid day by default):
    "vence hoy a las 23:59" that day, else the date. `values`: as for render_link_email."""
    from paylink_tui.domain.reminders import due_phrase

    context = _link_context(**values)
    context["due_phrase"] = due_phrase(context["last_valid_day"], today)
    context["last_day"] = context["last_valid_day"] == today
    return render(REMINDER, context, templates_dir)


def render_confirmation_email(
    *,
    holder_name: str,
    policy_number: str,
    company: str,
    reference: str,
    paid_at: datetime,
    tz: str,
    authorization: str,
    folio: str | None,
    amount: Decimal,
    currency: str,
    card_mask: str | None,
    card_type: str | None = None,
    installment_months: int | None = None,
    templates_dir: Path | str | None = None,
) -> RenderedEmail:
    """The payment confirmation ("Aprobado") sent to the payer. `installment_months`: the
    plan the payer chose (None: a single payment)."""
    context = {
        "holder_name": holder_name,
        "policy_number": policy_number,
        "company": company,
        "reference": reference,
        "paid_at": paid_at,
        "paid_at_text": mit_datetime_text(paid_at, tz),  # dd/mm/yy HH:MM:SS, local
        "authorization": authorization,
        "folio": folio or "",
        "amount": amount,
        "currency": currency,
        "amount_text": format_money(amount, currency),
        "card_mask": card_mask or "",
        "card_type": card_type or "",
        "installment_months": installment_months,
        "payment_form_text": payment_text(installment_months),
    }
    return render(CONFIRMATION, context, templates_dir)
