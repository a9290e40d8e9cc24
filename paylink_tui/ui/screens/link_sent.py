"""The confirmation: where the link went, its URL (copied) and QR, and the dates that matter."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from paylink_tui.domain.dates import long_date
from paylink_tui.domain.money import format_money
from paylink_tui.ui.widgets.qr import qr_text


def sent_headline(link) -> Text:  # type: ignore[no-untyped-def]
    if link.email_status == "sent":
        return Text.assemble("Liga generada y enviada a ", (link.email, "bold"))
    if getattr(link, "email_queued", True):
        return Text.assemble("Liga generada. El correo a ", (link.email, "bold"),
                             " no salió todavía: queda en cola y se reintenta solo.")
    return Text.assemble("Liga generada, pero el correo a ", (link.email, "bold"),
                         " no se pudo preparar y no quedó en cola: nada lo reintentará.")


COPIED = Text("Liga copiada al portapapeles (c para copiar de nuevo).", style="italic")


class LinkSentScreen(ModalScreen):
    CSS_PATH = ["../styles/link_sent.tcss"]
    AUTO_FOCUS = "#close"

    BINDINGS = [
        Binding("c", "copy", "Copiar liga", id="sent.copy"),
        Binding("escape,enter", "close", "Cerrar", id="sent.close"),
    ]

    def __init__(self, link) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.link = link

    def compose(self) -> ComposeResult:
        link = self.link
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
                    ("Póliza ", "dim"), link.policy_number, ("   Recibos ", "dim"),
                    ", ".join(link.receipt_numbers), "\n",
                    ("Monto ", "dim"), (format_money(link.amount, link.currency), "bold"),
                    ("   Referencia ", "dim"), link.reference), id="sent-facts")
                yield Static(Text(f"Vigencia: hasta el {long_date(link.valid_through)}"), id="sent-valid")
                yield Static(Text("Si no se paga, los recibos volverán a aparecer el "
                                  f"{long_date(link.reappears_on)}"), id="sent-reappears")
                # Copied on mount (below): the line is there from the start, so nothing has
                # to be looked up while the screen may still be mounting (or torn down).
                yield Static(COPIED, id="sent-copied")
                with Horizontal(id="sent-buttons"):
                    yield Button("Copiar liga", id="copy")
                    yield Button("Cerrar", id="close", variant="primary")
            yield Static(qr_text(link.url), id="sent-qr")
        yield Footer()  # this dialog's keys, not those of the screen beneath

    def on_mount(self) -> None:
        self.app.copy_to_clipboard(self.link.url)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.link.url)
        self.query_one("#sent-copied", Static).update(COPIED)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "copy":
            self.action_copy()
        else:
            self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)
