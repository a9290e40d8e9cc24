""""Liga de pago": the client's email, then "Generar liga" in a worker with a spinner.

Dismisses with the `GeneratedLink` on success; on failure it stays open and says, in
Spanish, what happened and what to do (the service's `LinkError.message`).

Meanwhile `Backend.link_preview` is read in a worker: its warnings (older pending receipts
of the policy left out, a link still payable after the policy lapses) are shown above the
address when they arrive, and ctrl+o takes the older receipts into the link. A warning is
never a refusal: Enter generates at once, whether the preview has arrived or not.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, LoadingIndicator, Static

from paylink_tui.domain.dates import short_date
from paylink_tui.domain.money import format_money
from paylink_tui.domain.results import PendingRow
from paylink_tui.ui import texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.widgets.buttons import ButtonRow
from paylink_tui.ui.widgets.footer import AppFooter
from paylink_tui.ui.widgets.inputs import EmailInput
from paylink_tui.ui.widgets.plans import PlanPicker, plan_picker


class LinkDialog(ModalScreen):
    CSS_PATH = ["../styles/link_dialog.tcss"]

    AUTO_FOCUS = "#email"
    BINDINGS = [
        Binding("escape", "cancel", "Cancelar", id="link.cancel"),
        # Priority, so an Enter typed right behind `l` (before the dialog has focused
        # its input) still means "Generar liga" instead of getting lost.
        Binding("enter", "generate", "Generar liga", show=False, priority=True, id="link.generate"),
        # A control key: the address input takes every letter.
        Binding("ctrl+o", "include_older", "Incluir anteriores", key_display="ctrl+o",
                id="link.include_older",
                tooltip="Incluir en la liga los recibos anteriores pendientes de la póliza"),
    ]

    class _Previewed(Message):
        def __init__(self, numbers: tuple[str, ...], preview: object | None) -> None:
            super().__init__()
            self.numbers = numbers
            self.preview = preview

    class _Done(Message):
        def __init__(self, result: object | None, error: str | None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, rows: list[PendingRow], *, email: str = "", submit_at_once: bool = False,
                 note: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.note = note  # e.g. the receipts are the marked ones, not the cursor's
        self.email = email
        self.busy = False
        self.submit_at_once = submit_at_once  # Enter was typed before the dialog opened
        self.preview: Any | None = None  # Backend.link_preview for these rows, once read

    @property
    def total(self) -> Decimal:
        return sum((r.amount for r in self.rows), start=self.rows[0].amount * 0)

    def _receipts_text(self) -> Text:
        numbers = ", ".join(r.receipt for r in self.rows)
        return Text.assemble((f"{texts.receipts_label(len(self.rows))} ", "dim"), numbers,
                             ("   Vence ", "dim"), short_date(min(r.due_date for r in self.rows)))

    def _amount_text(self) -> Text:
        return Text.assemble(("Monto ", "dim"), (format_money(self.total, self.rows[0].currency), "bold"))

    def compose(self) -> ComposeResult:
        first = self.rows[0]
        total = self.total
        with Vertical(id="link-box"):
            yield Static("Liga de pago", id="link-title")
            yield Static(Text.assemble(("Póliza ", "dim"), first.policy, ("   Contratante ", "dim"),
                                       first.holder), id="link-policy")
            yield Static(self._receipts_text(), id="link-receipts")
            if self.note:
                yield Static(Text(self.note), id="link-note")
            yield Static(self._amount_text(), id="link-amount")
            yield Static("", id="link-warnings")
            yield Label("Correo electrónico del cliente", id="email-label")
            yield EmailInput(self.email, id="email")
            yield Static("", id="email-error")
            yield plan_picker(self.app.backend, total, first.currency, id="plans")  # type: ignore[attr-defined]
            yield Static("", id="link-error")
            yield LoadingIndicator(id="link-spinner")
            with ButtonRow(id="link-buttons"):
                yield Button("Generar liga", id="generate", variant="primary")
                yield Button("Cancelar", id="cancel")
        yield AppFooter()  # this dialog's keys, not those of the screen beneath

    def on_mount(self) -> None:
        email = self.query_one("#email", EmailInput)
        email.cursor_position = len(email.value)
        self._show_validation(email.validate(email.value))
        self.query_one("#link-spinner").display = False
        self.query_one("#link-warnings").display = False
        self._preview(tuple(r.receipt for r in self.rows))
        if self.submit_at_once:
            self._generate()

    # --- warnings: older receipts left out, payable after the lapse ----------------------------

    @work(thread=True, exclusive=True, group="link-preview", exit_on_error=False)
    def _preview(self, numbers: tuple[str, ...]) -> None:
        try:
            preview = self.app.backend.link_preview(receipt_numbers=numbers)  # type: ignore[attr-defined]
        except Exception:  # only advice: "Generar liga" says what is wrong, if anything
            preview = None
        self.post_message(self._Previewed(numbers, preview))

    @on(_Previewed)
    def _previewed(self, event: _Previewed) -> None:
        if event.numbers != tuple(r.receipt for r in self.rows):
            return  # for the receipts before "include the older ones"
        self.preview = event.preview
        lines = texts.link_warnings(event.preview)
        box = self.query_one("#link-warnings", Static)
        box.display = bool(lines)
        box.update(Text("\n").join(lines) if lines else "")
        self.refresh_bindings()

    async def action_include_older(self) -> None:
        preview = self.preview
        if self.busy or preview is None or not preview.older_pending:
            return
        have = {r.receipt for r in self.rows}
        self.rows = sorted([*self.rows, *(r for r in preview.older_pending if r.receipt not in have)],
                           key=lambda r: (r.due_date, r.receipt))
        self.preview = None
        self.query_one("#link-receipts", Static).update(self._receipts_text())
        self.query_one("#link-amount", Static).update(self._amount_text())
        self.query_one("#link-warnings", Static).update(
            Text(texts.older_included(len(self.rows)), style="italic"))
        # The plans follow the amount (a plan's minimum may now be reached).
        await self.query_one("#plans", PlanPicker).remove()
        picker = plan_picker(self.app.backend, self.total, self.rows[0].currency, id="plans")  # type: ignore[attr-defined]
        await self.query_one("#link-box").mount(picker, before=self.query_one("#link-error"))
        self.refresh_bindings()
        self._preview(tuple(r.receipt for r in self.rows))

    @on(Input.Changed, "#email")
    def _email_changed(self, event: Input.Changed) -> None:
        self._show_validation(event.validation_result)

    def _show_validation(self, result) -> None:  # type: ignore[no-untyped-def]
        ok = result is None or result.is_valid
        error = self.query_one("#email-error", Static)
        if ok:
            error.update("")
        else:
            # The reason quotes what was typed: a Text keeps it literal.
            error.update(Text("; ".join(result.failure_descriptions)))
        self.query_one("#generate", Button).disabled = not ok or self.busy
        self.query_one("#link-error", Static).update("")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "include_older":  # in the footer only when there are older ones
            return self.preview is not None and bool(self.preview.older_pending) and not self.busy
        if action == "generate":  # Enter on "Cancelar" is the button's own
            return self.focused is None or self.focused.id in ("email", "plans", "generate")
        return True

    def action_generate(self) -> None:
        self._generate()

    @on(Button.Pressed, "#generate")
    def _pressed(self) -> None:
        self._generate()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    def _generate(self) -> None:
        email = self.query_one("#email", EmailInput)
        result = email.validate(email.value)
        if self.busy or (result is not None and not result.is_valid):
            self._show_validation(result)
            return
        self._set_busy(True)
        self._run(email.value.strip(), self.query_one("#plans", PlanPicker).chosen)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#link-spinner").display = busy
        self.query_one("#email", EmailInput).disabled = busy
        self.query_one("#plans", PlanPicker).disabled = busy
        self.query_one("#generate", Button).disabled = busy
        self.query_one("#cancel", Button).disabled = busy
        if busy:
            self.query_one("#link-error", Static).update(
                Text("Generando la liga con MIT y enviando el correo…", style="italic"))

    @work(thread=True, exclusive=True, group="generate-link", exit_on_error=False)
    def _run(self, email: str, plans: tuple[int, ...]) -> None:
        try:
            result = self.app.backend.generate_link(  # type: ignore[attr-defined]
                receipt_numbers=[r.receipt for r in self.rows], email=email, plans=plans)
        except Exception as exc:  # an unexpected failure: still a message, never a crash
            self.post_message(self._Done(None, agent_message(exc, "generar la liga")))
            return
        self.post_message(self._Done(result, None))

    @on(_Done)
    def _done(self, event: _Done) -> None:
        self._set_busy(False)
        if event.error is not None:
            self.query_one("#link-error", Static).update(Text(event.error))
            self.query_one("#email", EmailInput).focus()
            return
        self.dismiss(event.result)

