"""The pending table's own cell renderer lays cells out exactly as DataTable does.

PendingTable renders its one-line `Text` cells without Rich's general layout (it cost a
third of a search keystroke). These tests hold it to DataTable's own `_render_cell`, cell
by cell: any text, width, justification, overflow, style, cursor and hover. If a Textual
upgrade changes how DataTable lays a cell out, they fail here first.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from paylink_tui.services.receipts import PendingPage
from paylink_tui.ui.widgets.pending_table import PendingTable

ALPHABET = "abcxyz ABC ÑñÁé\u0301ü漢字😀[]/=.,-0123456789\t"
EDGE = ["", " ", "  x  ", "[bold]Rosa[/bold]", "Ñandú Peña Ibáñez", "漢字漢字漢字漢字", "😀😀 ok",
        "e\u0301e\u0301e\u0301", "x" * 40, "trailing   ", "   leading", "12,345.67", "a\tb"]


def _cells(rng: random.Random) -> list[Text]:
    cells = []
    for plain in EDGE + ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
                         for _ in range(120)]:
        cells.append(Text(
            plain,
            style=rng.choice(["", "red", "bold italic", Style(color="green", bgcolor="blue")]),
            justify=rng.choice([None, "right", "left", "center"]),
            overflow=rng.choice([None, "ellipsis", "crop", "fold"]),
            no_wrap=rng.choice([None, True]),
        ))
    # A styled piece inside the text (spans): the general path.
    cells.append(Text.assemble(("Pe", "bold"), "ña ", ("Ibáñez", "red")))
    return cells


class _Tables(App[None]):
    def compose(self) -> ComposeResult:
        yield PendingTable(lambda **_: PendingPage(rows=[], has_more=False), today=date(2026, 11, 27))


def _simplified(lines: list[list[Segment]]) -> list[list[tuple[str, Style | None]]]:
    return [[(s.text, s.style) for s in Segment.simplify(line)] for line in lines]


@pytest.mark.asyncio
async def test_every_cell_renders_as_datatable_renders_it() -> None:
    app = _Tables()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(PendingTable)
        await pilot.pause()
        cells = _cells(random.Random(20261127))
        width = len(table.ordered_columns)
        for i in range(0, len(cells), width):
            row = cells[i:i + width]
            table.add_row(*row, *[Text("")] * (width - len(row)))
        await pilot.pause()
        base = Style(color="white", bgcolor="black")
        checked = 0
        for row_index in range(table.row_count):
            for column_index in range(width):
                for cell_width in (1, 2, 3, 8, 14, 40):
                    for cursor, hover in ((False, False), (True, False), (False, True), (True, True)):
                        table._cell_render_cache.clear()
                        mine = table._fast_cell(row_index, column_index, base, cell_width, cursor, hover)
                        table._cell_render_cache.clear()
                        theirs = DataTable._render_cell(table, row_index, column_index, base, cell_width,
                                                        cursor, hover)
                        where = (row_index, column_index, cell_width, cursor, hover)
                        if cell_width <= 2:  # no room for text: DataTable's own way
                            assert mine is None, where
                            continue
                        assert mine is not None, where
                        assert _simplified(mine) == _simplified(theirs), where
                        assert Segment.get_line_length(mine[0]) == cell_width, where
                        checked += 1
        assert checked > 2000


@pytest.mark.asyncio
async def test_table_lines_equal_a_stock_datatable() -> None:
    """The same rows in a stock DataTable and in PendingTable paint the same screen lines."""

    class Both(App[None]):
        CSS = "DataTable { height: 12; }"

        def compose(self) -> ComposeResult:
            yield PendingTable(lambda **_: PendingPage(rows=[], has_more=False),
                               today=date(2026, 11, 27), id="mine")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="stock")

    app = Both()
    async with app.run_test(size=(120, 30)) as pilot:
        mine, stock = app.query_one("#mine", PendingTable), app.query_one("#stock", DataTable)
        await pilot.pause()
        for column in mine.ordered_columns:
            stock.add_column(column.label, key=column.key.value, width=column.width)
        rng = random.Random(7)
        for n in range(30):
            cells = {"mark": Text(rng.choice(["●", " "])),
                     "policy": Text(f"AU{n:08d}", style="red" if n % 3 == 0 else ""),
                     "receipt": Text(f"41{n:08d}"), "ramo": Text("Autos"),
                     "holder": Text(rng.choice(EDGE[3:8]) + " Ibáñez", overflow="ellipsis", no_wrap=True),
                     "email": Text("ana@example.com", overflow="ellipsis", no_wrap=True),
                     "amount": Text(f"{rng.randint(1, 10**7) / 100:,.2f} MXN", justify="right"),
                     "due": Text("21/11/2026"),
                     "lapse": Text(rng.choice(["Cesa en 5 días", "Cesa hoy 12:00", "Cesó 03/12"]),
                                   style="bold yellow" if n % 4 == 0 else "", no_wrap=True)}
            row = [cells[str(column.key.value)] for column in mine.ordered_columns]
            mine.add_row(*row, key=str(n))
            stock.add_row(*row, key=str(n))
        mine.move_cursor(row=3)
        stock.move_cursor(row=3)
        app.set_focus(None)  # a focused table has other colours
        await pilot.pause()
        for y in range(12):
            assert mine.render_line(y).text == stock.render_line(y).text, y
            assert list(mine.render_line(y)) == list(stock.render_line(y)), y


class _Wrong(PendingTable):
    """A fast path gone wrong, as an upgrade of Textual could make it."""

    def _fast_cell(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        lines = super()._fast_cell(*args, **kwargs)
        return None if lines is None else [[Segment("?" * Segment.get_line_length(lines[0]))]]


class _Broken(PendingTable):
    """DataTable's internals renamed under the fast path."""

    def _fast_cell(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AttributeError("_get_styles_to_render_cell")


@pytest.mark.parametrize("table_class", [_Wrong, _Broken])
@pytest.mark.asyncio
async def test_a_fast_path_that_no_longer_matches_datatable_turns_itself_off(table_class) -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield table_class(lambda **_: PendingPage(rows=[], has_more=False), today=date(2026, 11, 27))

    app = One()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(PendingTable)
        await pilot.pause()
        for n in range(10):
            table.add_row(*[Text(f"c{n}{i}") for i in range(len(table.ordered_columns))])
        await pilot.pause()
        shown = [table.render_line(y).text for y in range(1, 11)]
        assert table._fast_cells is False
        assert all("?" not in line for line in shown)
        last = len(table.ordered_columns) - 1
        assert "c01" in shown[0] and f"c9{last}" in shown[9]
