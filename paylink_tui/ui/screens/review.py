""""Por revisar": payment notifications that were kept for a person to decide.

Apply one to a link (the agent types the reference) or resolve it with a note.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from paylink_tui.domain.dates import local_datetime_text
from paylink_tui.domain.money import format_amount
from paylink_tui.ui import layout, texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.layout import Column
from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog
from paylink_tui.ui.widgets.columns import apply as apply_columns
from paylink_tui.ui.widgets.footer import AppFooter

RESPONSES = {"approved": "Aprobado", "denied": "Rechazado", "error": "Error"}

# The reference and the amount (with its currency) as wide as their longest; the reason
# takes what is left (ui/layout.py).
COLUMNS = (
    Column("received", "Recibida", 16, drop=2),
    Column("reference", "Referencia", 10),
    Column("amount", "Monto", 5),
    Column("response", "Respuesta", 9),
    Column("auth", "Autorización", 12, drop=1),
    Column("reason", "Motivo", 20, flex=True, most=70),
)


def review_cells(item: Any, tz: str) -> dict[str, Text]:
    amount = "—"
    if item.amount is not None:
        amount = format_amount(item.amount) + (f" {item.currency}" if item.currency else "")
    return {
        "received": Text(local_datetime_text(item.received_at, tz)),
        "reference": Text(item.reference or "—"),
        "amount": Text(amount, justify="right"),
        "response": Text(RESPONSES.get(item.response or "", item.response or "—")),
        "auth": Text(item.authorization or "—"),
        "reason": Text(item.reason_label, overflow="ellipsis", no_wrap=True),
    }


class ReviewScreen(Screen):
    CSS_PATH = ["../styles/review.tcss"]
    TITLE = "Por revisar"

    BINDINGS = [
        Binding("escape", "app.back", "Volver", id="review.back"),
        Binding("a", "apply", "Aplicar", id="review.apply",
                tooltip="Aplicar a una liga el pago seleccionado"),
        Binding("d", "dismiss_item", "Resolver", id="review.dismiss",
                tooltip="Resolver con nota, sin aplicarlo"),
        Binding("f5", "refresh", "Actualizar", id="review.refresh", show=False),
    ]

    class _Loaded(Message):
        def __init__(self, items: list[Any] | None) -> None:
            super().__init__()
            self.items = items

    class _Done(Message):
        def __init__(self, text: str, error: bool, warning: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error
            self.warning = warning

    class _Differs(Message):
        """The payment does not fit the link: the agent must confirm, seeing both sides."""

        def __init__(self, notification_id: int, reference: str,
                     differences: list[str]) -> None:
            super().__init__()
            self.notification_id = notification_id
            self.reference = reference
            self.differences = differences

    def __init__(self) -> None:
        super().__init__()
        self.items: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(texts.REVIEW_INTRO), id="review-intro")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="review-table")
        yield Static("", id="review-detail")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.refresh_data()

    def on_resize(self) -> None:
        self._draw_rows()

    def _draw_rows(self, *, force: bool = False) -> None:
        table = self.query_one(DataTable)
        tz = self.app.timezone  # type: ignore[attr-defined]
        cells = [review_cells(item, tz) for item in self.items]
        columns = [c if c.flex else c.at_least(*(cell[c.key].plain for cell in cells)) for c in COLUMNS]
        width = table.size.width or self.app.size.width
        if not apply_columns(table, layout.fit(columns, width - layout.TABLE_SCROLLBAR)) and not force:
            return
        shown = [str(key.value) for key in table.columns]
        keep = table.cursor_row
        table.clear()
        for item, cell in zip(self.items, cells, strict=True):
            table.add_row(*(cell[key] for key in shown), key=str(item.id))
        if 0 <= keep < len(self.items):
            table.move_cursor(row=keep)

    def refresh_data(self) -> None:
        self._load()

    def action_refresh(self) -> None:
        self.refresh_data()

    @work(thread=True, exclusive=True, group="review-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            items = self.app.backend.list_review()  # type: ignore[attr-defined]
        except Exception as exc:
            agent_message(exc, "leer la lista por revisar")  # logged when unexpected
            items = None
        self.post_message(self._Loaded(items))

    @on(_Loaded)
    def _loaded(self, event: _Loaded) -> None:
        if event.items is None:
            self.app.notify(texts.REVIEW_LOAD_FAILED,
                            severity="error", markup=False)
            return
        self.items = event.items
        self._draw_rows(force=True)
        self._show_detail()

    def selected(self) -> Any | None:
        table = self.query_one(DataTable)
        if not self.items or not (0 <= table.cursor_row < len(self.items)):
            return None
        return self.items[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        item = self.selected()
        panel = self.query_one("#review-detail", Static)
        if item is None:
            panel.update(Text(texts.REVIEW_EMPTY, style="italic"))
            return
        tz = self.app.timezone  # type: ignore[attr-defined]
        text = Text.assemble(("Motivo: ", "bold"), item.reason_label)
        if item.link_reference:
            text.append(f"\nLiga relacionada: {item.link_reference}")
        if item.folio:
            text.append(f"\nFolio MIT: {item.folio}")
        if item.taken_at:
            when = local_datetime_text(item.taken_at, tz)
            text.append(f"\nCobrado por MIT: {when}" if item.response == "approved"
                        else f"\nIntento de pago en MIT: {when}")
        if item.applied:
            text.append("\nEl pago ya se aplicó; revíselo y resuélvalo con una nota.")
        if item.note:
            text.append(f"\nNota: {item.note}")
        panel.update(text)

    # --- actions ---------------------------------------------------------------------------

    def action_apply(self) -> None:
        item = self.selected()
        if item is None:
            return
        message = Text(texts.apply_prompt(item))

        def chosen(reference: str | None) -> None:
            if reference:
                self._apply(item.id, reference)

        self.app.push_screen(PromptDialog(
            "Aplicar a una liga", message, "Referencia de la liga",
            value=item.link_reference or item.reference or "", submit_label="Aplicar",
            required="Escriba la referencia de la liga."), chosen)

    def action_dismiss_item(self) -> None:
        item = self.selected()
        if item is None:
            return
        message = Text(texts.dismiss_prompt(item))

        def chosen(note: str | None) -> None:
            if note:
                self._dismiss_item(item.id, note)

        self.app.push_screen(PromptDialog(
            "Resolver con nota", message, "Nota", submit_label="Resolver",
            required="Escriba una nota que explique por qué se resuelve sin aplicar."), chosen)

    @work(thread=True, group="review-action", exit_on_error=False)
    def _apply(self, notification_id: int, reference: str, accept: bool = False) -> None:
        from paylink_tui.domain.errors import NeedsConfirmation

        item = next((i for i in self.items if i.id == notification_id), None)
        try:
            got = self.app.backend.apply_review(  # type: ignore[attr-defined]
                notification_id, reference=reference, accept_differences=accept)
        except NeedsConfirmation as exc:
            self.post_message(self._Differs(notification_id, exc.reference, exc.differences))
            return
        except Exception as exc:
            self.post_message(self._Done(agent_message(exc, "aplicar el pago"), True))
            return
        self.post_message(self._Done(texts.applied(item, reference, got.status, got.email_problem),
                                     False, warning=got.email_problem is not None))

    @on(_Differs)
    def _differs(self, event: _Differs) -> None:
        def chosen(yes: bool | None) -> None:
            if yes:
                self._apply(event.notification_id, event.reference, True)

        self.app.push_screen(ConfirmDialog(texts.DIFFERS_TITLE,
                                           texts.differs(event.reference, event.differences),
                                           texts.DIFFERS_CONFIRM), chosen)

    @work(thread=True, group="review-action", exit_on_error=False)
    def _dismiss_item(self, notification_id: int, note: str) -> None:
        item = next((i for i in self.items if i.id == notification_id), None)
        try:
            self.app.backend.dismiss_review(notification_id, note=note)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(self._Done(agent_message(exc, "resolver el pago"), True))
            return
        self.post_message(self._Done(texts.dismissed(item), False))

    @on(_Done)
    def _done(self, event: _Done) -> None:
        severity = "error" if event.error else "warning" if event.warning else "information"
        self.app.notify(event.text, severity=severity, timeout=15 if event.warning else 8,
                        markup=False)
        self.app.refresh_screens()  # type: ignore[attr-defined]
