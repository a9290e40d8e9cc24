"""The Textual app: screens, global keys, and the live part (payments, email retries).

`make_app(backend)` builds it for the CLI, the demo and the tests alike. The app talks only to
the backend interface (paylink_tui/backend/: local or remote, it cannot tell), each call in a
thread worker that posts a message back.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from paylink_tui.backend.base import Backend
from paylink_tui.domain.results import Event
from paylink_tui.ui import connection, layout
from paylink_tui.ui.commands import PaylinkCommands
from paylink_tui.ui.events import event_toast
from paylink_tui.ui.keys import OrderedKeys

EVENTS_POLL_SECONDS = 2.0
OUTBOX_SECONDS = 30.0


class PaylinkApp(OrderedKeys, App):
    TITLE = "paylink-tui"
    SUB_TITLE = "Ligas de pago MIT"
    CSS_PATH = ["styles/app.tcss"]
    # Only our own, Spanish, commands: Textual's system commands speak English.
    COMMANDS = {PaylinkCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    # Screen classes by size (-narrow, -short…): the .tcss folds and shrinks by them.
    HORIZONTAL_BREAKPOINTS = layout.HORIZONTAL_BREAKPOINTS
    VERTICAL_BREAKPOINTS = layout.VERTICAL_BREAKPOINTS

    BINDINGS = [
        Binding("q", "quit", "Salir", id="app.quit"),
        Binding("h", "history", "Historial", id="app.history"),
        Binding("p", "pending", "Pendientes", id="app.pending", show=False),
        Binding("v", "review", "Por revisar", id="app.review", show=False),
        Binding("question_mark", "help", "Ayuda", key_display="?", id="app.help"),
        Binding("ctrl+p", "command_palette", "Acciones", show=False, priority=True, id="app.palette"),
    ]

    class ConnectionChanged(Message):
        """The server (or the database) stopped answering (`problem`: why) or is back (None)."""

        def __init__(self, problem: str | None) -> None:
            super().__init__()
            self.problem = problem

    class PollNow(Message):
        """The backend has new events buffered (the remote event stream)."""

    class EventsArrived(Message):
        def __init__(self, events: list[Event], cursor: str | None) -> None:
            super().__init__()
            self.events = events
            self.cursor = cursor

    def __init__(self, backend: Backend, *, demo_info: dict | None = None, live: bool = True,
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.backend = backend
        identity = backend.identity()
        self.timezone = identity.timezone
        self.identity = identity
        self.demo_info = demo_info
        self.live = live
        self.cursor_blink = cursor_blink
        self._events_cursor: str | None = None
        self._polling = False
        self.connection_problem: str | None = None  # shown in the status line while set
        # What Historial showed (filter, "mis ligas", search): the same when the agent comes back.
        self.history_view: dict[str, object] = {}

    # --- start and the live part ----------------------------------------------------------

    @property
    def demo_banner(self) -> Text | None:
        if not self.demo_info:
            return None
        return demo_banner(self.demo_info)

    def on_unmount(self) -> None:
        # What start-up froze belongs to this app: give it back to the collector (tests and
        # `demo` may run more than one app in a process).
        import gc

        gc.unfreeze()

    def on_mount(self) -> None:
        from paylink_tui.ui.screens.pending import PendingScreen

        self.push_screen(PendingScreen())
        connection.attach(self)
        # Named by the status line while the backend does not answer (ui/connection.py);
        # not in BINDINGS: the help lists the keys of every day.
        self.bind("ctrl+r", "reconnect", description="Reintentar", show=False)
        if self.live:
            self._poll_events()  # the cursor first: what happens from now on is told
            self.set_interval(EVENTS_POLL_SECONDS, self._poll_events)
            self.set_interval(OUTBOX_SECONDS, self._deliver_outbox)

    def now(self):  # type: ignore[no-untyped-def]
        """The use cases' clock (frozen in tests)."""
        return self.backend.now()

    def _poll_events(self) -> None:
        if not self._polling:
            self._polling = True
            self._read_events(self._events_cursor)

    @work(thread=True, exclusive=True, group="live-events", exit_on_error=False)
    def _read_events(self, cursor: str | None) -> None:
        from paylink_tui.domain.errors import BackendUnavailable

        try:
            batch = self.backend.events(cursor)
        except Exception as exc:  # the next poll tries again from the same cursor
            if isinstance(exc, BackendUnavailable):
                self.post_message(self.ConnectionChanged(exc.message))
            self.post_message(self.EventsArrived([], cursor))
            return
        if self.connection_problem is not None:
            self.post_message(self.ConnectionChanged(None))
        self.post_message(self.EventsArrived(batch.events, batch.cursor))

    @on(EventsArrived)
    def _events_arrived(self, event: EventsArrived) -> None:
        self._polling = False
        self._events_cursor = event.cursor
        if self.connection_problem is not None:
            connection.show(self, self.connection_problem)  # on a screen opened meanwhile
        if not event.events:
            return
        for item in event.events:
            toast = event_toast(item)
            if toast is not None:
                self.notify(toast.text, title=toast.title, severity=toast.severity,
                            timeout=toast.timeout, markup=False)
        self.refresh_screens()

    @on(PollNow)
    def _poll_now(self) -> None:
        self._poll_events()

    @on(ConnectionChanged)
    def _connection_changed(self, event: ConnectionChanged) -> None:
        was = self.connection_problem
        self.connection_problem = event.problem
        connection.show(self, event.problem)
        if was is not None and event.problem is None:
            self.refresh_screens()  # what failed while it was down is read again

    def action_reconnect(self) -> None:
        """ctrl+r: try the server again now (the status line says so while it is down)."""
        self._poll_events()
        if self.connection_problem is not None:
            self.refresh_screens()

    @work(thread=True, exclusive=True, group="live-outbox", exit_on_error=False)
    def _deliver_outbox(self) -> None:
        try:
            self.backend.deliver_outbox()
        except Exception:  # noqa: S110 - the history shows what stays queued; retried in 30 s
            pass

    def refresh_screens(self) -> None:
        """Tell every open screen that data changed (a payment, a link, a resolution)."""
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_data", None)
            if refresh is not None:
                refresh()

    # --- global actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer only offers a way to where the agent is not already.
        here = type(self.screen).__name__
        if action == "history" and here == "HistoryScreen":
            return False
        if action == "review" and here == "ReviewScreen":
            return False
        return True

    def action_command_palette(self) -> None:
        from textual.command import CommandPalette

        if not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder="Buscar una acción…", id="--command-palette"))

    def action_history(self) -> None:
        from paylink_tui.ui.screens.history import HistoryScreen

        self._go(HistoryScreen)

    def action_pending(self) -> None:
        self._drop_to_home()

    def action_review(self) -> None:
        from paylink_tui.ui.screens.review import ReviewScreen

        self._go(ReviewScreen)

    def action_help(self) -> None:
        from paylink_tui.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_link(self) -> None:
        from paylink_tui.ui.screens.pending import PendingScreen

        self._drop_to_home()
        screen = self.screen
        if isinstance(screen, PendingScreen):
            screen.action_link()

    def action_search(self) -> None:
        from paylink_tui.ui.screens.pending import PendingScreen

        self._drop_to_home()
        if isinstance(self.screen, PendingScreen):
            self.screen.action_focus_search()

    def action_back(self) -> None:
        """Esc: back to the screen the agent came from (never past the pending list)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def _go(self, screen_type: type) -> None:
        """To a screen: back down to it when it is open below (so that Esc keeps its meaning,
        each screen returns to the one it was opened from), else opened on top of this one."""
        if isinstance(self.screen, screen_type):
            return
        for screen in self.screen_stack:
            if isinstance(screen, screen_type):
                while self.screen is not screen:
                    self.pop_screen()
                screen.refresh_data()  # type: ignore[attr-defined]
                return
        while self.screen.is_modal:  # a dialog is left, not stacked under a screen
            self.pop_screen()
        self.push_screen(screen_type())

    def _drop_to_home(self) -> None:
        # Home is the first pushed screen; leave whatever is above it.
        while len(self.screen_stack) > 2:
            self.pop_screen()


def demo_banner(info: dict) -> Text:
    # Short, so that at 80 columns it takes two lines, folded between its parts.
    parts: list[str | tuple[str, str]] = [("Demostración", "bold"), ": nada sale de esta máquina."]
    if info.get("base_url"):
        parts += [" Pasarela simulada: ", (str(info["base_url"]), "underline")]
    if info.get("mail_folder"):
        parts += [" · Correos: ", (str(info["mail_folder"]), "underline")]
    return Text.assemble(*parts)


def make_app(backend: Backend, *, demo_info: dict | None = None, live: bool = True,
             cursor_blink: bool = True) -> PaylinkApp:
    """The app on `backend`. Tests pass `live=False` (no timers) and `cursor_blink=False`."""
    return PaylinkApp(backend, demo_info=demo_info, live=live, cursor_blink=cursor_blink)


def run_demo_app(runtime: Any) -> int:
    """The TUI of `paylink-tui demo`: `runtime` has `.backend`, `.base_url`, `.mail_folder`."""
    info = {"base_url": getattr(runtime, "base_url", None),
            "mail_folder": getattr(runtime, "mail_folder", None)}
    app = make_app(runtime.backend, demo_info=info)
    app.run()
    return int(app.return_code or 0)


def freeze_startup_objects() -> None:
    """Move what start-up created (modules, CSS, widgets: some 10^5 objects that live as long
    as the app) out of the collector's sight. A full collection walked them all and held a
    search keystroke for up to 120 ms; after this it walks only what came later. Called
    once the first rows are on screen, so that it never delays them."""
    import gc

    gc.collect()
    gc.freeze()
