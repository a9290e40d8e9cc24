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


PAGE_IDS = "SELECT receipt.id \nFROM receipt"  # the page's ids
WORD_IDS = "SELECT array_agg"  # a search word's candidates, from receipt_word


def plans_of_page(ctx: AppContext, **kwargs) -> dict[str, list[list[dict]]]:  # type: ignore[no-untyped-def,type-arg]
    """The plan nodes of each statement pending_page sends that selects receipt ids (by kind:
    PAGE_IDS, WORD_IDS), explained in its own transaction (with the settings it was sent
    under)."""
    plans: dict[str, list[list[dict]]] = {PAGE_IDS: [], WORD_IDS: []}  # type: ignore[type-arg]

    def explain(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        for kind in plans:
            if statement.lstrip().startswith(kind):
                with conn.connection.dbapi_connection.cursor() as other:
                    other.execute("EXPLAIN (FORMAT JSON) " + statement, params)
                    plans[kind].append(_nodes(other.fetchone()[0][0]["Plan"]))

    event.listen(ctx.engine, "after_cursor_execute", explain)
    try:
        pending_page(ctx, limit=100, **kwargs)
    finally:
        event.remove(ctx.engine, "after_cursor_execute", explain)
    assert plans[PAGE_IDS], "pending_page selected no receipt ids"
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
    ctx = _ctx(book, ROLE_AGENT, CODES[:4])  # a fifth of the book: more than a page per word
    for sort in (SORT_POLICY, SORT_LAPSE):
        for word in ("maria", "gar", "hernandez"):
            plans = plans_of_page(ctx, search=word, sort=sort)
            (words,), (page,) = plans[WORD_IDS], plans[PAGE_IDS]
            assert "Seq Scan" not in _kinds(words) | _kinds(page), (word, words, page)
            assert _indexes(words) == {"ix_receipt_word_code"}, (word, words)
            # Looked up by id (on a book this small the planner may prefer the primary key
            # and the table's rows to ix_receipt_id_list), then the top of them sorted.
            assert _indexes(page) and _indexes(page) <= {"ix_receipt_id_list", "receipt_pkey"}
            assert all("id = ANY" in n["Index Cond"] for n in page if "Index Name" in n), page
            assert _kinds(page) >= {"Sort", "Limit"}, page


def test_a_word_common_in_the_whole_book_walks_the_lists_order(book, monkeypatch) -> None:
    import paylink_tui.services.search as search

    monkeypatch.setattr(search, "candidate_limit", lambda ctx: 100)  # every name is common
    ctx = _ctx(book, ROLE_SUPERVISOR, ("*",))
    for sort, order_index in ((SORT_POLICY, "ix_receipt_pending_order"),
                              (SORT_LAPSE, "ix_receipt_lapse_order")):
        for search_text in ("maria", "gar", ""):
            (nodes,) = plans_of_page(ctx, search=search_text, sort=sort)[PAGE_IDS]
            assert _kinds(nodes) >= {"Limit", "Index Only Scan"}, (search_text, nodes)
            assert not _kinds(nodes) & {"Sort", "Seq Scan", "Bitmap Heap Scan"}, nodes
            assert _indexes(nodes) == {order_index}

