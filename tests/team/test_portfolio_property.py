"""A property: for random portfolios and users, nothing a user can list or fetch belongs to an
agent code they do not hold — and everything of their codes they can fetch. Through the real
import (column `agente`) and real links (the sandbox on loopback), SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from paylink_tui.domain.results import ALL_CODES, Identity
from paylink_tui.services import batch, events, history, receipts

pytestmark = pytest.mark.postgres

CODES = ["A1", "B2", "C3"]
_serial = itertools.count()

portfolios = st.lists(st.tuples(st.sampled_from([*CODES, None]), st.integers(1, 2),
                                 st.booleans()),
                      min_size=1, max_size=4)
people = st.lists(st.tuples(st.sampled_from(["agente", "supervisor", "administrador"]),
                            st.one_of(st.just((ALL_CODES,)),
                                      st.sets(st.sampled_from(CODES), max_size=2)
                                      .map(lambda s: tuple(sorted(s))))),
                  min_size=1, max_size=3)


def _allowed(who: Identity, code: str | None) -> bool:
    if who.role != "agente":
        return True
    if ALL_CODES in who.codes:
        return code is not None
    return code in who.codes


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(portfolio=portfolios, users=people)
def test_nothing_a_user_can_list_or_fetch_is_outside_their_codes(make_ctx, sandbox,
                                                                  import_portfolio, portfolio,
                                                                  users):
    admin = make_ctx(mit_gen_url=sandbox.gen_url)
    start = events.current_cursor(admin)
    rows, to_link = [], []
    for code, count, linked in portfolio:
        policy = f"PZ{next(_serial)}"
        numbers = [f"{policy}R{i}" for i in range(count)]
        rows += [(policy, n, code) for n in numbers]
        if linked:
            to_link.append(numbers[0])
    import_portfolio(admin, rows)
    from paylink_tui.services.links import generate_link

    for number in to_link:
        generate_link(admin, receipt_numbers=[number], email="c@example.com")
    with admin.engine.connect() as conn:
        code_of_receipt = dict(conn.execute(text("SELECT number, agent_code FROM receipt")).all())
        id_of_receipt = dict(conn.execute(text("SELECT number, id FROM receipt")).all())
        code_of_policy = dict(conn.execute(text("SELECT number, agent_code FROM policy")).all())
        code_of_link = dict(conn.execute(text(
            "SELECT l.reference, p.agent_code FROM payment_link l "
            "JOIN policy p ON p.id = l.policy_id")).all())

    for role, codes in users:
        who = Identity(user="quien", role=role, codes=codes)
        ctx = admin.for_principal(who)
        for search in ("", "pz", "peña"):
            page = receipts.pending_page(ctx, search=search, limit=10_000).rows
            assert all(_allowed(who, code_of_receipt[r.receipt]) for r in page)
            everything = {r.receipt for r in receipts.iter_pending(ctx, search=search)}
            assert everything == {r.receipt for r in page}
            assert receipts.pending_totals(ctx, search=search).count == len(page)
            off = receipts.off_list(ctx, search=search or "pz", limit=100)
            assert all(_allowed(who, code_of_receipt[o.receipt]) for o in off)
        for number, rid in id_of_receipt.items():
            seen = receipts.receipt_detail(ctx, rid)
            assert (seen is not None) == _allowed(who, code_of_receipt[number])
            if seen is not None:
                assert all(_allowed(who, code_of_link[lk.reference]) for lk in seen.links)
        listed = history.list_links(ctx, limit=None)
        assert {r.reference for r in listed} == {
            ref for ref, code in code_of_link.items() if _allowed(who, code)}
        for ref, code in code_of_link.items():
            assert (history.link_detail(ctx, ref) is not None) == _allowed(who, code)
        found, _ = events.read(ctx, start, limit=10_000)
        assert all(_allowed(who, code_of_policy[e.policy]) for e in found if e.policy)
        plan = batch.batch_preview(ctx, search="pz")
        assert all(_allowed(who, code_of_policy[x.policy]) for x in plan.links)
