"""The one search rule answers the same on both engines: FTS5 on SQLite, receipt_word on
PostgreSQL (migration 0009). The same rows go into both; every search gives the same pages
(forward and back), the same totals, on each of the search paths (the word index's few
candidates, the walk of the list's order for common words), for everyone and inside a
portfolio; and the word table follows every kind of write (bulk import, a row at a time,
a renamed holder on re-import, a new agent code, a deleted receipt)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, text

from paylink_tui.config import Settings
from paylink_tui.demo.data import generate_rows
from paylink_tui.domain.results import ROLE_AGENT, Identity
from paylink_tui.importer.reader import ReceiptRow
from paylink_tui.services.context import AppContext
from paylink_tui.services.importing import import_rows
from paylink_tui.services.receipts import SORT_LAPSE, SORT_POLICY, pending_page, pending_totals
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import Receipt
from tests.helpers import set_candidate_limit

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)
CODES = ("A01", "A02", "B07", None)


def _special(line: int, policy: str, receipt: str, first: str, last: str, second: str,
             code: str | None = "A01") -> ReceiptRow:
    return ReceiptRow(line=line, policy=policy, receipt=receipt, ramo="Autos", first_name=first,
                      last_name=last, second_last_name=second, email=None, phone=None,
                      amount=Decimal("100.50"), currency="MXN", due_date=date(2026, 12, 15),
                      agent_code=code)


def _rows() -> list[ReceiptRow]:
    rows = [dataclasses.replace(r, agent_code=CODES[i % len(CODES)])
            for i, r in enumerate(generate_rows(2400, seed=5))]
    rows += [
        _special(9001, "AU01213813", "9900000154", "Íñigo", "Peña", "Zúñiga"),
        _special(9002, "GM01213899", "9900000155", "MARÍA JOSÉ", "Muñoz", "", code="B07"),
        _special(9003, "0121999", "9900000156", "Ana", "Ibáñez", "Núñez", code=None),
    ]
    return rows


def _searches(rows: list[ReceiptRow]) -> list[str]:
    sample = rows[7]
    return [
        "", "maria", "MARÍA", "pena", "peña", "PEÑA zúñiga", "gar", "hernandez", "m", "maria j",
        "zzzq", "íñigo", "01213813", "0121", "au0121", "9900000154", "muñoz maria", "ibanez",
        sample.receipt, sample.policy, sample.policy.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        f"{sample.first_name} {sample.last_name}", "a b", '"peña" & %_', "jose gomez zz",
    ]


def _ctx(url_engine, principal: Identity | None = None) -> AppContext:
    ctx = AppContext(settings=Settings(database_url="sqlite:///unused.db"), engine=url_engine,
                     clock=lambda: NOW)
    return ctx.for_principal(principal) if principal else ctx


def _answers(ctx: AppContext, search: str, sort: str) -> tuple:
    """Every page forward (limit 7), the last page and the one before it, and the totals."""
    pages, after = [], None
    for _ in range(4):
        page = pending_page(ctx, search=search, after=after, limit=7, sort=sort)
        pages.append(([r.receipt for r in page.rows], page.has_more))
        if not page.has_more:
            break
        after = page.last_key
    last = pending_page(ctx, search=search, last=True, limit=7, sort=sort)
    pages.append(([r.receipt for r in last.rows], last.has_more))
    if last.rows:
        before = pending_page(ctx, search=search, before=last.rows[0].sort_key(sort), limit=7,
                              sort=sort)
        pages.append(([r.receipt for r in before.rows], before.has_more))
    totals = pending_totals(ctx, search=search)
    return pages, totals.count, totals.amounts


@pytest.fixture
def both(sqlite_url, pg_url):
    engines = [make_engine(sqlite_url), make_engine(pg_url)]
    rows = _rows()
    for eng in engines:
        import_rows(eng, rows, agent="ana", now=NOW)  # 2,403 new rows: the bulk word path
    yield engines, rows
    for eng in engines:
        eng.dispose()


def _compare(engines, searches, monkeypatch, principal=None) -> None:

    for rare_limit in (2000, 40, 1):  # few candidates; candidates or walk; always the walk
        set_candidate_limit(monkeypatch, rare_limit)
        for sort in (SORT_POLICY, SORT_LAPSE):
            for term in searches:
                lite, pg = (_answers(_ctx(e, principal), term, sort) for e in engines)
                assert lite == pg, (term, sort, rare_limit)


def test_every_search_answers_the_same_on_sqlite_and_postgresql(both, monkeypatch):
    engines, rows = both
    _compare(engines, _searches(rows), monkeypatch)
    ctx = _ctx(engines[1])
    found = {term: [r.receipt for r in pending_page(ctx, search=term).rows]
             for term in ("01213813", "pena zuniga", "maria jose munoz", "zzzq", "nunez 0121")}
    assert "9900000154" in found["01213813"] and "9900000154" in found["pena zuniga"]
    assert "9900000155" in found["maria jose munoz"] and "9900000156" in found["nunez 0121"]
    assert found["zzzq"] == []
    assert pending_totals(ctx, search="maria").count > 40  # the walk really was taken above


def test_inside_a_portfolio_the_same_on_both_engines(both, monkeypatch):
    engines, rows = both
    agent = Identity(user="ana", role=ROLE_AGENT, codes=("A01", "B07"))
    _compare(engines, _searches(rows)[:14], monkeypatch, principal=agent)
    ctx = _ctx(engines[1], agent)
    found = [r.receipt for r in pending_page(ctx, search="0121", limit=500).rows]
    assert "9900000154" in found and "9900000155" in found
    assert "9900000156" not in found  # policy 0121999 has no agent code
    assert pending_totals(ctx, search="nunez").count == pending_totals(
        _ctx(engines[0], agent), search="nunez").count


def test_the_word_table_follows_every_write(both, monkeypatch):
    engines, rows = both
    renamed = _special(1, "AU01213813", "9900000154", "Íñigo", "Ortega", "Zúñiga", code="B07")
    extra = _special(2, "VI7777", "9900009999", "Úrsula", "Quiñones", "")
    for eng in engines:
        import_rows(eng, [renamed, extra], agent="ana", now=NOW)  # one row at a time
        with eng.begin() as conn:
            conn.execute(delete(Receipt).where(Receipt.__table__.c.number == "9900000156"))
    agent_b = Identity(user="bea", role=ROLE_AGENT, codes=("B07",))
    searches = ["pena", "ortega", "quinones", "ursula 7777", "nunez", "0121", "zuniga"]
    _compare(engines, searches, monkeypatch)
    _compare(engines, searches, monkeypatch, principal=agent_b)
    pg = _ctx(engines[1])

    def found(ctx: AppContext, term: str) -> list[str]:
        return [r.receipt for r in pending_page(ctx, search=term, limit=500).rows]

    assert "9900000154" in found(pg, "ortega zuniga")
    assert "9900000154" not in found(pg, "inigo pena")  # the old name is gone from the index
    assert "9900000156" not in found(pg, "nunez 0121")  # deleted
    assert "9900000154" in found(pg.for_principal(agent_b), "ortega")  # its new agent code
    assert "9900000154" not in found(pg.for_principal(
        Identity(user="ana", role=ROLE_AGENT, codes=("A01",))), "ortega")
    with engines[1].connect() as conn:
        words = set(conn.execute(text(
            "SELECT w.word || ':' || coalesce(w.agent_code, '') FROM receipt_word w "
            "JOIN receipt r ON r.id = w.receipt_id WHERE r.number = '9900000154'")).scalars())
        orphans = conn.execute(text(
            "SELECT count(*) FROM receipt_word w WHERE NOT EXISTS "
            "(SELECT 1 FROM receipt r WHERE r.id = w.receipt_id)")).scalar_one()
        expected = conn.execute(text(
            "SELECT count(DISTINCT (r.id, w)) FROM receipt r, "
            "unnest(string_to_array(r.search_text, ' ')) w")).scalar_one()
        have = conn.execute(text("SELECT count(*) FROM receipt_word")).scalar_one()
    assert words == {"au01213813:B07", "9900000154:B07", "inigo:B07", "ortega:B07", "zuniga:B07"}
    assert orphans == 0 and have == expected
