"""One link: its facts, receipts, emails, payment attempts, notifications and timeline."""

from __future__ import annotations

from datetime import date
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Header, Static

from paylink_tui.domain.dates import local_date, local_datetime_text, long_date, short_date, to_local
from paylink_tui.domain.labels import ATTEMPT, LINK, REVIEW_REASON, notification_label
from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import months_text, payment_options, payment_text
from paylink_tui.domain.status import AttemptResult, LinkStatus, ReviewReason
from paylink_tui.ui import texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.screens.history import email_label
from paylink_tui.ui.screens.link_actions import LinkActionDone, LinkActionsMixin
from paylink_tui.ui.widgets.footer import AppFooter


class LinkDetailScreen(LinkActionsMixin):
    CSS_PATH = ["../styles/link_detail.tcss"]
    TITLE = "Detalle de la liga"

    BINDINGS = [
        Binding("escape", "back", "Volver", id="detail.back"),
        Binding("r", "resend", "Reenviar correo", id="detail.resend"),
        Binding("x", "cancel_link", "Cancelar liga", id="detail.cancel"),
        Binding("t", "retry_link", "Reintentar con MIT", id="detail.retry"),
        Binding("c", "copy_link", "Copiar liga", id="detail.copy"),
        # w and s: not in the footer (no room below 200 columns); the body says them where
        # they apply (the WhatsApp line, the reminders section).
        Binding("w", "copy_whatsapp", "Copiar WhatsApp", id="detail.whatsapp", show=False,
                tooltip="Copiar la dirección de WhatsApp con el mensaje (no se envía nada)"),
        # "Sin recordatorios" and back: the footer names what the key would do.
        Binding("s", "reminders(False)", "Sin recordatorios", id="detail.reminders_off", show=False,
                tooltip="Marcar la liga «sin recordatorios»: no se envían más al cliente"),
        Binding("s", "reminders(True)", "Con recordatorios", id="detail.reminders_on", show=False,
                tooltip="Volver a enviar los recordatorios de esta liga"),
        # The same keys where they do not apply (hidden from the footer): they say why.
        Binding("r", "resend_why", "Reenviar correo", show=False, id="detail.resend_why"),
        Binding("x", "cancel_why", "Cancelar liga", show=False, id="detail.cancel_why"),
        Binding("t", "retry_why", "Reintentar con MIT", show=False, id="detail.retry_why"),
        Binding("s", "reminders_why", "Recordatorios", show=False, id="detail.reminders_why"),
    ]

    class _Loaded(Message):
        def __init__(self, detail: Any | None, error: str | None) -> None:
            super().__init__()
            self.detail = detail
            self.error = error

    def __init__(self, reference: str) -> None:
        super().__init__()
        self.reference = reference
        self.detail: Any | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="ld-scroll"):
            yield Static(Text(f"Liga {self.reference}"), id="ld-title")
            yield Static(Text("Cargando…", style="italic"), id="ld-body")
        yield AppFooter()

    def on_mount(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load(self.reference)

    @work(thread=True, exclusive=True, group="link-detail", exit_on_error=False)
    def _load(self, reference: str) -> None:
        try:
            detail = self.app.backend.link_detail(reference)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(self._Loaded(None, agent_message(exc, "leer la liga")))
            return
        self.post_message(self._Loaded(detail, None))

    @on(_Loaded)
    def _loaded(self, event: _Loaded) -> None:
        body = self.query_one("#ld-body", Static)
        if event.error is not None:
            body.update(Text(event.error, style="bold"))
            return
        if event.detail is None:
            body.update(Text(texts.link_not_found(self.reference), style="bold"))
            return
        self.detail = event.detail
        tz = self.app.timezone  # type: ignore[attr-defined]
        now = self.app.now()  # type: ignore[attr-defined]
        body.update(render_link_detail(event.detail, tz, local_date(now, tz),
                                       reminders=reminders_section(event.detail, self.app.identity,  # type: ignore[attr-defined]
                                                                   to_local(now, tz))))
        self.refresh_bindings()

    def selected_link(self) -> Any | None:
        return self.detail.link if self.detail is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        link = self.selected_link()
        live = (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value)
        if action in ("resend", "cancel_link"):
            return link is not None and link.status in live
        if action == "retry_link":
            return link is not None and link.status == LinkStatus.PENDING_CONFIRMATION.value
        if action in ("resend_why", "cancel_why", "retry_why"):
            return link is not None
        if action == "copy_whatsapp":
            return self.detail is not None and bool(self.detail.whatsapp_url)
        if action == "reminders":
            return (link is not None and link.status == LinkStatus.ACTIVE.value
                    and bool(parameters[0]) == link.reminders_off)
        if action == "reminders_why":
            return link is not None and link.status != LinkStatus.ACTIVE.value
        return True

    # --- WhatsApp: copied, or shown to select; nothing is sent ------------------------------

    def action_copy_whatsapp(self) -> None:
        address = self.detail.whatsapp_url if self.detail is not None else None
        if not address:
            self.app.notify(texts.NO_WHATSAPP, markup=False)
            return
        self.app.copy_to_clipboard(address)  # the terminal's way (OSC 52), unconfirmed
        self._copy_whatsapp(address)

    @work(thread=True, group="link-copy", exit_on_error=False)
    def _copy_whatsapp(self, address: str) -> None:
        from paylink_tui.ui.clipboard import copy_known

        self.post_message(self._WhatsappCopied(address, copy_known(address)))

    class _WhatsappCopied(Message):
        def __init__(self, address: str, known: bool) -> None:
            super().__init__()
            self.address = address
            self.known = known

    @on(_WhatsappCopied)
    def _whatsapp_copied(self, event: _WhatsappCopied) -> None:
        from paylink_tui.ui.screens.whatsapp import WhatsAppDialog

        if event.known:
            self.app.notify(texts.WHATSAPP_COPIED, markup=False, timeout=5)
        else:  # shown whole, to select by hand
            self.app.push_screen(WhatsAppDialog(event.address))

    # --- "sin recordatorios" ------------------------------------------------------------------

    def action_reminders(self, enabled: bool) -> None:
        link = self.selected_link()
        if link is not None:
            self._set_reminders(link.reference, enabled)

    def action_reminders_why(self) -> None:
        # A paid, cancelled or expired link: the backend's own refusal says why.
        link = self.selected_link()
        if link is not None:
            self._set_reminders(link.reference, link.reminders_off)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _set_reminders(self, reference: str, enabled: bool) -> None:
        try:
            self.app.backend.set_link_reminders(reference, enabled=enabled)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(LinkActionDone(agent_message(exc, "cambiar los recordatorios"),
                                             warning=True, quiet=True))
            return
        self.post_message(LinkActionDone(texts.reminders_set(reference, enabled)))

    def action_back(self) -> None:
        self.app.pop_screen()

    # Each explains why the action does not apply to this link (link_actions.py).
    def action_resend_why(self) -> None:
        self.action_resend()

    def action_cancel_why(self) -> None:
        self.action_cancel_link()

    def action_retry_why(self) -> None:
        self.action_retry_link()


# The kinds of email a link sends, as the agent calls them.
EMAIL_KIND = {"link": "Liga", "confirmation": "Confirmación", "reminder": "Recordatorio"}


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold")


def reminders_section(d: Any, identity: Any, local_now: Any) -> list[Text]:
    """The reminders sent (the agent's proof of contact) and those still due, or why none."""
    from paylink_tui.domain.labels import REMINDER
    from paylink_tui.domain.reminders import upcoming_reminder_days
    from paylink_tui.domain.status import ReminderStatus

    link = d.link
    tz = identity.timezone
    lines: list[Text] = []
    for r in link.reminders:
        when = local_datetime_text(r.sent_at, tz) if r.sent_at else long_date(r.day)
        line = Text.assemble("  ", (when, "dim"), "  a ", r.to, "  ",
                             (REMINDER[ReminderStatus(r.status)], "bold"))
        lines.append(line)
        if r.error and r.status != ReminderStatus.SENT.value:
            lines.append(Text.assemble("    ", ("Último error: ", "dim"), r.error))
    live = link.status == LinkStatus.ACTIVE.value
    if link.reminders_off:
        lines.append(Text(texts.REMINDERS_OFF_LINE if live else texts.REMINDERS_OFF_CLOSED,
                          style="bold"))
    elif live:
        done = {r.day for r in link.reminders}
        link_day = local_date(link.created_at, tz)
        ahead = upcoming_reminder_days(link_day, tuple(identity.reminder_days), local_now, done)
        if ahead:
            lines.append(Text(texts.reminders_due(ahead, identity.reminder_hour, link.email)))
        elif not link.reminders:
            lines.append(Text(texts.NO_REMINDERS_LEFT if identity.reminder_days
                              else texts.NO_REMINDERS_SET, style="dim"))
    elif not link.reminders:
        lines.append(Text("  Ninguno.", style="dim"))
    return lines


def render_link_detail(d: Any, tz: str, today: date | None = None,
                       reminders: list[Text] | None = None) -> Group:
    link = d.link
    today = today or date.min
    parts: list[Any] = []
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row("Estado", Text(LINK[LinkStatus(link.status)], style="bold"))
    for flag in link.flags:  # right under the status: the client may be charged twice
        facts.add_row(Text("Revisión", style="bold red"), Text(texts.flag_text(link, flag), style="bold"))
    facts.add_row("Póliza", Text(link.policy))
    facts.add_row("Contratante", Text(link.holder))
    facts.add_row("Monto", Text(format_money(link.amount, link.currency), style="bold"))
    if link.paid_amount is not None and link.paid_amount != link.amount:
        facts.add_row(Text("MIT cobró", style="bold red"),
                      Text(format_money(link.paid_amount, link.currency), style="bold"))
    facts.add_row("Enviada a", Text(link.email))
    generated_for = getattr(d, "generated_for", None)
    if generated_for and generated_for != link.email:  # resent to a corrected address
        facts.add_row("Generada para", Text(generated_for))
    facts.add_row("Correo", Text(email_label(link.email_status)))
    facts.add_row("Creada", Text(f"{local_datetime_text(link.created_at, tz)} por {link.agent}"))
    facts.add_row("Vigencia", Text(f"hasta el {long_date(link.valid_through)}"))
    if link.installment_plans:
        facts.add_row("Ofrece", Text(payment_options(link.installment_plans)))
    if link.url:
        facts.add_row("Liga", Text(link.url, style="underline"))
    if d.whatsapp_url:
        facts.add_row("WhatsApp", Text(texts.WHATSAPP_DETAIL))
    if link.paid_at:
        facts.add_row("Pagada", Text(local_datetime_text(link.paid_at, tz)))
        facts.add_row("Autorización", Text(link.authorization or "—", style="bold"))
        if link.installment_months or link.installment_plans:
            facts.add_row("Forma de pago", Text(payment_text(link.installment_months), style="bold"))
        if link.folio:
            facts.add_row("Folio MIT", Text(link.folio))
        if link.card_mask:
            facts.add_row("Tarjeta", Text(" ".join(x for x in (link.card_type, link.card_mask) if x)))
    if link.cancelled_at:
        facts.add_row("Cancelada", Text(
            f"{local_datetime_text(link.cancelled_at, tz)}; "
            f"{texts.mit_accepts_until(link.valid_through, today)}."))
    parts.append(facts)

    parts.append(_section("Recibos"))
    for number, amount, currency, due in d.receipts:
        parts.append(Text.assemble("  ", number, "  vence ", short_date(due), "  ",
                                   format_money(amount, currency)))

    parts.append(_section("Correos"))
    if not d.emails:
        parts.append(Text("  Ninguno.", style="dim"))
    for e in d.emails:
        kind = EMAIL_KIND.get(e.kind, e.kind)
        when = local_datetime_text(e.sent_at or e.created_at, tz)
        line = Text.assemble("  ", (kind, "bold"), " a ", e.to, "  ", email_label(e.status), "  ", when,
                             f"  ({e.attempts} intentos)" if e.attempts > 1 else "")
        parts.append(line)
        if e.last_error and e.status != "sent":
            parts.append(Text.assemble("    ", ("Último error: ", "dim"), e.last_error))

    if reminders is not None:
        parts.append(_section("Recordatorios"))
        parts += reminders

    parts.append(_section("Intentos de pago"))
    if not d.attempts:
        parts.append(Text("  Ninguno todavía.", style="dim"))
    for a in d.attempts:
        when = local_datetime_text(a.taken_at or a.created_at, tz)
        line = Text.assemble("  ", when, "  ", (ATTEMPT[AttemptResult(a.result)], "bold"))
        if a.authorization:
            line.append(f"  autorización {a.authorization}")
        if a.installment_months:
            line.append(f"  {months_text(a.installment_months)}")
        if a.cd_error or a.nb_error:
            line.append(f"  {a.cd_error or ''} {a.nb_error or ''}".rstrip())
        parts.append(line)

    if d.notifications:
        parts.append(_section("Notificaciones de MIT"))
        for n in d.notifications:
            line = Text.assemble("  ", local_datetime_text(n.received_at, tz), "  ",
                                 notification_label(n.status, n.response))
            if n.review_reason:
                line.append(f": {REVIEW_REASON[ReviewReason(n.review_reason)]}")
            if n.folio:
                line.append(f"  folio {n.folio}")
            parts.append(line)
            if n.confirm_error:  # waiting: MIT could not be asked yet
                parts.append(Text.assemble("    ", ("Último intento: ", "dim"), n.confirm_error))
            if n.note:
                parts.append(Text.assemble("    ", ("Nota: ", "dim"), n.note))

    parts.append(_section("Historia"))
    for ev in d.timeline:
        parts.append(Text.assemble("  ", (local_datetime_text(ev.at, tz), "dim"), "  ", ev.text))
    return Group(*parts)
