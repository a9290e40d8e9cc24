""""Historial": every link, newest first, with the summary and the filters."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Header, Input, Select, Sparkline, Static

from paylink_tui.domain.dates import to_local
from paylink_tui.domain.errors import Forbidden
from paylink_tui.domain.labels import ATTEMPT, EMAIL, LINK, LINK_SHORT
from paylink_tui.domain.money import format_amount, format_money
from paylink_tui.domain.status import AttemptResult, EmailStatus, LinkStatus
from paylink_tui.ui import layout, texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.layout import Column
from paylink_tui.ui.screens.link_actions import LinkActionsMixin
from paylink_tui.ui.widgets.columns import apply as apply_columns
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.inputs import TextInput

SEARCH_DELAY = 0.2  # seconds of quiet typing before the list is searched

ALL = "all"
STATUS_OPTIONS = [("Todos los estados", ALL)] + [(LINK[s], s.value) for s in (
    LinkStatus.ACTIVE, LinkStatus.PAID, LinkStatus.EXPIRED, LinkStatus.CANCELLED,
    LinkStatus.PENDING_CONFIRMATION, LinkStatus.PAYMENT_CONFIRMING)]

# Column by column (ui/layout.py): the reference and the amount as wide as their longest,
# never cut; the holder (and, where there is room, the address) takes what is left; at
# 80 columns the paid day, the authorization, the day it was made, the email's state and
# the last attempt give way, in that order (the link's detail has them all).
COLUMNS = (
    Column("mark", " ", 1),  # "!": something about this link is "por revisar"
    Column("created", "Creada", 5, drop=3),  # dd/mm
    Column("reference", "Referencia", 10),
    Column("holder", "Contratante", 14, flex=True, want=24, most=48),
    Column("to", "Enviada a", 24, flex=True, most=40, drop=6),
    Column("amount", "Monto", 5),
    Column("status", "Estado", 6),
    Column("email", "Correo", 6, drop=2),
    Column("attempt", "Intento", 7, drop=1),
    Column("auth", "Autoriz.", 6, drop=5),
    Column("paid", "Pagada", 5, drop=4),  # the day; the time is in the link's detail
)


# The status word stands out the way the agent scans the list: paid green, live bold.
STATUS_STYLE = {
    LinkStatus.PAID.value: "bold green",
    LinkStatus.ACTIVE.value: "bold",
    LinkStatus.PENDING_CONFIRMATION.value: "bold yellow",
    LinkStatus.EXPIRED.value: "dim",
    LinkStatus.CANCELLED.value: "dim",
    LinkStatus.PAYMENT_CONFIRMING.value: "bold yellow",
}


# Before a link with something "por revisar": a payment of its own, or one for an older link
# with the same receipts (the detail says which).
REVIEW_MARK = "!"
REVIEW_MARK_STYLE = "bold red"


def mark_cell(row: Any) -> Text:
    return Text(REVIEW_MARK if row.needs_review else "", style=REVIEW_MARK_STYLE)


def status_cell(row: Any) -> Text:
    """The status word; a link paid in instalments says how many: "Pagada 6 MSI" (meses sin
    intereses, as every Mexican receipt abbreviates them; the detail says it in full). Where
    the whole word has no room, its short form ("Pago recibido")."""
    status = LinkStatus(row.status)
    text = LINK_SHORT.get(status, LINK[status])
    if row.status == LinkStatus.PAID.value and row.installment_months:
        text += f" {row.installment_months} MSI"
    return Text(text, style=STATUS_STYLE.get(row.status, ""))


def email_label(status: str | None) -> str:
    return EMAIL[EmailStatus(status)] if status else "—"


def row_cells(row: Any, tz: str) -> dict[str, Text]:
    """Every cell a link can show, by column key; the table takes those that fit."""
    attempt = row.last_attempt
    attempt_text = ATTEMPT[AttemptResult(attempt.result)] if attempt else "—"
    if attempt and attempt.cd_error:
        attempt_text += f" ({attempt.cd_error})"
    return {
        "mark": mark_cell(row),
        "created": Text(to_local(row.created_at, tz).strftime("%d/%m")),
        "reference": Text(row.reference),
        "holder": Text(row.holder, overflow="ellipsis", no_wrap=True),
        "to": Text(row.email, overflow="ellipsis", no_wrap=True),
        "amount": Text(f"{format_amount(row.amount)} {row.currency}", justify="right"),
        "status": status_cell(row),
        "email": Text(email_label(row.email_status), overflow="ellipsis", no_wrap=True),
        "attempt": Text(attempt_text, overflow="ellipsis", no_wrap=True),
        "auth": Text(row.authorization or ""),
        "paid": Text(to_local(row.paid_at, tz).strftime("%d/%m") if row.paid_at else ""),
    }


def fitted_columns(cells: list[dict[str, Text]], width: int) -> list:  # type: ignore[type-arg]
    """The columns for these rows in a table `width` wide: the fixed ones as wide as their
    longest cell."""
    columns = [c if c.flex else c.at_least(*(cell[c.key].plain for cell in cells))
               for c in COLUMNS]
    return layout.fit(columns, width - layout.TABLE_SCROLLBAR)


class HistoryScreen(LinkActionsMixin):
    CSS_PATH = ["../styles/history.tcss"]
    TITLE = "Historial"

    BINDINGS = [
        Binding("escape", "back", "Volver", id="history.back"),
        Binding("slash", "focus_search", "Buscar", key_display="/", id="history.search"),
        Binding("enter", "open", "Detalle", id="history.open", show=False),
        Binding("r", "resend", "Reenviar", id="history.resend", tooltip="Reenviar el correo de la liga"),
        Binding("x", "cancel_link", "Cancelar liga", id="history.cancel"),
        Binding("c", "copy_link", "Copiar liga", id="history.copy", show=False),
        Binding("m", "toggle_mine", "Mis ligas", id="history.mine", show=False),
        Binding("e", "focus_filter", "Filtrar por estado", id="history.filter", show=False),
        Binding("enter", "to_table", "Ir a la lista", id="history.to_table", show=False,
                priority=True),
        Binding("v", "app.review", "Por revisar", id="history.review", show=False),
        Binding("f5", "refresh", "Actualizar", id="history.refresh", show=False),
    ]

    class _Loaded(Message):
        def __init__(self, rows: list[Any] | None, summary: Any | None, review: int | None,
                     error: str | None) -> None:
            super().__init__()
            self.rows = rows
            self.summary = summary
            self.review = review
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []
        self._cells: list[dict[str, Text]] = []
        self._search_timer = None
        self._loaded_once = False

    def compose(self) -> ComposeResult:
        view = self.app.history_view  # type: ignore[attr-defined]  # as the agent left it
        yield Header()
        with Horizontal(id="summary-row"):
            yield Static(Text(texts.CALCULATING, style="italic"), id="summary")
            with Vertical(id="spark-box"):
                yield Static("Ligas enviadas, últimos 14 días", id="spark-label")
                yield Sparkline([], id="sparkline")
            yield Static("", id="review-count")
        with Horizontal(id="filters"):
            yield TextInput(value=str(view.get("search", "")), id="history-search",
                            placeholder=texts.HISTORY_SEARCH_PLACEHOLDER)
            yield Select(STATUS_OPTIONS, value=view.get("status", ALL), allow_blank=False,
                         id="status-filter")
            yield Checkbox("Mis ligas", value=bool(view.get("mine", False)), id="mine")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="links")
        yield table
        yield Static("", id="empty")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one("#links", DataTable).focus()
        self.query_one("#empty").display = False
        self.refresh_data()

    def on_resize(self) -> None:
        self.query_one("#history-search", Input).placeholder = (
            texts.HISTORY_SEARCH_PLACEHOLDER if self.app.size.width >= 100
            else texts.HISTORY_SEARCH_SHORT)
        self._draw_rows()

    # --- data -----------------------------------------------------------------------------

    def _filters(self) -> tuple[str | None, bool, str]:
        status = self.query_one("#status-filter", Select).value
        mine = bool(self.query_one("#mine", Checkbox).value)
        search = self.query_one("#history-search", Input).value
        self.app.history_view.update(  # type: ignore[attr-defined]
            status=status, mine=mine, search=search)
        return (None if status == ALL else str(status)), mine, search

    def refresh_data(self) -> None:
        self._load(*self._filters())

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load(self, status: str | None, mine: bool, search: str) -> None:
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            rows = backend.list_links(status=status, mine=mine, search=search)
            summary = backend.summary()
            try:
                review = len(backend.list_review())
            except Forbidden:  # team mode, an agent: the review queue is the supervisor's
                review = 0
        except Exception as exc:
            self.post_message(self._Loaded(None, None, None, agent_message(exc, "leer el historial")))
            return
        self.post_message(self._Loaded(rows, summary, review, None))

    @on(_Loaded)
    def _loaded(self, event: _Loaded) -> None:
        if event.error is not None:
            self.app.notify(f"{event.error} Pulse F5 para reintentar.", severity="error",
                            markup=False)
            return
        self._show_summary(event.summary)
        count = event.review or 0
        self.query_one("#review-count", Static).update(
            Text(f"Por revisar: {count} (v)", style="bold" if count else "dim", no_wrap=True))
        self.query_one("#review-count").set_class(count > 0, "-attention")
        self._show_rows(event.rows or [])

    def _show_summary(self, s: Any) -> None:
        share = "—" if s.paid_share is None else f"{round(s.paid_share * 100)} %"
        collected = " · ".join(format_money(v, c) for c, v in sorted(s.collected.items())) or "$ 0.00"
        # Two lines that never wrap inside a figure ("83 %" stays whole).
        summary = Text.assemble(
            ("Enviadas hoy ", "dim"), (str(s.sent_today), "bold"),
            ("   Esta semana ", "dim"), (str(s.sent_week), "bold"),
            ("   Pagadas ", "dim"), (share, "bold"), "\n",
            ("Cobrado ", "dim"), (collected, "bold"),
        )
        summary.no_wrap = True
        summary.overflow = "ellipsis"
        self.query_one("#summary", Static).update(summary)
        self.query_one("#sparkline", Sparkline).data = list(s.daily_sent)

    def _show_rows(self, rows: list[Any]) -> None:
        tz = self.app.timezone  # type: ignore[attr-defined]
        self._cells = [row_cells(row, tz) for row in rows]
        keep = self.selected_link()
        self.rows = rows
        self._draw_rows(force=True, keep=keep)
        self._show_empty()

    def _draw_rows(self, *, force: bool = False, keep: Any | None = None) -> None:
        """The rows in the columns that fit the table's width now."""
        table = self.query_one("#links", DataTable)
        width = table.size.width or self.app.size.width
        changed = apply_columns(table, fitted_columns(self._cells, width))
        if not (changed or force):
            return
        keep = keep if keep is not None else self.selected_link()
        shown = [str(key.value) for key in table.columns]
        table.clear()
        for row, cells in zip(self.rows, self._cells, strict=True):
            table.add_row(*(cells[key] for key in shown), key=row.reference)
        if keep is not None:
            for i, row in enumerate(self.rows):
                if row.reference == keep.reference:
                    table.move_cursor(row=i)
                    break

    def _show_empty(self) -> None:
        empty = self.query_one("#empty", Static)
        empty.display = not self.rows
        self.query_one("#links").set_class(not self.rows, "-empty")
        if self.rows:
            return
        status, mine, search = self._filters()
        filters = []
        if status is not None:
            filters.append(f"estado «{LINK[LinkStatus(status)]}»")
        if mine:
            filters.append("sólo mis ligas")
        if not (filters or search.strip()):
            empty.update(Text(texts.NO_LINKS_YET))
        else:
            empty.update(Text(texts.no_links(search, filters)))

    # --- selection and actions --------------------------------------------------------------

    def selected_link(self) -> Any | None:
        if not self.is_mounted:
            return None
        table = self.query_one("#links", DataTable)
        if not self.rows or not (0 <= table.cursor_row < len(self.rows)):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowSelected, "#links")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        from paylink_tui.ui.screens.link_detail import LinkDetailScreen

        link = self.selected_link()
        if link is not None:
            self.app.push_screen(LinkDetailScreen(link.reference))

    def action_toggle_mine(self) -> None:
        mine = self.query_one("#mine", Checkbox)
        mine.value = not mine.value

    def action_focus_filter(self) -> None:
        self.query_one("#status-filter", Select).focus()

    def action_refresh(self) -> None:
        self.refresh_data()

    @on(Select.Changed, "#status-filter")
    @on(Checkbox.Changed, "#mine")
    def _filters_changed(self) -> None:
        self.refresh_data()

    # --- search -----------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        self.set_focus(self.query_one("#history-search", Input))

    @on(Input.Changed, "#history-search")
    def _search_changed(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self.refresh_data)

    def action_to_table(self) -> None:
        self.query_one("#links", DataTable).focus()

    def action_back(self) -> None:
        """Esc: out of the search box first (emptying it), then back where the agent was."""
        search = self.query_one("#history-search", Input)
        if self.focused is search:
            if search.value:
                search.value = ""
            self.query_one("#links", DataTable).focus()
            return
        self.app.action_back()  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "to_table":  # Enter in the search box; elsewhere the table's or a button's
            return self.is_mounted and self.focused is self.query_one("#history-search", Input)
        return True
