"""The sign-in dialog of team mode: the session with the agency server ended mid-work.

It opens over whatever the agent was doing (the screen, a half-written dialog, a call under
way) and leaves it as it was: the call that found the session ended waits for this dialog
and is made again once the agent is signed in (backend/remote.py, `sign_in_again`).
A one-time password asks for a new one here too. "Salir" closes the app.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from paylink_tui.domain.errors import AgentError, PasswordChangeRequired
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.inputs import TextInput

TITLE = "Su sesión terminó"
EXPLAIN = ("La sesión en el servidor de la agencia ({server}) terminó: pasó mucho tiempo sin "
           "uso o se cerró. Escriba su contraseña para seguir; lo que estaba haciendo sigue "
           "aquí, tal como lo dejó.")
ASK_NEW = ("Su contraseña es temporal: escriba también una contraseña nueva (al menos "
                "10 caracteres).")
MISSING = "Escriba su contraseña."
WORKING = "Entrando…"

SignIn = Callable[[str, str, "str | None"], None]


class SignInDialog(ModalScreen[bool]):
    """Dismisses with True once signed in, False when the agent chose to leave."""

    CSS_PATH = ["../styles/prompt.tcss"]
    AUTO_FOCUS = "#sign-in-password"
    BINDINGS = [Binding("escape", "leave", "Salir", show=False, id="sign_in.leave")]

    class _Done(Message):
        def __init__(self, error: BaseException | None) -> None:
            super().__init__()
            self.error = error

    def __init__(self, user: str, server: str, sign_in: SignIn) -> None:
        super().__init__()
        self.user = user
        self.server = server
        self._sign_in = sign_in
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(TITLE, id="prompt-title")
            yield Static(Text(EXPLAIN.format(server=self.server)), id="prompt-message")
            yield Label(f"Usuario: {self.user}", id="sign-in-user")
            yield Label("Contraseña", id="prompt-label")
            yield TextInput(password=True, id="sign-in-password")
            # Shown only when the server asks for a new password.
            new_label = Label("Contraseña nueva", id="sign-in-new-label")
            new_label.display = False
            yield new_label
            new_field = TextInput(password=True, id="sign-in-new")
            new_field.display = False
            yield new_field
            yield Static("", id="prompt-error")
            with ButtonRow(id="prompt-buttons"):
                yield Button("Entrar", id="submit", variant="primary")
                yield Button("Salir", id="leave")
        yield AppFooter()

    def _error(self, text: str) -> None:
        self.query_one("#prompt-error", Static).update(Text(text))

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        if self._busy:
            return
        password = self.query_one("#sign-in-password", Input).value
        new_field = self.query_one("#sign-in-new", Input)
        new_password = new_field.value if new_field.display else None
        if not password:
            self._error(MISSING)
            return
        if new_field.display and not new_password:
            self._error(ASK_NEW)
            new_field.focus()
            return
        self._busy = True
        self.query_one("#submit", Button).disabled = True
        self._error(WORKING)
        self._run(password, new_password)

    @work(thread=True, exclusive=True, group="sign-in", exit_on_error=False)
    def _run(self, password: str, new_password: str | None) -> None:
        try:
            self._sign_in(self.user, password, new_password)
        except BaseException as exc:  # noqa: BLE001 - told to the agent below
            self.post_message(self._Done(exc))
            return
        self.post_message(self._Done(None))

    @on(_Done)
    def _done(self, event: _Done) -> None:
        self._busy = False
        self.query_one("#submit", Button).disabled = False
        if event.error is None:
            self.dismiss(True)
            return
        if isinstance(event.error, PasswordChangeRequired):
            self.query_one("#sign-in-new-label").display = True
            field = self.query_one("#sign-in-new", Input)
            field.display = True
            field.focus()
            self._error(ASK_NEW)
            return
        message = (event.error.message if isinstance(event.error, AgentError)
                   else agent_message(event.error, "entrar al servidor"))
        self._error(message)
        password = self.query_one("#sign-in-password", Input)
        password.value = ""
        password.focus()

    @on(Button.Pressed, "#leave")
    def action_leave(self) -> None:
        self.dismiss(False)
