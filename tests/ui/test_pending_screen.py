"""The pending list: rows, search, totals, paging, marks, literal names, the detail pane."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from textual.widgets import Input, Static

from paylink_tui.services.receipts import PendingPage, PendingRow
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.widgets.detail_pane import DetailPane
from paylink_tui.ui.widgets.pending_table import MAX_PAGES, PAGE_SIZE, PendingTable
from tests.ui.conftest import app_for, settle, wait_until


def table_of(app) -> PendingTable:
    return app.screen.query_one(PendingTable)


def shown_text(widget) -> str:
    return str(widget.render())


async def test_home_lists_pending_receipts_sorted_by_policy_with_totals(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PendingScreen)
        table = table_of(app)
        assert [r.policy for r in table.rows_window] == sorted(r.policy for r in table.rows_window)
        assert table.row_count == 6
        totals = shown_text(app.screen.query_one("#totals", Static))
        assert "6 recibos pendientes" in totals
        assert "$ 530.00 USD" in totals
        assert "$ 21,606.01 MXN" in totals  # 3 × 75.17 + 12,480.00 + 8,900.50


async def test_names_that_look_like_markup_are_shown_literally(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        holders = [str(table.get_cell_at((i, 4))) for i in range(table.row_count)]
        assert "[bold]Rosa[/bold] Ibáñez" in holders
        assert "Juan [red] [/]Gómez Muñoz" in holders


async def test_overdue_receipts_are_styled_apart(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        overdue_style = table.get_component_rich_style("pending-table--overdue", partial=True)
        styles = {row.receipt: table.get_cell_at((i, 1)).style for i, row in enumerate(table.rows_window)}
        assert styles["4100000004"] == overdue_style  # due 30/09/2021, today is 07/10/2021
        assert styles["4100000001"] != overdue_style  # due 15/10/2021


async def test_search_filters_as_you_type_and_enter_moves_to_the_first_match(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"pena")  # accent-insensitive: Peña
        await wait_until(pilot, lambda: table_of(app).search == "pena" and not table_of(app).loading_page)
        table = table_of(app)
        assert {r.policy for r in table.rows_window} == {"AU1000001", "DA4000004"}
        await wait_until(pilot, lambda: "coinciden" in shown_text(app.screen.query_one("#totals")))
        assert "4 recibos coinciden" in shown_text(app.screen.query_one("#totals"))
        await pilot.press("enter")
        assert app.focused is table
        assert table.cursor_row == 0
        await pilot.press("escape")  # back in the table: Escape clears the search
        await pilot.press("slash", "escape")
        await settle(pilot)
        assert app.screen.query_one("#search", Input).value == ""
        assert table.row_count == 6


async def test_totals_say_calculating_again_as_soon_as_the_search_changes(ctx):
    """Figures for an earlier search are never left beside the rows of a new one."""
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        totals = app.screen.query_one("#totals", Static)
        await pilot.press("slash", *"pena")
        await wait_until(pilot, lambda: "4 recibos coinciden" in shown_text(totals))
        await pilot.press("z")
        assert "Calculando" in shown_text(totals)
        await pilot.press("backspace")
        assert "Calculando" in shown_text(totals)
        await wait_until(pilot, lambda: "4 recibos coinciden" in shown_text(totals))


async def test_a_search_without_matches_shows_an_empty_list_and_zero(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzzz")
        await wait_until(pilot, lambda: table_of(app).search == "zzzz" and not table_of(app).loading_page)
        assert table_of(app).row_count == 0
        await wait_until(pilot, lambda: "0 recibos" in shown_text(app.screen.query_one("#totals")))


async def test_detail_pane_shows_the_policy_receipts_and_holder_email(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.detail is not None)
        assert pane.detail.receipt.policy == "AU1000001"
        assert [r.receipt for r in pane.detail.policy_receipts] == ["4100000002", "4100000003"]
        assert pane.detail.emails == ["ana@example.com"]


async def test_detail_pane_never_cuts_a_long_email_or_name_short(ctx):
    """The agent reads the address the link will go to: all of it, wrapped if it must be."""
    import dataclasses

    from rich.console import Console

    from paylink_tui.ui.widgets.detail_pane import render_detail

    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.detail is not None)
        detail = pane.detail
    email = "maria.guadalupe.hernandez.zuniga1958@correo-empresarial.com.mx"
    holder = "María Guadalupe de los Ángeles Hernández Zúñiga Avendaño"
    receipt = dataclasses.replace(detail.receipt, first_name=holder, last_name="", second_last_name="")
    long_detail = dataclasses.replace(detail, receipt=receipt, emails=[email, "ana@example.com"])
    for width in (118, 78):  # the pane at 120 and at 80 columns
        console = Console(width=width, record=True, color_system=None)
        console.print(render_detail(long_detail, []))
        lines = console.export_text().splitlines()
        column = lines[0].index("Recibos pendientes")  # the first column ends before it
        first = "".join(line[:column].strip() for line in lines)
        assert "…" not in "".join(lines)
        assert f"Correo:{email}" in first.replace(" ", ""), width
        assert holder.replace(" ", "") in first.replace(" ", ""), width


async def test_space_marks_receipts_of_several_policies_and_l_takes_them_all_at_once(ctx):
    """Marks of one policy make one link (the dialog); marks of several policies are many
    links at once (issue 17): each policy keeps its marks."""
    from paylink_tui.ui.screens.batch import BatchScreen

    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("space", "space")  # marks 4100000001 and 4100000002 (cursor moves down)
        assert [r.receipt for r in table.marked] == ["4100000001", "4100000002"]
        assert str(table.get_cell_at((0, 0))) == "●"
        await pilot.press("down", "space")  # another policy: kept beside the first
        assert [r.policy for r in table.marked] == ["AU1000001", "AU1000001", "DA4000004"]
        marks = str(app.screen.query_one("#marks").render())
        assert "3 recibos marcados de 2 pólizas" in marks and "l: una liga por póliza" in marks
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen))
        assert app.screen.receipt_numbers == ("4100000001", "4100000002", "4100000006")


def synthetic_fetch(total: int):
    """A pending_page stand-in over `total` numbered rows (the widget is storage-agnostic)."""
    rows = [
        PendingRow(receipt_id=i + 1, receipt=f"{i:07d}", policy=f"P{i:07d}", ramo="Autos",
                   first_name="N", last_name="A", second_last_name="", email=None, phone=None,
                   amount=Decimal("1.00"), currency="MXN", due_date=date(2030, 1, 1))
        for i in range(total)
    ]
    calls: list[dict] = []

    def fetch(*, search="", after=None, before=None, last=False, limit=100) -> PendingPage:
        calls.append(dict(after=after, before=before, last=last))
        keys = [r.key for r in rows]
        if after is not None:
            start = next((i for i, k in enumerate(keys) if k > after), total)
            chunk = rows[start:start + limit]
            return PendingPage(chunk, start + limit < total)
        if before is not None:
            end = next((i for i, k in enumerate(keys) if k >= before), total)
            chunk = rows[max(0, end - limit):end]
            return PendingPage(chunk, end - limit > 0)
        if last:
            return PendingPage(rows[-limit:], total > limit)
        return PendingPage(rows[:limit], total > limit)

    return fetch, calls


async def test_the_table_keeps_a_window_of_pages_and_fetches_at_the_edges():
    from textual.app import App

    fetch, calls = synthetic_fetch(2000)

    class Host(App):
        def compose(self):
            yield PendingTable(fetch, today=date(2021, 10, 7))

        def on_mount(self):
            self.query_one(PendingTable).focus()
            self.query_one(PendingTable).load("")

    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.query_one(PendingTable)
        assert table.row_count == PAGE_SIZE
        for _ in range(14):
            await pilot.press("pagedown")
            await settle(pilot)
        # Far past the first pages, but never more than the window in memory.
        assert table.row_count <= PAGE_SIZE * MAX_PAGES
        assert table.more_before
        assert table.current_row.receipt_id > PAGE_SIZE * MAX_PAGES - 50
        here = table.current_row.receipt_id
        await pilot.press("up")
        await settle(pilot)
        assert table.current_row.receipt_id == here - 1
        await pilot.press("end")
        await settle(pilot)
        assert table.current_row.receipt == f"{1999:07d}"
        assert calls[-1]["last"] is True
        await pilot.press("home")
        await settle(pilot)
        assert table.current_row.receipt == f"{0:07d}"
        assert not table.more_before
        # Walking back up from the last page fetches previous pages seamlessly.
        await pilot.press("end")
        await settle(pilot)
        await pilot.press(*["up"] * 70)
        await settle(pilot)
        assert table.current_row.receipt == f"{1999 - 70:07d}"
        assert any(c["before"] is not None for c in calls)


async def test_a_database_failure_while_paging_is_told_not_raised():
    calls = {"n": 0}

    def broken(**kwargs):
        calls["n"] += 1
        raise RuntimeError("disk I/O error")

    from textual.app import App

    class Host(App):
        def compose(self):
            yield PendingTable(broken, today=date(2021, 10, 7) + timedelta(days=0))

        def on_mount(self):
            self.query_one(PendingTable).load("")

    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert calls["n"] == 1
        assert app.is_running
        texts = [n.message for n in app._notifications]
        assert any("No se pudo leer la lista de pendientes" in t for t in texts)


async def test_earlier_links_in_the_detail_use_the_link_status_words(ctx):
    from io import StringIO

    from rich.console import Console

    from tests.ui.conftest import add_link

    add_link(ctx.engine, reference="AU1000001211006", receipt_ids=[2], amount="75.17", state="paid",
             paid=True)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: pane.detail is not None and pane.detail.links)
        console = Console(width=118, file=StringIO(), record=True)
        console.print(pane.query_one("#detail-body", Static).content)
        text = console.export_text()
        assert "Pagada AU1000001211006" in text  # the link's word, not the receipt's "Pagado"


async def test_the_footer_offers_liga_de_pago_only_while_there_is_a_receipt(ctx):
    from textual.widgets._footer import FooterKey

    def offers_link(app) -> bool:
        return any(k.action == "link" for k in app.screen.query(FooterKey))

    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert offers_link(app)
        table_of(app).load("nadie")  # as a refresh would: the focus stays on the table
        await wait_until(pilot, lambda: table_of(app).search == "nadie"
                         and not table_of(app).loading_page)
        await settle(pilot)
        assert table_of(app).row_count == 0
        assert not offers_link(app)
        table_of(app).load("")
        await wait_until(pilot, lambda: table_of(app).row_count == 6)
        await settle(pilot)
        assert offers_link(app)


async def test_a_dialog_has_a_footer_with_its_own_keys(ctx):
    """Over a dialog the footer says what works there, not the keys of the list beneath."""
    from textual.widgets._footer import FooterKey

    from paylink_tui.ui.screens.help import HelpScreen
    from paylink_tui.ui.screens.link_dialog import LinkDialog

    def footer(app) -> set[str]:
        return {k.description for k in app.screen.query(FooterKey)}

    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "Liga de pago" in footer(app)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await settle(pilot)
        assert footer(app) == {"Cancelar"}
        await pilot.press("escape")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await settle(pilot)
        assert footer(app) == {"Cerrar"}
