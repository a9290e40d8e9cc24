"""Putting the columns that `ui.layout.fit` chose on a DataTable."""

from __future__ import annotations

from textual.widgets import DataTable

from paylink_tui.ui.layout import Fitted


def table_room(table: DataTable) -> int:
    """The cells a table's columns can use: its width less the vertical scrollbar (kept
    for, so that the columns do not change when the rows start to overflow)."""
    width = table.size.width or (table.app.size.width if table.is_attached else 0)
    return max(0, width - table.styles.scrollbar_size_vertical)


def apply(table: DataTable, fitted: list[Fitted]) -> bool:
    """Give `table` these columns. True when they changed: the rows must be added again."""
    current = [(str(key.value), col.width) for key, col in table.columns.items()]
    if current == [(f.key, f.width) for f in fitted]:
        return False
    table.clear(columns=True)
    for f in fitted:
        table.add_column(f.label, key=f.key, width=f.width)
    return True
