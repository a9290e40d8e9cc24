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
from textual.widgets import DataTable, Footer, Header, Static

from paylink_tui.domain.dates import local_datetime_text
from paylink_tui.domain.money import format_amount
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog

RESPONSES = {"approved": "Aprobado", "denied": "Rechazado", "error": "Error"}

COLUMNS = (
    ("received", "Recibida", 16),
    ("reference", "Referencia", 16),
    ("amount", "Monto", 11),
    ("response", "Respuesta", 9),
    ("auth", "Autorización", 12),
    ("reason", "Motivo", 40),
)


class ReviewScreen(Screen):
    CSS_PATH = ["../styles/review.tcss"]
    TITLE = "Por revisar"

    BINDINGS = [
        Binding("escape", "app.history", "Historial", id="review.back"),
        Binding("a", "apply", "Aplicar a una liga", id="review.apply"),
        Binding("d", "dismiss_item", "Resolver con nota", id="review.dismiss"),
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
        yield Static(Text(
            "Pagos que MIT notificó y que no se aplicaron solos. Revise cada uno: aplíquelo a "
            "la liga correcta (a) o resuélvalo con una nota (d)."), id="review-intro")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="review-table")
        yield Static("", id="review-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()
        self.refresh_data()

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
            self.app.notify("No se pudo leer la lista por revisar. Pulse F5 para reintentar.",
                            severity="error", markup=False)
            return
        tz = self.app.timezone  # type: ignore[attr-defined]
        self.items = event.items
        table = self.query_one(DataTable)
        table.clear()
        for item in self.items:
            amount = format_amount(item.amount) if item.amount is not None else "—"
            table.add_row(
                Text(local_datetime_text(item.received_at, tz)),
                Text(item.reference or "—"),
                Text(amount, justify="right"),
                Text(RESPONSES.get(item.response or "", item.response or "—")),
                Text(item.authorization or "—"),
                Text(item.reason_label, overflow="ellipsis", no_wrap=True),
                key=str(item.id),
            )
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
            panel.update(Text("No hay notificaciones por revisar.", style="italic"))
            return
        tz = self.app.timezone  # type: ignore[attr-defined]
        text = Text.assemble(("Motivo: ", "bold"), item.reason_label)
        if item.link_reference:
            text.append(f"\nLiga relacionada: {item.link_reference}")
        if item.folio:
            text.append(f"\nFolio MIT: {item.folio}")
        if item.taken_at:
            text.append(f"\nTomado por MIT: {local_datetime_text(item.taken_at, tz)}")
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
        message = Text.assemble(
            "Aplicar la notificación ", (str(item.id), "bold"), " (referencia ",
            item.reference or "—", ") a la liga cuya referencia escriba. Queda registrado quién "
            "lo hizo.")

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
        message = Text.assemble("Resolver la notificación ", (str(item.id), "bold"),
                                " sin aplicarla. Explique por qué en la nota.")

        def chosen(note: str | None) -> None:
            if note:
                self._dismiss_item(item.id, note)

        self.app.push_screen(PromptDialog(
            "Resolver con nota", message, "Nota", submit_label="Resolver",
            required="Escriba una nota que explique por qué se resuelve sin aplicar."), chosen)

    @work(thread=True, group="review-action", exit_on_error=False)
    def _apply(self, notification_id: int, reference: str, accept: bool = False) -> None:
        from paylink_tui.domain.errors import NeedsConfirmation

        try:
            got = self.app.backend.apply_review(  # type: ignore[attr-defined]
                notification_id, reference=reference, accept_differences=accept)
        except NeedsConfirmation as exc:
            self.post_message(self._Differs(notification_id, exc.reference, exc.differences))
            return
        except Exception as exc:
            self.post_message(self._Done(agent_message(exc, "aplicar la notificación"), True))
            return
        self.post_message(self._Done(got.message, False, warning=got.email_problem is not None))

    @on(_Differs)
    def _differs(self, event: _Differs) -> None:
        message = Text.assemble(
            "El pago no coincide con la liga ", (event.reference, "bold"), ":\n")
        for line in event.differences:
            message.append(f"\n• {line}")
        message.append("\n\n¿Aplicarlo de todos modos? Quedará registrado que usted lo aceptó.")

        def chosen(yes: bool | None) -> None:
            if yes:
                self._apply(event.notification_id, event.reference, True)

        self.app.push_screen(ConfirmDialog("Confirmar la diferencia", message,
                                           "Aplicar de todos modos"), chosen)

    @work(thread=True, group="review-action", exit_on_error=False)
    def _dismiss_item(self, notification_id: int, note: str) -> None:
        try:
            self.app.backend.dismiss_review(notification_id, note=note)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(self._Done(agent_message(exc, "resolver la notificación"), True))
            return
        self.post_message(self._Done(f"Notificación {notification_id} resuelta.", False))

    @on(_Done)
    def _done(self, event: _Done) -> None:
        severity = "error" if event.error else "warning" if event.warning else "information"
        self.app.notify(event.text, severity=severity, timeout=15 if event.warning else 8,
                        markup=False)
        self.app.refresh_screens()  # type: ignore[attr-defined]
