""""Historial": every link, newest first, with the summary and the filters."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Footer, Header, Select, Sparkline, Static

from paylink_tui.domain.dates import to_local
from paylink_tui.domain.labels import ATTEMPT, EMAIL, LINK, LINK_SHORT
from paylink_tui.domain.money import format_amount, format_money
from paylink_tui.domain.status import AttemptResult, EmailStatus, LinkStatus
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.screens.link_actions import LinkActionsMixin

ALL = "all"
STATUS_OPTIONS = [("Todos los estados", ALL)] + [(LINK[s], s.value) for s in (
    LinkStatus.ACTIVE, LinkStatus.PAID, LinkStatus.EXPIRED, LinkStatus.CANCELLED,
    LinkStatus.PENDING_CONFIRMATION, LinkStatus.PAYMENT_CONFIRMING)]

COLUMNS = (  # fits 120 columns; the link's detail has every date and word in full
    ("mark", " ", 1),  # "!": something about this link is "por revisar"
    ("created", "Creada", 6),
    ("reference", "Referencia", 22),
    ("holder", "Contratante", 12),
    ("amount", "Monto", 14),  # "999,999.99 MXN": an amount is never cut
    ("status", "Estado", 13),  # "Sin confirmar"
    ("email", "Correo", 7),
    ("attempt", "Intento", 9),
    ("auth", "Autoriz.", 8),
    ("paid", "Pagada", 6),  # the day; the time is in the link's detail
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


class HistoryScreen(LinkActionsMixin):
    CSS_PATH = ["../styles/history.tcss"]
    TITLE = "Historial"

    BINDINGS = [
        Binding("escape", "app.pending", "Pendientes", id="history.back"),
        Binding("enter", "open", "Detalle", id="history.open", show=False),
        Binding("r", "resend", "Reenviar correo", id="history.resend"),
        Binding("x", "cancel_link", "Cancelar liga", id="history.cancel"),
        Binding("c", "copy_link", "Copiar liga", id="history.copy", show=False),
        Binding("m", "toggle_mine", "Mis ligas", id="history.mine"),
        Binding("e", "focus_filter", "Filtrar por estado", id="history.filter", show=False),
        Binding("v", "app.review", "Por revisar", id="history.review"),
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

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="summary-row"):
            yield Static(Text("Calculando…", style="italic"), id="summary")
            with Vertical(id="spark-box"):
                yield Static("Ligas enviadas, últimos 14 días", id="spark-label")
                yield Sparkline([], id="sparkline")
        with Horizontal(id="filters"):
            yield Select(STATUS_OPTIONS, value=ALL, allow_blank=False, id="status-filter")
            yield Checkbox("Mis ligas", id="mine")
            yield Static("", id="review-count")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="links")
        yield table
        yield Static("No hay ligas que mostrar con este filtro.", id="empty")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#links", DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()
        self.refresh_data()

    # --- data -----------------------------------------------------------------------------

    def refresh_data(self) -> None:
        status = self.query_one("#status-filter", Select).value
        mine = self.query_one("#mine", Checkbox).value
        self._load(None if status == ALL else str(status), bool(mine))

    @work(thread=True, exclusive=True, group="history-load", exit_on_error=False)
    def _load(self, status: str | None, mine: bool) -> None:
        backend = self.app.backend  # type: ignore[attr-defined]
        try:
            rows = backend.list_links(status=status, mine=mine)
            summary = backend.summary()
            review = len(backend.list_review())
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
            Text(f"Por revisar: {count} (v)", style="bold" if count else "dim"))
        self.query_one("#review-count").set_class(count > 0, "-attention")
        self._show_rows(event.rows or [])

    def _show_summary(self, s: Any) -> None:
        share = "—" if s.paid_share is None else f"{round(s.paid_share * 100)} %"
        collected = " · ".join(format_money(v, c) for c, v in sorted(s.collected.items())) or "$ 0.00"
        self.query_one("#summary", Static).update(Text.assemble(
            ("Enviadas hoy ", "dim"), (str(s.sent_today), "bold"),
            ("   Esta semana ", "dim"), (str(s.sent_week), "bold"),
            ("   Pagadas ", "dim"), (share, "bold"), "\n",
            ("Cobrado ", "dim"), (collected, "bold"),
        ))
        self.query_one("#sparkline", Sparkline).data = list(s.daily_sent)

    def _show_rows(self, rows: list[Any]) -> None:
        table = self.query_one("#links", DataTable)
        keep = self.selected_link()
        tz = self.app.timezone  # type: ignore[attr-defined]
        self.rows = rows
        table.clear()
        for row in rows:
            attempt = row.last_attempt
            attempt_text = ATTEMPT[AttemptResult(attempt.result)] if attempt else "—"
            if attempt and attempt.cd_error:
                attempt_text += f" ({attempt.cd_error})"
            table.add_row(
                mark_cell(row),
                Text(to_local(row.created_at, tz).strftime("%d/%m")),
                Text(row.reference),
                Text(row.holder, overflow="ellipsis", no_wrap=True),
                Text(f"{format_amount(row.amount)} {row.currency}", justify="right"),
                status_cell(row),
                Text(email_label(row.email_status), overflow="ellipsis", no_wrap=True),
                Text(attempt_text, overflow="ellipsis", no_wrap=True),
                Text(row.authorization or ""),
                Text(to_local(row.paid_at, tz).strftime("%d/%m") if row.paid_at else ""),
                key=row.reference,
            )
        if keep is not None:
            for i, row in enumerate(rows):
                if row.reference == keep.reference:
                    table.move_cursor(row=i)
                    break
        self.query_one("#empty", Static).display = not rows

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
