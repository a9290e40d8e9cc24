"""A virtual table over the pending list: only a window of keyset pages is ever loaded.

Textual's DataTable keeps every row in Python, which is fine for a few hundred rows and
hopeless for a million. So the table holds a window of at most `MAX_PAGES` pages of
`PAGE_SIZE` rows; when the cursor comes near either edge of the window the next (or
previous) page is fetched in a thread worker and the far end of the window is dropped.
Home and End jump to the first and last page. Rows come from a `fetch` callable (the
`pending_page` service bound to a context), so the widget knows nothing of SQL.

Every load carries a generation number; a page that arrives for an older search or an
older window is dropped, so fast typing never shows stale rows.

The cells are drawn by fast_cells.py's `FastCells` (DataTable's general layout is too slow
for a keystroke).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from paylink_tui.domain.dates import short_date
from paylink_tui.domain.lapse import LAPSED, SOON, TODAY, lapse_clock
from paylink_tui.domain.money import format_amount
from paylink_tui.domain.results import (
    SORT_POLICY,
    PendingPage,
    PendingRow,
    key_just_before,
)
from paylink_tui.ui import layout, texts
from paylink_tui.ui.widgets.columns import apply as apply_columns
from paylink_tui.ui.widgets.fast_cells import FastCells

PAGE_SIZE = 50  # two screens of rows: the first page of a search draws sooner
MAX_PAGES = 6
PREFETCH_MARGIN = 25  # rows from the window's edge at which the next page is fetched

Fetch = Callable[..., PendingPage]
Clock = Callable[[], tuple[object, str]]  # (now, the insurer's zone)

# The lapse cell's colour by urgency (domain/lapse.py), from the theme (pending.tcss).
LAPSE_CLASS = {LAPSED: "pending-table--lapsed", TODAY: "pending-table--lapse-today",
               SOON: "pending-table--lapse-soon"}
Direction = Literal["first", "last", "next", "prev", "refresh"]

MARK = "●"


@dataclass
class _Request:
    generation: int
    direction: Direction
    search: str
    sort: str = SORT_POLICY


class PendingTable(FastCells):
    """The pending receipts, sorted by policy (or by lapse, most urgent first), paged from
    the database as the cursor moves."""

    COMPONENT_CLASSES = {"pending-table--overdue", "pending-table--marked", *LAPSE_CLASS.values()}

    BINDINGS = [
        Binding("home", "first_page", "Primera página", key_display="Inicio", show=False,
                id="pending.first"),
        Binding("end", "last_page", "Última página", key_display="Fin", show=False, id="pending.last"),
        Binding("space", "toggle_mark", "Marcar", key_display="espacio", id="pending.mark"),
        # Not in the footer: the marks line above the detail pane says it, where the eye is.
        Binding("u", "clear_marks", "Quitar marcas", id="pending.unmark", show=False),
    ]

    loading_page: reactive[bool] = reactive(False)

    class WindowChanged(Message):
        """Rows arrived (a new search, a page at either edge)."""

        def __init__(self, table: PendingTable, direction: Direction) -> None:
            super().__init__()
            self.table = table
            self.direction = direction

    class ReceiptHighlighted(Message):
        def __init__(self, row: PendingRow | None) -> None:
            super().__init__()
            self.row = row

    class MarksChanged(Message):
        def __init__(self, marked: list[PendingRow]) -> None:
            super().__init__()
            self.marked = marked

    class _PageLoaded(Message):
        def __init__(self, request: _Request, page: PendingPage) -> None:
            super().__init__()
            self.request = request
            self.page = page

    class _PageFailed(Message):
        def __init__(self, request: _Request, error: Exception) -> None:
            super().__init__()
            self.request = request
            self.error = error

    def __init__(self, fetch: Fetch, today: date, clock: Clock | None = None,
                 **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._fetch = fetch
        self.today = today
        self._clock = clock
        self._lapse_now: tuple[object, str] | None = None  # the clock read for this drawing
        self._lapse_cache: dict[object, object] = {}
        self.sort = SORT_POLICY
        self.rows_window: list[PendingRow] = []
        self.more_before = False
        self.more_after = False
        self.search = ""
        self._generation = 0
        self._in_flight = False
        self._queued: _Request | None = None
        self._marked: dict[int, PendingRow] = {}
        self._shown: list[str] = []

    def on_mount(self) -> None:
        self._fit_columns(self.app.size.width)

    def on_resize(self) -> None:
        if self._fit_columns(self.size.width):
            self._redraw(keep=self.current_row, direction="refresh")

    def _fit_columns(self, width: int) -> bool:
        """Columns for the width there is (ui/layout.py); True when they changed."""
        self._shown = [f.key for f in layout.pending_columns(width)]
        return apply_columns(self, layout.pending_columns(width))

    # --- loading ------------------------------------------------------------------------

    def load(self, search: str = "") -> None:
        """Show the first page for `search` (a new search or a refresh)."""
        self.search = search
        self._request("first")

    def set_sort(self, sort: str) -> None:
        """The list in another order (SORT_POLICY or SORT_LAPSE), from its first page: the
        most urgent first by lapse."""
        if sort != self.sort:
            self.sort = sort
            self._request("first")

    def reload(self) -> None:
        """Fetch the window again around the current row (after a link or a payment)."""
        self._request("refresh")

    def _request(self, direction: Direction) -> None:
        # One query at a time: while one runs, only the newest request waits for it (a
        # thread cannot be stopped, and stale queries would slow the one that matters).
        self._generation += 1
        self.loading_page = True
        request = _Request(self._generation, direction, self.search, self.sort)
        if self._in_flight:
            self._queued = request
        else:
            self._in_flight = True
            self._load_page(request)

    def _next_request(self) -> None:
        self._in_flight = False
        queued, self._queued = self._queued, None
        if queued is not None:
            self._in_flight = True
            self._load_page(queued)

    @work(thread=True, group="pending-page", exit_on_error=False)
    def _load_page(self, request: _Request) -> None:
        kwargs: dict[str, object] = {"search": request.search, "limit": PAGE_SIZE}
        sort = request.sort
        if sort != SORT_POLICY:  # the default order needs no word (stand-ins in tests)
            kwargs["sort"] = sort
        window = self.rows_window
        if request.direction == "last":
            kwargs["last"] = True
        elif request.direction == "next" and window:
            kwargs["after"] = window[-1].sort_key(sort)
        elif request.direction == "prev" and window:
            kwargs["before"] = window[0].sort_key(sort)
        elif request.direction == "refresh" and window and self.more_before:
            # From just before the window's first row: the same place, fresh rows.
            kwargs["after"] = key_just_before(window[0].sort_key(sort))
        try:
            page = self._fetch(**kwargs)
        except Exception as exc:  # shown to the agent, never a crash
            self.post_message(self._PageFailed(request, exc))
            return
        self.post_message(self._PageLoaded(request, page))

    @on(_PageFailed)
    def _page_failed(self, event: _PageFailed) -> None:
        self._next_request()
        if event.request.generation != self._generation:
            return
        self.loading_page = False
        self.app.notify(texts.PAGE_FAILED, severity="error", markup=False)

    @on(_PageLoaded)
    def _page_loaded(self, event: _PageLoaded) -> None:
        self._next_request()
        request, page = event.request, event.page
        if (request.generation != self._generation or request.search != self.search
                or request.sort != self.sort):
            return  # an older search, order or window: drop it
        self.loading_page = False
        current = self.current_row
        direction = request.direction
        if direction in ("first", "refresh"):
            self.rows_window = list(page.rows)
            self.more_before = direction == "refresh" and bool(page.rows) and self.more_before
            self.more_after = page.has_more
        elif direction == "last":
            self.rows_window = list(page.rows)
            self.more_before = page.has_more
            self.more_after = False
        elif direction == "next":
            self.rows_window = self.rows_window + page.rows
            self.more_after = page.has_more
            overflow = len(self.rows_window) - PAGE_SIZE * MAX_PAGES
            if overflow > 0:
                self.rows_window = self.rows_window[overflow:]
                self.more_before = True
        else:  # prev
            self.rows_window = page.rows + self.rows_window
            self.more_before = page.has_more
            overflow = len(self.rows_window) - PAGE_SIZE * MAX_PAGES
            if overflow > 0:
                self.rows_window = self.rows_window[:-overflow]
                self.more_after = True
        self._redraw(keep=current, direction=direction)
        self.post_message(self.WindowChanged(self, direction))

    # --- drawing ------------------------------------------------------------------------

    def _cells(self, row: PendingRow) -> list[Text]:
        style = ""
        if row.is_overdue(self.today):
            style = self.get_component_rich_style("pending-table--overdue", partial=True)
        marked = row.receipt_id in self._marked
        if marked:  # the whole row stands out, wherever the cursor is
            style = self.get_component_rich_style("pending-table--marked", partial=True)
        # Text objects: names such as "[bold]Rosa[/bold]" show literally, never as markup.
        cells = {
            "mark": lambda: Text(MARK if marked else " ", style=style),
            "policy": lambda: Text(row.policy, style=style, overflow="ellipsis", no_wrap=True),
            "receipt": lambda: Text(row.receipt, style=style),
            "ramo": lambda: Text(row.ramo, style=style, overflow="ellipsis", no_wrap=True),
            "holder": lambda: Text(row.holder, style=style, overflow="ellipsis", no_wrap=True),
            "email": lambda: Text(row.email or "—", style=style, overflow="ellipsis", no_wrap=True),
            "amount": lambda: Text(f"{format_amount(row.amount)} {row.currency}", style=style,
                                   justify="right"),
            "due": lambda: Text(short_date(row.due_date), style=style),
            "lapse": lambda: self._lapse_cell(row, style, marked),
        }
        return [cells[key]() for key in self._shown]

    def _lapse_cell(self, row: PendingRow, style: str | Style, marked: bool) -> Text:
        """"Cesa en 5 días", "Cesa hoy 12:00", "Cesó 03/12", coloured by urgency (the row's
        own style when marked: the mark stands out over everything)."""
        if row.lapses_at is None or self._clock is None:
            return Text("—", style=style)
        if self._lapse_now is None:
            self._lapse_now = self._clock()
            self._lapse_cache = {}
        clock = self._lapse_cache.get(row.lapses_at)
        if clock is None:
            now, tz = self._lapse_now
            clock = self._lapse_cache[row.lapses_at] = lapse_clock(row.lapses_at, now, tz)  # type: ignore[arg-type]
        urgent = LAPSE_CLASS.get(clock.urgency)  # type: ignore[attr-defined]
        if urgent and not marked:
            style = self.get_component_rich_style(urgent, partial=True)
        return Text(clock.short_text, style=style, no_wrap=True)  # type: ignore[attr-defined]

    def lapse_of(self, row: PendingRow):  # type: ignore[no-untyped-def]
        """The row's lapse clock (domain/lapse.py), or None."""
        if row.lapses_at is None or self._clock is None:
            return None
        now, tz = self._clock()
        return lapse_clock(row.lapses_at, now, tz)  # type: ignore[arg-type]

    def _redraw(self, *, keep: PendingRow | None, direction: Direction) -> None:
        self._lapse_now = None  # read the clock again for these rows
        old_index = self.cursor_row
        old_scroll = self.scroll_y
        self.clear()
        for row in self.rows_window:
            self.add_row(*self._cells(row), key=str(row.receipt_id))
        if not self.rows_window:
            self.post_message(self.ReceiptHighlighted(None))
            return
        if direction == "last":
            target = len(self.rows_window) - 1
        elif direction == "first" or keep is None:
            target = 0
        else:
            kept = keep.sort_key(self.sort)
            target = next((i for i, r in enumerate(self.rows_window)
                           if r.sort_key(self.sort) >= kept), len(self.rows_window) - 1)
        self.move_cursor(row=target, scroll=False)
        # Keep the cursor where it was on the screen when rows were added above or removed.
        shift = target - old_index
        if direction in ("next", "prev", "refresh"):
            self.call_after_refresh(self.scroll_to, y=max(0, old_scroll + shift), animate=False)
        else:
            self.call_after_refresh(self.move_cursor, row=target, scroll=True)
        self.post_message(self.ReceiptHighlighted(self.rows_window[target]))

    # --- cursor -------------------------------------------------------------------------

    @property
    def current_row(self) -> PendingRow | None:
        if not self.rows_window or not (0 <= self.cursor_row < len(self.rows_window)):
            return None
        return self.rows_window[self.cursor_row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        index = event.cursor_row
        if index != self.cursor_row or not (0 <= index < len(self.rows_window)):
            return  # posted while the window was being redrawn: stale
        self.post_message(self.ReceiptHighlighted(self.rows_window[index]))
        if self.loading_page:
            return
        if self.more_after and index >= len(self.rows_window) - PREFETCH_MARGIN:
            self._request("next")
        elif self.more_before and index < PREFETCH_MARGIN:
            self._request("prev")

    def action_first_page(self) -> None:
        if self.more_before:
            self._request("first")
        elif self.rows_window:
            self.move_cursor(row=0)

    def action_last_page(self) -> None:
        if self.more_after:
            self._request("last")
        elif self.rows_window:
            self.move_cursor(row=len(self.rows_window) - 1)

    # --- marks: several receipts for one link, or several policies for many at once -------

    @property
    def marked(self) -> list[PendingRow]:
        return sorted(self._marked.values(), key=lambda r: r.key)

    def action_toggle_mark(self) -> None:
        row = self.current_row
        if row is None:
            return
        self._set_mark(row, row.receipt_id not in self._marked)
        self.post_message(self.MarksChanged(self.marked))
        self.refresh_bindings()
        if self.cursor_row < self.row_count - 1:
            self.move_cursor(row=self.cursor_row + 1)

    def _set_mark(self, row: PendingRow, on_: bool) -> None:
        if on_:
            self._marked[row.receipt_id] = row
        else:
            self._marked.pop(row.receipt_id, None)
        key = str(row.receipt_id)
        if key in self.rows:
            for column, cell in zip(self._shown, self._cells(row), strict=True):
                self.update_cell(key, column, cell)

    def clear_marks(self) -> None:
        for row in list(self._marked.values()):
            self._set_mark(row, False)
        self.post_message(self.MarksChanged([]))
        self.refresh_bindings()

    def action_clear_marks(self) -> None:
        self.clear_marks()
        self.app.notify(texts.MARKS_CLEARED, markup=False, timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_marks":  # in the footer only while there are marks
            return bool(self._marked)
        return True

    def find_index(self, receipt_id: int) -> int | None:
        for i, row in enumerate(self.rows_window):
            if row.receipt_id == receipt_id:
                return i
        return None
