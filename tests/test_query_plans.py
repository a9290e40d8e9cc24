"""The plans SQLite chooses for the queries that run on every cursor move, on a file with no
ANALYZE statistics (an agent's file never has them): a policy's pending receipts come from
the policy's index, never from walking the whole book in another index's order. At
1,000,000 receipts that walk took 4–23 s per row the cursor rested on (migration 0010)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event

from paylink_tui.config import Settings
from paylink_tui.services import receipts
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from tests.links.conftest import seed_policy

NOW = datetime(2021, 10, 7, 21, 4, tzinfo=timezone.utc)


def plans_of_policy_queries(ctx: AppContext, run) -> list[str]:  # type: ignore[no-untyped-def]
    """EXPLAIN QUERY PLAN of every statement `run` sends that filters receipts by policy."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if "receipt.policy_id = " in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(ctx.engine, "before_cursor_execute", record)
    plans = []
    with ctx.engine.connect() as conn:
        for statement, params in seen:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            plans.append(" / ".join(str(r[-1]) for r in rows))
    return plans


def test_a_receipts_detail_reads_its_policys_receipts_from_the_policy_index(sqlite_url):
    ctx = AppContext(settings=Settings(database_url=sqlite_url), engine=make_engine(sqlite_url),
                     clock=lambda: NOW)
    seed_policy(ctx.engine, "AU1", [("R-1", "10.00", "MXN"), ("R-2", "20.00", "MXN"),
                                    ("R-3", "30.00", "MXN")], now=NOW)
    seed_policy(ctx.engine, "AU2", [("R-4", "40.00", "MXN")], now=NOW)
    with ctx.engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'").scalar() == 0
        first = conn.exec_driver_sql("SELECT id FROM receipt WHERE number = 'R-2'").scalar()

    detail = None

    def run() -> None:
        nonlocal detail
        detail = receipts.receipt_detail(ctx, first)

    plans = plans_of_policy_queries(ctx, run)
    assert detail is not None and [r.receipt for r in detail.policy_receipts] == ["R-1", "R-3"]
    assert plans, "the detail read no receipts by policy"
    for plan in plans:
        assert "ix_receipt_policy_pending" in plan, plan
        assert "ix_receipt_lapse_order" not in plan and "ix_receipt_pending_order" not in plan, plan
    ctx.engine.dispose()
