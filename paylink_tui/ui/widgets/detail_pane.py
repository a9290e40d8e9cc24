"""The detail of the highlighted receipt: its policy, holder, emails and earlier links.

Loaded in a thread worker when the cursor rests on a receipt; the cursor moving on while
a detail is in flight simply drops the late answer. Everything the agent reads is built
from `rich.text.Text` pieces, so holder names and addresses are shown literally.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from paylink_tui.domain.dates import short_date
from paylink_tui.domain.labels import LINK
from paylink_tui.domain.money import format_money
from paylink_tui.domain.results import PendingRow, ReceiptDetail
from paylink_tui.domain.status import LinkStatus, ReceiptStatus
from paylink_tui.ui import texts

NARROW = 110  # below this many columns the pane folds into two columns

FetchDetail = Callable[[int], ReceiptDetail | None]
DETAIL_DELAY = 0.08  # seconds the cursor must rest before the detail is read


class DetailPane(VerticalScroll, can_focus=False):
    """Shows `ReceiptDetail` for the highlighted row."""

    class _Loaded(Message):
        def __init__(self, receipt_id: int, detail: ReceiptDetail | None) -> None:
            super().__init__()
            self.receipt_id = receipt_id
            self.detail = detail

    def __init__(self, fetch: FetchDetail, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self._fetch = fetch
        self._wanted: int | None = None
        self._timer = None
        self.detail: ReceiptDetail | None = None
        self.answered: int | None = None  # the receipt whose read came back last (even empty)
        self.marked: list[PendingRow] = []

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(Text(""), id="detail-body")

    def show_receipt(self, row: PendingRow | None) -> None:
        if row is None:
            self._wanted = None
            self.detail = None
            return
        if row.receipt_id == self._wanted:
            return
        self._wanted = row.receipt_id
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DETAIL_DELAY, lambda: self._load(row.receipt_id))

    def show_message(self, text: Text) -> None:
        """Instead of a receipt: what the empty list means (the screen says it)."""
        self._wanted = None
        self.detail = None
        self.query_one("#detail-body", Static).update(text)

    def on_resize(self) -> None:
        if self.detail is not None:
            self._render_detail()

    def refresh_detail(self) -> None:
        if self._wanted is not None:
            self._load(self._wanted)

    def set_marked(self, marked: list[PendingRow]) -> None:
        self.marked = marked
        self._render_detail()

    @work(thread=True, exclusive=True, group="receipt-detail", exit_on_error=False)
    def _load(self, receipt_id: int) -> None:
        try:
            detail = self._fetch(receipt_id)
        except Exception:
            detail = None
        self.post_message(self._Loaded(receipt_id, detail))

    @on(_Loaded)
    def _loaded(self, event: _Loaded) -> None:
        if event.receipt_id != self._wanted:
            return
        self.answered = event.receipt_id
        self.detail = event.detail
        self._render_detail()

    def _render_detail(self) -> None:
        body = self.query_one("#detail-body", Static)
        if self.detail is None:
            body.update(Text(""))
            return
        width = self.content_size.width or self.app.size.width - 2
        body.update(render_detail(self.detail, self.marked, width))


def _address(label: str, address: str, width: int) -> Text:
    """`label address`, folded before the "@" when the column is too narrow (never
    mid-word, so the address still reads as one)."""
    line = Text.assemble((label, "dim"), address)
    if line.cell_len <= width or "@" not in address:
        return line
    local, _, domain = address.partition("@")
    return Text.assemble((label, "dim"), local, "\n", "@" + domain)


def render_detail(detail: ReceiptDetail, marked: list[PendingRow], width: int = 200) -> Table:
    """Policy and holder | the policy's pending receipts | earlier links, in three columns,
    or two below NARROW columns (the links under the holder). Nothing is cut short: a long
    name wraps, an address folds before its "@", and the pane scrolls."""
    r = detail.receipt
    marked_ids = {m.receipt_id for m in marked}
    narrow = width < NARROW
    # The receipts column is as wide as its lines; the others share the rest.
    side = max(20, (width - 46) if narrow else (width - 46) // 2)

    who: list[Text] = [
        Text.assemble(("Póliza ", "bold"), (r.policy, "bold"), "  ", (r.ramo, "dim")),
        Text.assemble(("Contratante: ", "dim"), r.holder),
    ]
    if detail.emails:
        who.append(_address("Correo: ", detail.emails[0], side))
        for other in detail.emails[1:3]:
            who.append(_address("Usado antes: ", other, side))
    else:
        who.append(Text(texts.NO_EMAIL_ON_FILE, style="italic"))
    if r.phone:
        who.append(Text.assemble(("Teléfono: ", "dim"), r.phone))
    if detail.status == ReceiptStatus.WITH_LINK.value:
        who.append(Text(texts.HAS_LIVE_LINK, style="bold"))

    recs: list[Text] = [Text("Recibos pendientes de la póliza", style="bold")]
    for rec in sorted([r, *detail.policy_receipts], key=lambda x: (x.due_date, x.receipt)):
        mark = "●" if rec.receipt_id in marked_ids else " "
        here = "›" if rec.receipt_id == r.receipt_id else " "
        recs.append(Text.assemble(here, mark, " ", rec.receipt, "  ", short_date(rec.due_date), "  ",
                                  format_money(rec.amount, rec.currency)))
    if not marked:  # the marks have a line of their own above the pane (pending screen)
        recs.append(Text(texts.MARK_HINT, style="dim"))

    links: list[Text] = [Text("Ligas anteriores", style="bold")]
    if not detail.links:
        links.append(Text("Ninguna.", style="dim"))
    for link in detail.links[:4]:
        # Three short lines, so that a narrow column cuts no amount or address in two.
        links.append(Text.assemble((LINK[LinkStatus(link.status)], "bold"), " ", link.reference))
        links.append(Text.assemble("  ", format_money(link.amount, link.currency),
                                   (" · hasta ", "dim"), short_date(link.last_valid_day)))
        links.append(_address("  a ", link.email, side))

    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_column(no_wrap=True)
    if narrow:
        grid.add_row(Group(*who, Text(""), *links), Group(*recs))
        return grid
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row(Group(*who), Group(*recs), Group(*links))
    return grid
