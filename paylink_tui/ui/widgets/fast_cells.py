"""DataTable's cells drawn fast, for tables whose cells are one-line `Text`s.

Each search keystroke redraws every visible cell, and DataTable renders a cell through
Rich's general layout (Styled, Padding, wrapping, cropping): about 14 ms of a 45 ms
keystroke here. Our cells are one-line `Text`s in fixed-width columns, so `_render_cell`
builds their segments directly, and `_update_dimensions` measures nothing. Both stand on
DataTable internals; tests check the output equals DataTable's own, cell for cell, so an
upgrade of Textual that changes them fails there first.

`FastCells` is the DataTable that does it (PendingTable is one); `one_line_cell` is the
layout itself.
"""

from __future__ import annotations

import logging
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.widgets import DataTable

log = logging.getLogger(__name__)

FAST_CELL_CHECKS = 32  # cells laid out both ways, ours and DataTable's, before ours is trusted


class FastCells(DataTable):
    """A DataTable of fixed-width columns and one-line `Text` cells, drawn without Rich's
    general layout once its first cells have been checked against DataTable's own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_cells = True  # see _render_cell
        self._cell_checks_left = FAST_CELL_CHECKS

    def _update_dimensions(self, new_rows) -> None:  # type: ignore[no-untyped-def]
        # Every column has a fixed width and every row one line: there is nothing to
        # measure (DataTable would measure each new cell), only the virtual size to set.
        super()._update_dimensions(())

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        def datatables() -> list[list[Segment]]:
            return super(FastCells, self)._render_cell(row_index, column_index, base_style,
                                                       width, cursor, hover)

        if not self._fast_cells or row_index < 0 or column_index < 0:
            return datatables()
        try:
            key = self._cell_key(row_index, column_index, base_style, cursor, hover)
            cached = self._cell_render_cache.get(key)
            if cached is not None:
                return cached
            lines = self._fast_cell(row_index, column_index, base_style, width, cursor, hover)
        except Exception:  # DataTable's internals are not what they were: its own way, then
            log.warning("pending table: fast cell rendering off (DataTable changed)", exc_info=True)
            self._fast_cells = False
            return datatables()
        if lines is None:
            return datatables()
        if self._cell_checks_left:
            # The first cells are laid out both ways: if an upgrade of Textual made them
            # differ, the agent gets DataTable's own rendering rather than a wrong one.
            self._cell_checks_left -= 1
            theirs = datatables()
            if _simplified(lines) != _simplified(theirs):
                log.warning("pending table: fast cell rendering off (differs from DataTable's)")
                self._fast_cells = False
            return theirs
        self._cell_render_cache[key] = lines
        return lines

    def _cell_key(self, row_index: int, column_index: int, base_style: Style, cursor: bool,
                  hover: bool) -> tuple:  # type: ignore[type-arg]
        return (self._row_locations.get_key(row_index), self._column_locations.get_key(column_index),
                base_style, cursor, hover, self._show_hover_cursor, self._update_count,
                self._pseudo_class_state)

    def _fast_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                   cursor: bool, hover: bool) -> list[list[Segment]] | None:
        """The cell's lines as DataTable lays them out, or None to let DataTable do it."""
        if self.fixed_rows or self.fixed_columns or width <= 2 * self.cell_padding:
            return None
        row_key = self._row_locations.get_key(row_index)
        cell = self._get_row_renderables(row_index)[1][column_index]
        if not isinstance(cell, Text) or self.rows[row_key].height != 1:
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre_style = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component_style
        segments = one_line_cell(self.app.console, cell, width, self.cell_padding)
        return [list(Segment.apply_style(segments, style=pre_style, post_style=post_style))]


def _simplified(lines: list[list[Segment]]) -> list[list[tuple[str, Style | None]]]:
    return [[(seg.text, seg.style) for seg in Segment.simplify(line)] for line in lines]


def one_line_cell(console: Console, cell: Text, width: int, padding: int) -> list[Segment]:
    """The segments Rich lays out for `Padding(cell, (0, padding))` on one line of `width`
    cells with wrapping off, before the table's styles are applied."""
    inner = width - 2 * padding
    plain = cell.plain
    justify = cell.justify or "default"
    if justify == "right":
        plain = plain.rstrip()
    length = cell_len(plain)
    if (length > inner or cell.spans or justify not in ("default", "right")
            or "\n" in plain or "\t" in plain):
        # The general case, as Text.__rich_console__ lays it out.
        lines = cell.wrap(console, inner, justify=justify, overflow=cell.overflow or "fold",
                          tab_size=cell.tab_size or console.tab_size or 8, no_wrap=True)
        joined = Text("\n").join(lines[:1])
        text_segments = list(joined.render(console))
        length = joined.cell_len
    else:
        style = console.get_style(cell.style) if cell.style else None
        if justify == "right":  # the padding is part of the text, in its style
            plain, length = " " * (inner - length) + plain, inner
        text_segments = [Segment(plain, style)]
    pad = [Segment(" " * padding)] if padding else []
    rest = [Segment(" " * (inner - length))] if length < inner else []
    return [*pad, *text_segments, *rest, *pad]
