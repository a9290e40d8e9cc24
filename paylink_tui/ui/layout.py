"""How the screens use the terminal's size: pure arithmetic, no Textual, so that the first
frame (cli/first_frame.py, drawn before Textual loads) lays the pending list out exactly as
the app will.

Tables declare their columns once: fixed ones (as wide as their longest value, so that a
reference or an amount is never cut), flexible ones (a holder's name, an address) that share
what is left, and the columns that may go, in order, when the terminal is too narrow for all
of them. `fit` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

# Screen classes by terminal size (PaylinkApp.HORIZONTAL/VERTICAL_BREAKPOINTS), for the .tcss.
HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (150, "-wide")]
VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (45, "-very-tall")]

TABLE_SCROLLBAR = 1  # the tables' vertical scrollbar (scrollbar-size-vertical in app.tcss)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # fixed: its width; flexible: the least it may get
    flex: bool = False
    drop: int = 0  # 0: always shown; otherwise dropped before the columns of lower numbers
    most: int | None = None  # a flexible column's widest (None: no limit)
    want: int = 0  # a flexible column's comfortable width: optional columns go before it

    @property
    def wanted(self) -> int:
        return max(self.want, self.width)

    def at_least(self, *texts: str) -> Column:
        """The column widened to its label and to the longest of `texts`."""
        return replace(self, width=max([len(self.label), self.width, *(len(t) for t in texts)]))


@dataclass(frozen=True)
class Fitted:
    key: str
    label: str
    width: int


def fit(columns: Sequence[Column], available: int, *, padding: int = 1) -> list[Fitted]:
    """The columns shown in `available` cells and their content widths.

    Columns are dropped (highest `drop` first) until every flexible one gets the width it
    wants; what is left is shared by the flexible columns, each up to its `most`.
    """
    shown = list(columns)

    def room_for_flex(cols: list[Column]) -> int:
        return available - sum(0 if c.flex else c.width for c in cols) - 2 * padding * len(cols)

    while room_for_flex(shown) < sum(c.wanted for c in shown if c.flex):
        droppable = [c for c in shown if c.drop]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda c: c.drop))
    widths = {c.key: c.width for c in shown}
    extra = room_for_flex(shown) - sum(c.width for c in shown if c.flex)
    while extra > 0:
        growing = [c for c in shown if c.flex and (c.most is None or widths[c.key] < c.most)]
        if not growing:
            break
        share = max(1, extra // len(growing))
        for c in growing:
            add = min(share, extra, c.most - widths[c.key] if c.most is not None else share)
            widths[c.key] += add
            extra -= add
            if extra <= 0:
                break
    return [Fitted(c.key, c.label, widths[c.key]) for c in shown]


# --- the pending list ---------------------------------------------------------------------

# The lapse ("Cesa en 30 días", "Cesa hoy 12:00", "Cesó 03/12") stays at every width: it is
# what the agent acts on; the due date it comes from gives way first (the detail has it).
PENDING_COLUMNS = (
    Column("mark", " ", 1),
    Column("policy", "Póliza", 10, flex=True, most=12, want=12),
    Column("receipt", "Recibo", 10),
    Column("ramo", "Ramo", 6, drop=2),
    Column("holder", "Contratante", 17, flex=True, want=30, most=50),
    Column("email", "Correo", 30, flex=True, most=44, drop=3),
    Column("amount", "Monto", 14),  # "999,999.99 MXN": the currency with the amount
    Column("due", "Vence", 10, drop=1),
    Column("lapse", "Cese", 15),  # "Cesa en 30 días"
)


def pending_columns(table_width: int) -> list[Fitted]:
    """The pending table's columns for a table `table_width` cells wide (the terminal's)."""
    return fit(PENDING_COLUMNS, table_width - TABLE_SCROLLBAR)


def detail_height(terminal_height: int) -> int:
    """The detail pane's height (its top border included): it shrinks before the table."""
    if terminal_height < 30:
        return 6
    if terminal_height < 45:
        return 11
    return 13


PENDING_ABOVE_TABLE = 1 + 3 + 1  # header, search box, column titles
