"""The Textual app: screens, global keys, and the live part (payments, email retries).

`make_app(ctx)` builds it for the CLI, the demo and the tests alike. The app talks only to
services, each call in a thread worker that posts a message back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from paylink_tui.services.context import AppContext
from paylink_tui.ui.commands import PaylinkCommands
from paylink_tui.ui.keys import OrderedKeys

PAYMENT_POLL_SECONDS = 2.0
PAYMENT_OVERLAP = timedelta(seconds=10)
OUTBOX_SECONDS = 30.0


class PaylinkApp(OrderedKeys, App):
    TITLE = "paylink-tui"
    SUB_TITLE = "Ligas de pago MIT"
    CSS_PATH = ["styles/app.tcss"]
    # Only our own, Spanish, commands: Textual's system commands speak English.
    COMMANDS = {PaylinkCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"

    BINDINGS = [
        Binding("q", "quit", "Salir", id="app.quit"),
        Binding("h", "history", "Historial", id="app.history"),
        Binding("p", "pending", "Pendientes", id="app.pending", show=False),
        Binding("v", "review", "Por revisar", id="app.review", show=False),
        Binding("question_mark", "help", "Ayuda", key_display="?", id="app.help"),
        Binding("ctrl+p", "command_palette", "Acciones", show=False, priority=True, id="app.palette"),
    ]

    class PaymentsArrived(Message):
        def __init__(self, events: list[Any], asked_at: datetime) -> None:
            super().__init__()
            self.events = events
            self.asked_at = asked_at

    def __init__(self, ctx: AppContext, *, demo_info: dict | None = None, live: bool = True,
                 cursor_blink: bool = True) -> None:
        super().__init__()
        self.ctx = ctx
        self.demo_info = demo_info
        self.live = live
        self.cursor_blink = cursor_blink
        self._payments_since: datetime = ctx.now()
        self._seen_payments: set[str] = set()
        self._polling = False

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
        if self.live:
            self.set_interval(PAYMENT_POLL_SECONDS, self._poll_payments)
            self.set_interval(OUTBOX_SECONDS, self._deliver_outbox)

    def _poll_payments(self) -> None:
        if not self._polling:
            self._polling = True
            self._check_payments(self._payments_since)

    @work(thread=True, exclusive=True, group="live-payments", exit_on_error=False)
    def _check_payments(self, since: datetime) -> None:
        asked_at = self.ctx.now()
        try:
            from paylink_tui.services.history import latest_payments

            events = latest_payments(self.ctx, since=since)
        except Exception:
            events = []
            asked_at = since
        self.post_message(self.PaymentsArrived(events, asked_at))

    @on(PaymentsArrived)
    def _payments_arrived(self, event: PaymentsArrived) -> None:
        self._polling = False
        # The next look overlaps this one a little: a payment committed while we were
        # reading is caught next time; the seen set keeps it from being told twice.
        self._payments_since = max(self._payments_since, event.asked_at - PAYMENT_OVERLAP)
        fresh = [p for p in event.events if p.reference not in self._seen_payments]
        if not fresh:
            return
        for paid in fresh:
            self._seen_payments.add(paid.reference)
            self.notify(
                f"Pago aprobado: póliza {paid.policy}, autorización {paid.authorization or '—'}",
                title="Pago recibido", timeout=10, markup=False,
            )
        self.refresh_screens()

    @work(thread=True, exclusive=True, group="live-outbox", exit_on_error=False)
    def _deliver_outbox(self) -> None:
        try:
            from paylink_tui.services.outbox import deliver_due

            deliver_due(self.ctx)
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

        if isinstance(self.screen, HistoryScreen):
            return
        self._drop_to_home()
        self.push_screen(HistoryScreen())

    def action_pending(self) -> None:
        self._drop_to_home()

    def action_review(self) -> None:
        from paylink_tui.ui.screens.review import ReviewScreen

        if isinstance(self.screen, ReviewScreen):
            return
        self._drop_to_home()
        self.push_screen(ReviewScreen())

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

    def _drop_to_home(self) -> None:
        # Home is the first pushed screen; leave whatever is above it.
        while len(self.screen_stack) > 2:
            self.pop_screen()


def demo_banner(info: dict) -> Text:
    parts: list[str | tuple[str, str]] = [("Demostración", "bold"), ": nada sale de esta máquina."]
    if info.get("mail_folder"):
        parts += ["  Correos enviados: ", (str(info["mail_folder"]), "underline")]
    if info.get("base_url"):
        parts += ["  Abra las ligas en su navegador (pasarela simulada en ",
                  (str(info["base_url"]), "underline"), ")."]
    return Text.assemble(*parts)


def make_app(ctx: AppContext, *, demo_info: dict | None = None, live: bool = True,
             cursor_blink: bool = True) -> PaylinkApp:
    """The app on `ctx`. Tests pass `live=False` (no timers) and `cursor_blink=False`."""
    return PaylinkApp(ctx, demo_info=demo_info, live=live, cursor_blink=cursor_blink)


def run_demo_app(runtime: Any) -> int:
    """The TUI of `paylink-tui demo`: `runtime` has `.ctx`, `.base_url`, `.mail_folder`."""
    info = {"base_url": getattr(runtime, "base_url", None),
            "mail_folder": getattr(runtime, "mail_folder", None)}
    app = make_app(runtime.ctx, demo_info=info)
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
