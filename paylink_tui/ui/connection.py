"""The app and the connection to its backend: the status line while the server (or the
database) does not answer, and the sign-in dialog when a team-mode session ends.

The backend interface does not change for this: a backend that can lose its session or its
connection (the remote one) has optional hooks, which `attach` sets when they exist:
- `sign_in_again() -> bool`, called from the worker thread whose call found the session
  ended: it waits while the dialog is open, and the call is made again once signed in;
- `on_connection(problem | None)`, from any thread: the status line comes and goes;
- `on_events()`: events are waiting: the app polls at once (the toast does not wait).
The local backend has none of them; the status line still shows a BackendUnavailable that
the event poll meets (a database that went away).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.ui.app import PaylinkApp

RETRY_HINT = " · ctrl+r: reintentar ahora"


class ConnectionLine(Static):
    """One line above the footer while the server does not answer."""

    DEFAULT_CSS = """
    ConnectionLine {
        height: auto;
        width: 100%;
        padding: 0 1;
        background: $error;
        color: $text;
    }
    """


def show(app: PaylinkApp, problem: str | None) -> None:
    """The status line on every full screen of the stack with `problem`, or gone (None)."""
    from paylink_tui.ui.widgets.footer import AppFooter

    for screen in app.screen_stack:
        if screen.is_modal or not screen.is_mounted:
            continue
        lines = list(screen.query(ConnectionLine))
        if problem is None:
            for line in lines:
                line.remove()
            continue
        text = Text(problem + RETRY_HINT)
        if lines:
            lines[0].update(text)
            continue
        line = ConnectionLine(text, id="connection")
        footers = list(screen.query(AppFooter))
        if footers and footers[0].parent is screen:
            screen.mount(line, before=footers[0])
        else:
            screen.mount(line)


def attach(app: PaylinkApp) -> None:
    backend = app.backend
    if hasattr(backend, "sign_in_again"):
        backend.sign_in_again = lambda: sign_in_again(app)  # type: ignore[attr-defined]
    if hasattr(backend, "on_connection"):
        backend.on_connection = (  # type: ignore[attr-defined]
            lambda problem: app.post_message(app.ConnectionChanged(problem)))
    if hasattr(backend, "on_events"):
        backend.on_events = lambda: app.post_message(app.PollNow())  # type: ignore[attr-defined]


def sign_in_again(app: PaylinkApp) -> bool:
    """Open the sign-in dialog over whatever is on screen and wait for it (from a worker
    thread). True once signed in; False when the agent left (the app ends) or it is ending."""
    from paylink_tui.ui.screens.sign_in import SignInDialog

    if threading.get_ident() == getattr(app, "_thread_id", None):
        return False  # never block the app's own loop
    backend = app.backend
    done = threading.Event()
    result = {"ok": False}

    def finished(ok: bool | None) -> None:
        result["ok"] = bool(ok)
        done.set()
        if not ok:
            app.exit(return_code=0)

    def open_dialog() -> None:
        def sign_in(user: str, password: str, new_password: str | None) -> None:
            backend.sign_in(user, password, new_password=new_password)  # type: ignore[attr-defined]

        user = getattr(backend, "user", "") or app.identity.user
        server = getattr(backend, "server", "") or (app.identity.server or "")
        app.push_screen(SignInDialog(user, server, sign_in), finished)

    try:
        app.call_from_thread(open_dialog)
    except RuntimeError:  # the app is not running any more
        return False
    while not done.wait(0.5):
        if not app.is_running:
            return False
    return result["ok"]
