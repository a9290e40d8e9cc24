"""The WhatsApp address of a link, to select by hand when the system's clipboard did not
confirm the copy (ui/clipboard.py): shown whole, on its own, at any terminal size. Nothing
is sent: opening it is the agent's action."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from paylink_tui.ui import texts
from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter


class WhatsAppDialog(ModalScreen):
    CSS_PATH = ["../styles/prompt.tcss"]
    AUTO_FOCUS = "#wa-close"
    BINDINGS = [Binding("escape,enter", "close", "Cerrar", id="whatsapp.close")]

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static("WhatsApp", id="prompt-title")
            yield Static(Text(texts.WHATSAPP_SELECT), id="prompt-message")
            yield Static(Text(self.address, style="underline"), id="wa-address")
            with ButtonRow(id="prompt-buttons"):
                yield Button("Cerrar", id="wa-close", variant="primary")
        yield AppFooter()

    @on(Button.Pressed, "#wa-close")
    def action_close(self) -> None:
        self.dismiss(None)
