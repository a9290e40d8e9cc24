"""What PostgreSQL plans from (store/db.py, services/importing.py).

A query run often on a pooled connection is never prepared on the server: psycopg prepared
it after its fifth run, and the generic plan PostgreSQL kept for it was made on the tables
as they were then. The import's lookup by policy number, planned while the database was
empty, stayed a nested loop over every client: a first import of 200,000 rows slowed from
6 s to 46 s per 25,000 as it went. And an import that writes many rows ends with ANALYZE, so
that the planner sees the book's new size without waiting for autovacuum (which may be off).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from paylink_tui.demo.data import generate_rows
from paylink_tui.services import importing
from paylink_tui.services.importing import import_rows
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import Policy

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def _reltuples(engine, table: str) -> float:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                            {"t": table}).scalar_one()


def test_a_query_run_many_times_is_not_prepared_on_the_server(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            for n in range(12):
                conn.execute(select(Policy.id).where(Policy.number == f"P{n}")).all()
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        assert prepared == 0
    finally:
        engine.dispose()


def test_an_import_of_many_rows_leaves_the_planner_its_new_size(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "ANALYZE_AFTER", 50)
    engine = make_engine(pg_url)
    try:
        report = import_rows(engine, generate_rows(60, seed=3), agent="t", now=NOW)
        assert report.added == 60
        for table in ("receipt", "policy", "client", "receipt_word"):
            assert _reltuples(engine, table) > 0, table
        assert _reltuples(engine, "receipt") == 60
    finally:
        engine.dispose()


def test_a_small_import_does_not_analyze(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "ANALYZE_AFTER", 50)
    engine = make_engine(pg_url)
    try:
        report = import_rows(engine, generate_rows(40, seed=3), agent="t", now=NOW)
        assert report.added == 40
        assert _reltuples(engine, "receipt") != 40  # what the migration left: never counted
    finally:
        engine.dispose()
