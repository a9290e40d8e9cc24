"""Many links at once (domain.md, "Collecting more"): the plan, a confirmation, a progress
bar with a stop key, and the outcome.

The plan (Backend.batch_preview: one link per policy and currency, to the email on file, and
who is skipped and why) is read in a thread worker and shown; nothing is made until the agent
confirms. Then Backend.run_batch runs in a thread worker, its progress posted back as
messages. Stopping (d or Esc) asks run_batch not to start another link: those under way
finish, so no link is left half made, and generating the same batch again continues where
it stopped without a second link for anyone (the use case's own rules). While it runs the
dialog cannot be left, nor the app quit: it closes on the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static

from paylink_tui.ui import texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter

LOADING, CONFIRM, RUNNING, STOPPING, DONE, FAILED = (
    "loading", "confirm", "running", "stopping", "done", "failed")


class BatchScreen(ModalScreen):
    CSS_PATH = ["../styles/batch.tcss"]
    AUTO_FOCUS = "#batch-back"

    BINDINGS = [
        Binding("escape", "back", "Volver", id="batch.back"),
        Binding("escape,d", "stop", "Detener", id="batch.stop",
                tooltip="Detener el lote: las ligas en curso terminan, ninguna queda a medias"),
        # While it runs, q stops the batch rather than quitting under it.
        Binding("q", "stop", "Detener", show=False, id="batch.quit_stops"),
    ]

    class _Planned(Message):
        def __init__(self, plan: Any | None, error: str | None) -> None:
            super().__init__()
            self.plan = plan
            self.error = error

    class _Progress(Message):
        def __init__(self, progress: Any) -> None:
            super().__init__()
            self.progress = progress

    class _Finished(Message):
        def __init__(self, outcome: Any | None, error: str | None) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error

    def __init__(self, *, receipt_numbers: Sequence[str] = (), search: str | None = None) -> None:
        super().__init__()
        self.receipt_numbers = tuple(receipt_numbers)
        self.search = search
        self.state = LOADING
        self.plan: Any | None = None
        self.outcome: Any | None = None
        self._stop = threading.Event()

    def compose(self) -> ComposeResult:
        with Vertical(id="batch-box"):
            yield Static(texts.BATCH_TITLE, id="batch-title")
            yield Static(Text(texts.batch_what(self.search, len(self.receipt_numbers)), style="dim"),
                         id="batch-what")
            with VerticalScroll(id="batch-scroll"):
                yield Static(Text(texts.BATCH_LOADING, style="italic"), id="batch-body")
            yield ProgressBar(id="batch-progress", show_eta=False)
            yield Static("", id="batch-status")
            with ButtonRow(id="batch-buttons"):
                yield Button("Generar ligas", id="batch-go", variant="primary", disabled=True)
                yield Button("Volver", id="batch-back")
        yield AppFooter()  # this dialog's keys, not those of the screen beneath

    def on_mount(self) -> None:
        self.query_one("#batch-progress").display = False
        self._plan(self.receipt_numbers, self.search)

    # --- the plan -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="batch-plan", exit_on_error=False)
    def _plan(self, numbers: tuple[str, ...], search: str | None) -> None:
        try:
            plan = self.app.backend.batch_preview(  # type: ignore[attr-defined]
                receipt_numbers=numbers, search=None if numbers else (search or ""))
        except Exception as exc:
            self.post_message(self._Planned(None, agent_message(exc, "preparar el lote")))
            return
        self.post_message(self._Planned(plan, None))

    @on(_Planned)
    def _planned(self, event: _Planned) -> None:
        body = self.query_one("#batch-body", Static)
        if event.error is not None:
            self.state = FAILED
            body.update(Text(event.error, style="bold"))
            self.refresh_bindings()
            return
        self.plan = event.plan
        self.state = CONFIRM
        body.update(texts.batch_plan(event.plan))
        go = self.query_one("#batch-go", Button)
        if event.plan.links:
            go.label = texts.batch_go(len(event.plan.links))
            go.disabled = False
            go.focus()
        else:
            go.display = False
            self.query_one("#batch-status", Static).update(Text(texts.BATCH_NOTHING, style="italic"))
        self.refresh_bindings()

    # --- running ------------------------------------------------------------------------------

    @on(Button.Pressed, "#batch-go")
    def action_go(self) -> None:
        if self.state != CONFIRM or self.plan is None or not self.plan.links:
            return
        self.show_running(len(self.plan.links))
        self._run(self.plan)

    def show_running(self, total: int) -> None:
        """The progress bar instead of the buttons: only d (or Esc) stops."""
        self.state = RUNNING
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=total, progress=0)
        bar.display = True
        self.query_one("#batch-go", Button).display = False
        self.query_one("#batch-back", Button).disabled = True
        self.query_one("#batch-status", Static).update(Text(texts.batch_progress(_Start(total))))
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="batch-run", exit_on_error=False)
    def _run(self, plan: Any) -> None:
        try:
            outcome = self.app.backend.run_batch(  # type: ignore[attr-defined]
                plan, on_progress=lambda p: self.post_message(self._Progress(p)),
                should_stop=self._stop.is_set)
        except Exception as exc:  # nothing could be made at all (no gateway configured…)
            self.post_message(self._Finished(None, agent_message(exc, "generar las ligas")))
            return
        self.post_message(self._Finished(outcome, None))

    @on(_Progress)
    def _progressed(self, event: _Progress) -> None:
        if self.state not in (RUNNING, STOPPING):
            return
        self.query_one("#batch-progress", ProgressBar).update(progress=event.progress.done)
        if self.state == RUNNING:
            self.query_one("#batch-status", Static).update(Text(texts.batch_progress(event.progress)))

    def action_stop(self) -> None:
        if self.state != RUNNING:
            return
        self._stop.set()
        self.state = STOPPING
        self.query_one("#batch-status", Static).update(Text(texts.BATCH_STOPPING, style="bold"))
        self.refresh_bindings()

    @on(_Finished)
    def _finished(self, event: _Finished) -> None:
        self.state = DONE if event.error is None else FAILED
        body = self.query_one("#batch-body", Static)
        status = self.query_one("#batch-status", Static)
        back = self.query_one("#batch-back", Button)
        back.label = "Cerrar"
        back.disabled = False
        back.focus()
        if event.error is not None:
            body.update(Text(event.error, style="bold"))
            status.update("")
        else:
            self.outcome = event.outcome
            body.update(texts.batch_outcome(event.outcome))
            status.update("")
        self.query_one("#batch-scroll").scroll_home(animate=False)
        self.refresh_bindings()
        self.app.refresh_screens()  # type: ignore[attr-defined]

    # --- leaving ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.state == RUNNING
        if action == "back":
            return self.state not in (RUNNING, STOPPING)
        if action == "go":
            return self.state == CONFIRM
        return True

    @on(Button.Pressed, "#batch-back")
    def action_back(self) -> None:
        if self.state in (RUNNING, STOPPING):
            return
        self.dismiss(self.outcome)


class _Start:
    """The progress line before the first link's outcome."""

    def __init__(self, total: int) -> None:
        self.done = self.made = self.skipped = self.failed = 0
        self.total = total
