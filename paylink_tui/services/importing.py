"""Import the insurer's pending receipts: an idempotent upsert, in one transaction.

- A receipt is identified by its number, a policy by its number; the client is the
  policy's holder (one client row per policy, never merged by name). A newer file updates
  the holder's name, email and phone, the receipts' amounts and due dates, and adds receipts.
- An amount (or currency) change for a receipt under a link that may still be paid (live or
  paid) is not applied: the link's amount was fixed when it was sent. It is reported.
- `full`: the file is the insurer's complete list. Pending receipts missing from it were
  settled elsewhere ("Liquidado fuera") — unless a row was rejected (its receipt number may be
  the "missing" one), and only with `yes` when it would settle more than 10% of them.
  Receipts under a live link are left alone: our own link may be what settled them.

Speed: 100,000 rows must import in seconds, so the work is done in bulk Core statements
(executemany in chunks, INSERT … RETURNING), never one ORM object per row.

On PostgreSQL an import that added or changed many rows ends with ANALYZE of the tables it
wrote (`refresh_statistics`): the planner's picture of them is the one it had before, until
autovacuum comes by (if it is on at all), and both the next import and the agents' searches
are planned from it.

Here: the entry points and the one transaction. services/import_policies.py applies the
policies and their holders, services/import_receipts.py the receipts and `full`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from paylink_tui.domain.results import ImportReport
from paylink_tui.importer.reader import ReadResult, ReceiptRow, read_receipts
from paylink_tui.services import events
from paylink_tui.services.import_policies import _apply_policies
from paylink_tui.services.import_receipts import (  # noqa: F401 - FTS_BULK_MIN: re-exported
    FTS_BULK_MIN,
    ImportRefused,
    _apply_receipts,
    _keep_receipts_on_their_policy,
    _load_receipts,
    _settle_missing,
)
from paylink_tui.store.db import is_sqlite, write_session
from paylink_tui.store.models import AuditEvent, ImportBatch

ProgressCallback = Callable[[int], None]
ANALYZE_AFTER = 10_000  # rows added or updated by an import, from which it runs ANALYZE
_ANALYZED = ("client", "policy", "receipt", "receipt_word")

log = logging.getLogger(__name__)


def import_receipts(
    engine: Engine,
    path: str | Path,
    *,
    full: bool = False,
    yes: bool = False,
    agent: str,
    now: datetime,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Read the file and apply it. Raises importer.ImportFileError if it can't be read."""
    result = read_receipts(path, on_progress=on_progress)
    return apply_read_result(
        engine, result, filename=Path(path).name, full=full, yes=yes, agent=agent, now=now
    )


def import_file(ctx: Any, path: str | Path, *, full: bool = False, yes: bool = False,
                on_progress: ProgressCallback | None = None) -> ImportReport:
    """The use case on an AppContext (engine, agent, clock)."""
    from paylink_tui.domain.results import ROLE_ADMIN
    from paylink_tui.services.access import require_role

    require_role(ctx, ROLE_ADMIN)  # team mode: imports are the administrador's
    return import_receipts(ctx.engine, path, full=full, yes=yes, agent=ctx.agent,
                           now=ctx.now(), on_progress=on_progress)


def import_rows(engine: Engine, rows: Iterable[ReceiptRow], *, agent: str, now: datetime,
                filename: str = "demo") -> ImportReport:
    """Apply already-valid rows (the demo seed); same rules as a file import without --full."""
    result = ReadResult(rows=list(rows))
    result.total_rows = len(result.rows)
    result.present_receipts = {r.receipt for r in result.rows}
    return apply_read_result(engine, result, filename=filename, agent=agent, now=now)


def apply_read_result(
    engine: Engine,
    result: ReadResult,
    *,
    filename: str,
    full: bool = False,
    yes: bool = False,
    agent: str,
    now: datetime,
) -> ImportReport:
    report = ImportReport(filename=filename, total_rows=result.total_rows, full=full,
                          errors=list(result.errors),
                          phone_warnings=list(result.phone_warnings))
    try:
        with write_session(engine) as session:
            conn = session.connection()
            if not is_sqlite(engine):
                # One import at a time across the agency; SQLite's BEGIN IMMEDIATE does this.
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('paylink_import'))"))
            existing = _load_receipts(conn, [r.receipt for r in result.rows])
            valid = _keep_receipts_on_their_policy(result.rows, existing, report)
            rows = _apply_policies(conn, valid, report)
            _apply_receipts(conn, rows, existing, report, now)
            if full:
                _settle_missing(conn, result, report, yes=yes, now=now)
            conn.execute(insert(ImportBatch.__table__), [{
                "at": now, "agent": agent, "filename": filename[:500], "full": full,
                "rows": report.total_rows, "added": report.added, "updated": report.updated,
                "rejected": report.rejected, "settled": report.settled_elsewhere,
            }])
            conn.execute(insert(AuditEvent.__table__), [{
                "at": now, "agent": agent, "action": "import", "subject": filename[:200],
                "detail": json.dumps(_audit_detail(report), ensure_ascii=False),
            }])
            events.insert_rows(conn, [events.row(
                at=now, kind=events.IMPORT_DONE, agent=agent,
                data={"added": report.added, "updated": report.updated,
                      "settled": report.settled_elsewhere})])
        from paylink_tui.services.search import forget_prefixes

        refresh_statistics(engine, report)
        forget_prefixes(engine)  # a new kind of policy number is found at once (and the
        # search's candidate limit is computed again from the table's new size)
    except ImportRefused:
        # Rolled back: nothing of this run was written.
        report.added = report.updated = report.unchanged = 0
        report.policies_added = report.clients_updated = report.agents_changed = 0
        report.refused_changes = []
    return report


def refresh_statistics(engine: Engine, report: ImportReport) -> bool:
    """ANALYZE the import's tables on PostgreSQL when it wrote at least ANALYZE_AFTER rows;
    True if it did. The import is committed already: a failure is logged, not raised."""
    if is_sqlite(engine) or report.added + report.updated < ANALYZE_AFTER:
        return False
    try:
        with engine.connect() as conn:
            conn.execute(text("ANALYZE " + ", ".join(_ANALYZED)))
            conn.commit()
    except Exception:  # noqa: BLE001 - e.g. a role that may not ANALYZE: the data is in
        log.warning("import: ANALYZE after the import failed", exc_info=True)
        return False
    return True


def _audit_detail(report: ImportReport) -> dict[str, Any]:
    return {
        "rows": report.total_rows, "added": report.added, "updated": report.updated,
        "unchanged": report.unchanged, "rejected": report.rejected,
        "refused_amount_changes": len(report.refused_changes), "full": report.full,
        "settled_elsewhere": report.settled_elsewhere,
        "settle_blocked_by_errors": report.settle_blocked_by_errors,
    }
