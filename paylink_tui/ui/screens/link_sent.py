"""The confirmation: where the link went, its URL (copied) and QR, and the dates that matter;
with a phone on file, the WhatsApp address with the message (w copies it: nothing is sent)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from paylink_tui.domain.money import format_money
from paylink_tui.domain.promotions import payment_options
from paylink_tui.ui import texts
from paylink_tui.ui.clipboard import copy_known
from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.qr import qr_text


def sent_headline(link) -> Text:  # type: ignore[no-untyped-def]
    if link.email_status == "sent":
        return Text.assemble("Liga generada y enviada a ", (link.email, "bold"), ".")
    if link.email_queued:
        return Text.assemble("Liga generada. El correo a ", (link.email, "bold"),
                             " no salió todavía: queda en cola y se reintenta solo.")
    return Text.assemble("Liga generada, pero el correo a ", (link.email, "bold"),
                         " no se pudo preparar y no quedó en cola: nada lo reintentará.")


class LinkSentScreen(ModalScreen):
    CSS_PATH = ["../styles/link_sent.tcss"]
    AUTO_FOCUS = "#close"

    BINDINGS = [
        Binding("c", "copy", "Copiar liga", id="sent.copy"),
        Binding("w", "copy_whatsapp", "Copiar WhatsApp", id="sent.whatsapp",
                tooltip="Copiar la dirección de WhatsApp con el mensaje (no se envía nada)"),
        Binding("escape,enter", "close", "Cerrar", id="sent.close"),
    ]

    class _Copied(Message):
        def __init__(self, known: bool, whatsapp: bool = False) -> None:
            super().__init__()
            self.known = known
            self.whatsapp = whatsapp

    def __init__(self, link) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.link = link

    def compose(self) -> ComposeResult:
        link = self.link
        count = len(link.receipt_numbers)
        with Horizontal(id="sent-box"):
            with Vertical(id="sent-text"):
                yield Static("Liga de pago", id="sent-title")
                yield Static(sent_headline(link), id="sent-headline")
                if link.email_status != "sent" and link.email_error:
                    then = ("\nLa liga existe y es válida; también puede copiarla y enviarla usted."
                            if getattr(link, "email_queued", True) else
                            "\nLa liga existe y es válida: corrija lo indicado y reenvíela desde "
                            "Historial (h, luego r), o cópiela y envíela usted.")
                    yield Static(Text.assemble(("Motivo: ", "bold"), link.email_error, then),
                                 id="sent-email-error")
                yield Static(Text(link.url, style="underline"), id="sent-url")
                yield Static(Text.assemble(
                    ("Póliza ", "dim"), link.policy_number, (f"   {texts.receipts_label(count)} ", "dim"),
                    ", ".join(link.receipt_numbers), "\n",
                    ("Monto ", "dim"), (format_money(link.amount, link.currency), "bold"),
                    ("   Referencia ", "dim"), link.reference), id="sent-facts")
                yield Static(Text(texts.valid_through_line(link.valid_through)), id="sent-valid")
                if link.installment_plans:
                    yield Static(Text(f"Forma de pago: {payment_options(link.installment_plans)}"),
                                 id="sent-plans")
                yield Static(Text(texts.reappears_line(link.reappears_on, count)), id="sent-reappears")
                for warning in (getattr(link, "older_warning", None), getattr(link, "lapse_warning", None)):
                    if warning:
                        yield Static(Text(warning), classes="sent-warning")
                if getattr(link, "whatsapp_url", None):
                    yield Static(Text(texts.WHATSAPP_OFFER), id="sent-whatsapp")
                # What became of the copy, once known (a clipboard program may take a moment).
                yield Static("", id="sent-copied")
                with ButtonRow(id="sent-buttons"):
                    yield Button("Copiar liga", id="copy")
                    if getattr(link, "whatsapp_url", None):
                        yield Button("Copiar WhatsApp", id="whatsapp")
                    yield Button("Cerrar", id="close", variant="primary")
            yield Static(qr_text(link.url), id="sent-qr")
        yield AppFooter()  # this dialog's keys, not those of the screen beneath

    def on_mount(self) -> None:
        self.action_copy()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_whatsapp":  # only with a phone on file
            return bool(getattr(self.link, "whatsapp_url", None))
        return True

    def action_copy_whatsapp(self) -> None:
        address = getattr(self.link, "whatsapp_url", None)
        if not address:
            return
        self.app.copy_to_clipboard(address)  # the terminal's way (OSC 52), unconfirmed
        self._copy(address, whatsapp=True)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.link.url)  # the terminal's way (OSC 52), unconfirmed
        self._copy(self.link.url)

    @work(thread=True, exclusive=True, group="copy-link", exit_on_error=False)
    def _copy(self, text: str, whatsapp: bool = False) -> None:
        self.post_message(self._Copied(copy_known(text), whatsapp))

    @on(_Copied)
    def _copied(self, event: _Copied) -> None:
        found = self.query("#sent-copied")
        if not found:  # closed meanwhile
            return
        if event.whatsapp:
            said = texts.WHATSAPP_COPIED if event.known else texts.WHATSAPP_SHOWN
            if not event.known:  # shown whole, to select by hand
                from paylink_tui.ui.screens.whatsapp import WhatsAppDialog

                self.app.push_screen(WhatsAppDialog(self.link.whatsapp_url))
        else:
            said = texts.COPIED if event.known else texts.COPY_UNKNOWN
        found.first(Static).update(Text(said, style="italic"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        elif event.button.id == "whatsapp":
            self.action_copy_whatsapp()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)
