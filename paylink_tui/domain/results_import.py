"""The result types of an import of the insurer's file (rows refused and why, changes
refused, the report). Re-exported by domain/results.py, which says what they are for."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from paylink_tui.domain.text import printable

# -- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str | None
    value: str
    reason: str

    @property
    def shown_value(self) -> str:
        """The value made safe to print: control characters escaped, long text cut."""
        return printable(self.value)

    def __str__(self) -> str:
        where = f"línea {self.line}"
        if self.column:
            where += f", columna {self.column}"
        if self.column and self.value != "":
            where += f", valor «{self.shown_value}»"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class RefusedChange:
    """An amount/currency change not applied because a link already carries the old one."""

    line: int
    receipt: str
    old_amount: Decimal
    old_currency: str
    new_amount: Decimal
    new_currency: str
    reason: str

    def __str__(self) -> str:
        return (f"línea {self.line}, recibo {self.receipt}: el monto no se cambió de "
                f"{self.old_amount} {self.old_currency} a {self.new_amount} {self.new_currency} "
                f"porque {self.reason}")


@dataclass
class ImportReport:
    filename: str
    total_rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused_changes: list[RefusedChange] = field(default_factory=list)
    # Rows imported whose phone is no valid Mexican phone: kept as written, no WhatsApp.
    phone_warnings: list[RowError] = field(default_factory=list)
    policies_added: int = 0
    clients_updated: int = 0
    full: bool = False
    settled_elsewhere: int = 0
    # --full outcomes that settled nothing, and why:
    settle_blocked_by_errors: bool = False
    needs_confirmation: bool = False  # would settle more than 10%: nothing was written
    would_settle: int = 0
    pending_total: int = 0
    kept_with_live_link: int = 0
    # Policies whose agent code (column `agente`) changed: moved to another portfolio.
    agents_changed: int = 0

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    @property
    def written(self) -> bool:
        return not self.needs_confirmation

    @property
    def exit_code(self) -> int:
        """0: all rows accepted; 1: some rejected or not fully applied; 2: nothing imported."""
        if self.needs_confirmation:
            return 2
        if self.errors or self.refused_changes:
            return 1
        return 0
