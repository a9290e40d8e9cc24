"""Home: the receipts pending payment, a search box, the totals and the detail pane."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from functools import partial

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from paylink_tui.domain.dates import local_date
from paylink_tui.domain.money import format_money
from paylink_tui.domain.results import SORT_POLICY, OffListReceipt, PendingRow, PendingTotals
from paylink_tui.ui import layout, texts
from paylink_tui.ui.widgets.detail_pane import DetailPane
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.inputs import TextInput
from paylink_tui.ui.widgets.pending_table import PendingTable

TOTALS_DELAY = 0.4  # totals count every match: wait for the typing to settle


class PendingScreen(Screen):
    CSS_PATH = ["../styles/pending.tcss"]
    TITLE = "Pendientes de pago"
    # The table has the focus from the first moment: keys typed over the first frame
    # (cli/first_frame.py) arrive now, and must not land in the search box.
    AUTO_FOCUS = "#pending-table"

    BINDINGS = [
        # Priority: run while the app handles the key itself, so that keys typed right
        # behind it (a fast typist, a paste) already find the focus where it belongs.
        Binding("slash", "focus_search", "Buscar", key_display="/", priority=True, id="pending.search"),
        Binding("enter", "submit_search", "Ir al primer resultado", show=False, priority=True,
                id="pending.submit"),
        Binding("l", "link", "Liga de pago", id="pending.link"),
        # One key, two meanings; not in the footer (no room at 80 columns): the header says
        # the order and the key ("por póliza (o: por cese)").
        Binding("o", "sort('lapse')", "Ordenar por cese", id="pending.sort_lapse", show=False,
                tooltip="Ordenar por cese de la cobertura, lo más urgente primero"),
        Binding("o", "sort('policy')", "Ordenar por póliza", id="pending.sort_policy", show=False,
                tooltip="Ordenar por póliza (el orden de siempre)"),
        # Not in the footer (no room at 80 columns): the detail pane's hint says it.
        Binding("t", "batch_search", "Ligas a todos", id="pending.batch", show=False,
                tooltip="Una liga por póliza a cada recibo que coincide con la búsqueda"),
        Binding("escape", "clear_search", "Limpiar búsqueda", show=False, id="pending.clear"),
        Binding("f5", "refresh", "Actualizar", show=False, id="pending.refresh"),
    ]

    class _OffListLoaded(Message):
        def __init__(self, search: str, found: list[OffListReceipt]) -> None:
            super().__init__()
            self.search = search
            self.found = found

    class _TotalsLoaded(Message):
        def __init__(self, search: str, totals: PendingTotals | None) -> None:
            super().__init__()
            self.search = search
            self.totals = totals

    def __init__(self) -> None:
        super().__init__()
        self._totals_timer = None
        self._link_when_loaded = False
        self._submit_when_open = False
        self._link_opening: asyncio.Event | None = None  # see keys_wait_for
        # Totals count every match (seconds at a million rows): one query at a time, and
        # only for the newest search once it finishes, so typing never piles them up.
        self._totals_running = False
        self._totals_wanted: str | None = None
        self._totals_after_rows = False
        self._footer_link: bool | None = None  # "Liga de pago" as the footer shows it
        self._totals_pending = True  # the totals line says "Calculando…"
        self._totals: tuple[PendingTotals | None, str] | None = None
        self.off_list: list[OffListReceipt] = []  # what an empty search found elsewhere

    def compose(self) -> ComposeResult:
        backend = self.app.backend  # type: ignore[attr-defined]
        yield Header()
        banner = getattr(self.app, "demo_banner", None)
        if banner is not None:
            yield Static(banner, id="demo-banner")
        with Horizontal(id="search-row"):
            yield TextInput(placeholder=texts.SEARCH_PLACEHOLDER, id="search")
            yield Static(Text(texts.CALCULATING, style="italic"), id="totals")
        with Vertical(id="pending-body"):
            yield PendingTable(backend.pending_page,
                               today=local_date(self.app.now(), self.app.timezone),  # type: ignore[attr-defined]
                               clock=lambda: (self.app.now(), self.app.timezone),  # type: ignore[attr-defined]
                               id="pending-table")
            yield Static("", id="marks")
            yield DetailPane(backend.receipt_detail, id="detail")
        yield AppFooter()

    def on_mount(self) -> None:
        self.sub_title = texts.sort_subtitle(SORT_POLICY)
        table = self.query_one(PendingTable)
        table.focus()
        table.load("")
        self._totals_after_rows = True  # the first rows first: totals would compete with them
        self.query_one("#marks").display = False
        self._fit(self.app.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)
        if self._totals is not None:
            self._show_totals(*self._totals)

    def _fit(self, height: int) -> None:
        # The detail pane gives up lines before the table does (ui/layout.py); with no rows
        # it takes the room, to say why and what to do.
        pane = self.query_one(DetailPane)
        pane.styles.height = "1fr" if self.has_class("-empty") else layout.detail_height(height)

    @property
    def table(self) -> PendingTable:
        return self.query_one(PendingTable)

    # --- search -------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        # At once, not on the next loop turn: keys typed right after `/` belong to the box.
        self.set_focus(self.query_one("#search", Input))

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""
        self.table.focus()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        value = event.value
        if self._totals_timer is not None:
            self._totals_timer.stop()
        # No debounce for the rows: the table runs one query at a time and only the newest
        # waiting one after it, so a burst of keys costs at most two queries.
        self.table.load(value)
        totals = self.query_one("#totals", Static)
        if not self._totals_pending:  # an update lays the row out again: once per burst
            self._totals_pending = True
            self._totals = None
            totals.update(Text(texts.CALCULATING, style="italic"))
        self._totals_timer = self.set_timer(TOTALS_DELAY, partial(self._want_totals, value))

    def action_submit_search(self) -> None:
        search = self.query_one("#search", Input)
        table = self.table
        if self._linked_off_list() is not None and not table.row_count and not table.loading_page:
            self.action_open_off_list()
            return
        if table.search != search.value:
            table.load(search.value)
        self.set_focus(table)
        if table.row_count:
            table.move_cursor(row=0)

    # --- a search that finds no pending receipt ---------------------------------------------

    @work(thread=True, exclusive=True, group="pending-off-list", exit_on_error=False)
    def _load_off_list(self, search: str) -> None:
        try:
            found = self.app.backend.off_list(search=search)  # type: ignore[attr-defined]
        except Exception:  # only a hint: the empty list says enough without it
            found = []
        self.post_message(self._OffListLoaded(search, found))

    @on(_OffListLoaded)
    def _off_list_loaded(self, event: _OffListLoaded) -> None:
        if event.search != self.table.search or self.table.rows_window:
            return
        self.off_list = event.found
        self._show_empty()

    def _show_empty(self) -> None:
        search = self.table.search
        if not search.strip():
            self.query_one(DetailPane).show_message(Text(texts.NOTHING_PENDING, style="italic"))
            return
        today = local_date(self.app.now(), self.app.timezone)  # type: ignore[attr-defined]
        lines = [Text(texts.no_match(search), style="bold")]
        lines += [Text(texts.off_list_line(item, today)) for item in self.off_list]
        linked = self._linked_off_list()
        if linked is not None:
            several = sum(1 for i in self.off_list if i.link_reference) > 1
            lines.append(Text(texts.open_link_hint(linked.receipt, several), style="bold"))
        self.query_one(DetailPane).show_message(Text("\n").join(lines))
        self.refresh_bindings()

    def _linked_off_list(self) -> OffListReceipt | None:
        return next((i for i in self.off_list if i.link_reference), None)

    def action_open_off_list(self) -> None:
        from paylink_tui.ui.screens.link_detail import LinkDetailScreen

        item = self._linked_off_list()
        if item is not None and item.link_reference:
            self.app.push_screen(LinkDetailScreen(item.link_reference))

    # --- totals -------------------------------------------------------------------------

    def _want_totals(self, search: str) -> None:
        if self._totals_running:
            self._totals_wanted = search
            return
        self._totals_running = True
        self._load_totals(search)

    @work(thread=True, group="pending-totals", exit_on_error=False)
    def _load_totals(self, search: str) -> None:
        lower_thread_priority()
        try:
            totals = self.app.backend.pending_totals(search=search)  # type: ignore[attr-defined]
        except Exception:
            totals = None
        self.post_message(self._TotalsLoaded(search, totals))

    @on(_TotalsLoaded)
    def _totals_loaded(self, event: _TotalsLoaded) -> None:
        self._totals_running = False
        wanted, self._totals_wanted = self._totals_wanted, None
        if wanted is not None and wanted != event.search:
            self._want_totals(wanted)
        if event.search != self.query_one("#search", Input).value:
            return
        self._totals_pending = False
        self._show_totals(event.totals, event.search)

    def _show_totals(self, totals: PendingTotals | None, search: str) -> None:
        self._totals = (totals, search)
        widget = self.query_one("#totals", Static)
        width = widget.content_size.width or max(1, self.app.size.width - 50)
        widget.update(totals_text(totals, search, width))

    # --- rows and detail ----------------------------------------------------------------

    @on(PendingTable.ReceiptHighlighted)
    def _highlighted(self, event: PendingTable.ReceiptHighlighted) -> None:
        self.query_one(DetailPane).show_receipt(event.row)
        # The footer is rebuilt on every refresh_bindings(): only when "Liga de pago" comes
        # or goes, not on every row (a search keystroke waited for it).
        available = self._link_available()
        if available != self._footer_link:
            self._footer_link = available
            self.refresh_bindings()

    @on(PendingTable.MarksChanged)
    def _marks_changed(self, event: PendingTable.MarksChanged) -> None:
        self.query_one(DetailPane).set_marked(event.marked)
        line = self.query_one("#marks", Static)
        line.display = bool(event.marked)
        if event.marked and not several_links(event.marked):
            first = event.marked[0]
            total = sum((m.amount for m in event.marked), start=first.amount * 0)
            line.update(Text(texts.marks_line(len(event.marked), first.policy, first.holder,
                                              format_money(total, first.currency))))
        elif event.marked:
            sums: dict[str, Decimal] = {}
            for m in event.marked:
                sums[m.currency] = sums.get(m.currency, Decimal("0.00")) + m.amount
            total_text = " · ".join(format_money(v, c) for c, v in sorted(sums.items()))
            line.update(Text(texts.marks_line_many(len(event.marked),
                                                   len({m.policy for m in event.marked}), total_text)))

    @on(PendingTable.WindowChanged)
    def _window_changed(self, event: PendingTable.WindowChanged) -> None:
        table = event.table
        if self.has_class("-empty") != (not table.rows_window):
            self.set_class(not table.rows_window, "-empty")
            self._fit(self.app.size.height)
        if not table.rows_window:
            self.query_one(DetailPane).show_receipt(None)
            self.off_list = []
            self._show_empty()
            if table.search.strip():
                self._load_off_list(table.search)
        elif self.off_list:
            self.off_list = []
            self.refresh_bindings()
        if self._totals_after_rows:
            self._totals_after_rows = False
            self._want_totals(table.search)
            from paylink_tui.ui.app import freeze_startup_objects

            self.app.after_held_keys(freeze_startup_objects)  # type: ignore[attr-defined]
        if self._link_when_loaded and not table.loading_page:
            submit, self._link_when_loaded, self._submit_when_open = self._submit_when_open, False, False
            self._open_link_dialog(submit_at_once=submit)

    @on(DataTable.RowSelected, "#pending-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if self._link_when_loaded:  # `l` then Enter, typed ahead of the rows: "Generar liga"
            self._submit_when_open = True
            return
        self.action_link()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit_search":  # otherwise Enter is the table's (open the link dialog)
            if not self.is_mounted:
                return False
            return (self.focused is self.query_one("#search", Input)
                    or (not self.table.row_count and self._linked_off_list() is not None))
        if action == "link":
            return self.is_mounted and self._link_available()
        if action == "sort":
            return self.is_mounted and parameters[0] != self.table.sort
        return True

    def _link_available(self) -> bool:
        return self.table.current_row is not None or self.table.loading_page

    # --- actions ------------------------------------------------------------------------

    def selected_receipts(self) -> list[PendingRow]:
        """The marked receipts when there are (wherever the cursor is: the dialog says so),
        else the one under the cursor."""
        table = self.table
        if table.marked:
            return table.marked
        current = table.current_row
        return [current] if current is not None else []

    def action_link(self) -> None:
        if self.table.loading_page:
            # The agent typed ahead of the rows (search, Enter, `l`): act on what they asked for.
            self._link_when_loaded = True
            if self._link_opening is None:
                self._link_opening = asyncio.Event()
            return
        self._open_link_dialog()

    def keys_wait_for(self):  # type: ignore[no-untyped-def]
        """For ui/keys.py: while an `l` typed ahead of the rows waits for them, the keys typed
        after it are the dialog's (an address, Enter): they wait until it is open."""
        return self._link_opening.wait() if self._link_opening is not None else None

    def _open_link_dialog(self, *, submit_at_once: bool = False) -> None:
        from paylink_tui.ui.screens.link_dialog import LinkDialog

        opening, self._link_opening = self._link_opening, None
        if opening is not None:
            opening.set()  # the dialog is pushed below (or there is nothing to link)
        rows = self.selected_receipts()
        if not rows:
            return
        if several_links(rows):  # marks of several policies: one link each, at once
            self._open_batch(receipt_numbers=[r.receipt for r in rows])
            return
        detail = self.query_one(DetailPane).detail
        email = rows[0].email or ""
        if not email and detail is not None and detail.receipt.policy == rows[0].policy and detail.emails:
            email = detail.emails[0]
        current = self.table.current_row
        note = None
        if self.table.marked and (current is None or current.policy != rows[0].policy):
            note = texts.marked_elsewhere(len(rows), rows[0].policy)
        self.app.push_screen(LinkDialog(rows, email=email, submit_at_once=submit_at_once,
                                        note=note), self._link_done)

    def action_batch_search(self) -> None:
        """Every receipt that matches the search (the whole list without one)."""
        self._open_batch(search=self.query_one("#search", Input).value)

    def _open_batch(self, *, receipt_numbers: list[str] | None = None, search: str | None = None) -> None:
        from paylink_tui.ui.screens.batch import BatchScreen

        self.app.push_screen(BatchScreen(receipt_numbers=receipt_numbers or (), search=search),
                             self._batch_done)

    def _batch_done(self, outcome: object) -> None:
        if outcome is None:
            return  # nothing was made: the marks stay for another try
        self.table.clear_marks()
        self.refresh_data()

    def _link_done(self, result: object) -> None:
        if result is None:
            return
        from paylink_tui.ui.screens.link_sent import LinkSentScreen

        self.table.clear_marks()
        self.refresh_data()
        self.app.push_screen(LinkSentScreen(result))  # type: ignore[arg-type]

    def action_refresh(self) -> None:
        self.refresh_data()

    def action_sort(self, sort: str) -> None:
        """By lapse (most urgent first) or back by policy; the header says which."""
        self.table.set_sort(sort)
        self.sub_title = texts.sort_subtitle(sort)
        self.refresh_bindings()

    def refresh_data(self) -> None:
        """Rows, totals and detail again (after a link, a payment, an import)."""
        self.table.reload()
        self._want_totals(self.query_one("#search", Input).value)
        self.query_one(DetailPane).refresh_detail()


def several_links(rows: list[PendingRow]) -> bool:
    """Marks that one link cannot take (several policies, or currencies): many at once."""
    return len({(r.policy, r.currency) for r in rows}) > 1


def lower_thread_priority() -> None:
    """Let the kernel favour the rows over the totals when the cores are busy (Linux: a
    thread is a task and can be reniced alone; elsewhere this does nothing)."""
    import os
    import threading

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def totals_text(totals: PendingTotals | None, search: str, width: int = 200) -> Text:
    """One line when it fits in `width`, else the count over the amounts: never an amount cut."""
    if totals is None:
        return Text(texts.TOTALS_FAILED, style="italic")
    head = texts.totals_head(totals.count, bool(search.strip()))
    amounts = [format_money(v, c) for c, v in sorted(totals.amounts.items())]
    for lines in ([head, *amounts],), ([head], amounts), ([head], *[[a] for a in amounts]):
        text = "\n".join(" · ".join(line) for line in lines)
        if max(len(line) for line in text.split("\n")) <= width:
            return Text(text)
    return Text(text)
