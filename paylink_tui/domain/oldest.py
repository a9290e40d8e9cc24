"""Oldest first (domain.md, "Collecting more"): insurers apply premiums in order, so a payment
for a later receipt while an earlier one of the same policy is unpaid may be rejected. When a
link leaves out pending receipts of its policy and currency that fall due before the newest
receipt it covers, the agent is told which ones (a warning, never a refusal).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from paylink_tui.domain.dates import short_date
from paylink_tui.domain.money import format_money
from paylink_tui.domain.results import PendingRow


def older_left_out(linked_due_dates: Iterable[date], candidates: Iterable[PendingRow],
                   linked_numbers: Iterable[str]) -> list[PendingRow]:
    """The `candidates` (pending receipts of the link's policy and currency that could be
    linked) due before the newest linked receipt and not in the link, oldest first."""
    dues = list(linked_due_dates)
    if not dues:
        return []
    newest = max(dues)
    inside = set(linked_numbers)
    return sorted((r for r in candidates if r.receipt not in inside and r.due_date < newest),
                  key=lambda r: (r.due_date, r.receipt))


def _one(row: PendingRow) -> str:
    return f"{row.receipt} (vence {short_date(row.due_date)}, {format_money(row.amount, row.currency)})"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " y " + items[-1]


def older_warning(policy: str, rows: Sequence[PendingRow]) -> str | None:
    """Which older pending receipts the link leaves out, and why it matters; None if none."""
    if not rows:
        return None
    listed = _join([_one(r) for r in rows])
    if len(rows) == 1:
        lead = f"Queda fuera un recibo anterior pendiente de la póliza {policy}: {listed}."
    else:
        lead = f"Quedan fuera {len(rows)} recibos anteriores pendientes de la póliza {policy}: {listed}."
    return (f"{lead} La aseguradora aplica los pagos en orden: el pago de un recibo posterior "
            "con uno anterior sin pagar puede ser rechazado.")
