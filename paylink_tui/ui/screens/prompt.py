"""Small dialogs: confirm an action, or ask for one line (an address, a reference, a note)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import Validator
from textual.widgets import Button, Input, Label, Static

from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.inputs import EmailInput, TextInput


class ConfirmDialog(ModalScreen[bool]):
    """Dismisses with True when the agent confirms."""

    CSS_PATH = ["../styles/prompt.tcss"]
    # Focused while composing, not on a later turn (on_mount's focus() is deferred): the
    # first key typed into the dialog finds it (ui/keys.py).
    AUTO_FOCUS = "#back"
    BINDINGS = [Binding("escape", "back", "Volver", id="confirm.back")]

    def __init__(self, title: str, message: Text, confirm_label: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(self.title_text, id="prompt-title")
            yield Static(self.message, id="prompt-message")
            with ButtonRow(id="prompt-buttons"):
                yield Button(self.confirm_label, id="confirm", variant="error")
                yield Button("Volver", id="back")
        yield AppFooter()  # this dialog's keys, not those of the screen beneath

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(False)


class PromptDialog(ModalScreen[str | None]):
    """Asks for one line; dismisses with it (stripped) or None. `kind="email"` validates."""

    CSS_PATH = ["../styles/prompt.tcss"]
    AUTO_FOCUS = "#prompt-input"  # as ConfirmDialog's: focused while composing
    BINDINGS = [Binding("escape", "back", "Volver", id="prompt.back")]

    def __init__(self, title: str, message: Text, label: str, *, value: str = "",
                 submit_label: str = "Aceptar", kind: str = "text", required: str | None = None,
                 validators: list[Validator] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.label = label
        self.value = value
        self.submit_label = submit_label
        self.kind = kind
        self.required = required or "Escriba un valor."
        self.validators = validators or []

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(self.title_text, id="prompt-title")
            yield Static(self.message, id="prompt-message")
            yield Label(self.label, id="prompt-label")
            if self.kind == "email":
                yield EmailInput(self.value, id="prompt-input")
            else:
                yield TextInput(value=self.value, id="prompt-input", validators=self.validators)
            yield Static("", id="prompt-error")
            with ButtonRow(id="prompt-buttons"):
                yield Button(self.submit_label, id="submit", variant="primary")
                yield Button("Volver", id="back")
        yield AppFooter()

    def on_mount(self) -> None:
        field = self.query_one("#prompt-input", Input)
        field.cursor_position = len(field.value)

    @on(Input.Changed, "#prompt-input")
    def _changed(self, event: Input.Changed) -> None:
        self._show(event.validation_result)

    def _show(self, result) -> bool:  # type: ignore[no-untyped-def]
        ok = result is None or result.is_valid
        error = self.query_one("#prompt-error", Static)
        error.update("" if ok else Text("; ".join(result.failure_descriptions)))
        self.query_one("#submit", Button).disabled = not ok
        return ok

    @on(Input.Submitted, "#prompt-input")
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        field = self.query_one("#prompt-input", Input)
        if not self._show(field.validate(field.value)):
            return
        value = field.value.strip()
        if not value:
            self.query_one("#prompt-error", Static).update(Text(self.required))
            return
        self.dismiss(value)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
