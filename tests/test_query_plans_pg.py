"""The plans PostgreSQL chooses for the pending list's search (services/pending_pg.py), on a
book of 20,000 receipts with its statistics: an agent's word is read from the word index by
agent code and its candidates looked up by id, never by walking the book; a word common in
the whole book walks the list's order on its index and stops after a page, never reads every
pending receipt to sort them. At 1,000,000 receipts the planner's own choice for "hernandez"
read and sorted the whole book (1.9 s), and an agent's "maria" read 52,000 index entries to
keep 2,800."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, text

from paylink_tui.config import Settings
from paylink_tui.demo.data import generate_rows
from paylink_tui.domain.results import ROLE_AGENT, ROLE_SUPERVISOR, Identity
from paylink_tui.services.context import AppContext
from paylink_tui.services.importing import import_rows
from paylink_tui.services.receipts import SORT_LAPSE, SORT_POLICY, pending_page
from paylink_tui.store.db import make_engine

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
CODES = tuple(f"AG{n:02d}" for n in range(20))


@pytest.fixture
def book(pg_url):  # type: ignore[no-untyped-def]
    engine = make_engine(pg_url)
    import_rows(engine, generate_rows(20_000, seed=5, agent_codes=CODES), agent="t", now=NOW)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE receipt"))
        conn.execute(text("VACUUM ANALYZE receipt_word"))
    yield engine
    engine.dispose()


def _nodes(plan: dict) -> list[dict]:  # type: ignore[type-arg]
    out = [plan]
    for child in plan.get("Plans", ()):
        out.extend(_nodes(child))
    return out


def plans_of_page(ctx: AppContext, **kwargs) -> list[list[dict]]:  # type: ignore[no-untyped-def,type-arg]
    """The plan nodes of each statement pending_page sends that selects receipt ids, explained
    in its own transaction (with the settings it was sent under)."""
    plans: list[list[dict]] = []  # type: ignore[type-arg]

    def explain(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT receipt.id \nFROM receipt"):
            with conn.connection.dbapi_connection.cursor() as other:
                other.execute("EXPLAIN (FORMAT JSON) " + statement, params)
                plans.append(_nodes(other.fetchone()[0][0]["Plan"]))

    event.listen(ctx.engine, "after_cursor_execute", explain)
    try:
        pending_page(ctx, limit=100, **kwargs)
    finally:
        event.remove(ctx.engine, "after_cursor_execute", explain)
    assert plans, "pending_page selected no receipt ids"
    return plans


def _ctx(engine, role: str, codes: tuple[str, ...]) -> AppContext:  # type: ignore[no-untyped-def]
    ctx = AppContext(settings=Settings(database_url=str(engine.url)), engine=engine,
                     clock=lambda: NOW)
    return ctx.for_principal(Identity(user="u", role=role, codes=codes))


def _kinds(nodes: list[dict]) -> set[str]:  # type: ignore[type-arg]
    return {n["Node Type"] for n in nodes}


def _indexes(nodes: list[dict]) -> set[str]:  # type: ignore[type-arg]
    return {n["Index Name"] for n in nodes if "Index Name" in n}


def test_an_agents_word_is_read_by_code_and_its_candidates_by_id(book) -> None:
    ctx = _ctx(book, ROLE_AGENT, ("AG03", "AG04"))
    for sort in (SORT_POLICY, SORT_LAPSE):
        for word in ("maria", "gar", "hernandez"):
            (nodes,) = plans_of_page(ctx, search=word, sort=sort)
            assert "Seq Scan" not in _kinds(nodes), (word, nodes)
            assert {"ix_receipt_word_code", "ix_receipt_id_list"} <= _indexes(nodes), word
            assert not _indexes(nodes) & {"ix_receipt_pending_order", "ix_receipt_lapse_order"}


def test_a_word_common_in_the_whole_book_walks_the_lists_order(book, monkeypatch) -> None:
    import paylink_tui.services.search as search

    monkeypatch.setattr(search, "candidate_limit", lambda ctx: 100)  # every name is common
    ctx = _ctx(book, ROLE_SUPERVISOR, ("*",))
    for sort, order_index in ((SORT_POLICY, "ix_receipt_pending_order"),
                              (SORT_LAPSE, "ix_receipt_lapse_order")):
        for search_text in ("maria", "gar", ""):
            (nodes,) = plans_of_page(ctx, search=search_text, sort=sort)
            assert _kinds(nodes) >= {"Limit", "Index Only Scan"}, (search_text, nodes)
            assert not _kinds(nodes) & {"Sort", "Seq Scan", "Bitmap Heap Scan"}, nodes
            assert _indexes(nodes) == {order_index}

