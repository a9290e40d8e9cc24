"""PostgreSQL, the agency's engine: 8 agents of one portfolio generating for the same receipt
at once get one link and MIT is called once (the claim's row locks, with the portfolio rule in
the locking query)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from paylink_tui.domain.errors import AlreadyLinked
from paylink_tui.domain.results import GeneratedLink
from paylink_tui.services.links import generate_link
from tests.team.conftest import agent

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(pg_url):  # this module: PostgreSQL only
    return pg_url


def test_eight_agents_of_one_portfolio_generating_for_one_receipt_make_one_link(
        make_ctx, sandbox, import_portfolio):
    admin = make_ctx(mit_gen_url=sandbox.gen_url)
    import_portfolio(admin, [("AU1", "R1", "A1"), ("AU2", "R2", "B2")])
    names = [f"agente{i}" for i in range(8)]
    contexts = [make_ctx(mit_gen_url=sandbox.gen_url).for_principal(agent(n, "A1", "C3"))
                for n in names]
    sandbox.counter.delay_first, sandbox.counter.delay_seconds = 1, 0.5  # a slow MIT
    barrier = threading.Barrier(len(contexts))
    outcomes: dict[str, object] = {}

    def run(ctx) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            outcomes[ctx.agent] = generate_link(ctx, receipt_numbers=["R1"],
                                                email="cliente@example.com", agent=ctx.agent)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcomes[ctx.agent] = exc

    threads = [threading.Thread(target=run, args=(c,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    made = [o for o in outcomes.values() if isinstance(o, GeneratedLink)]
    refused = [o for o in outcomes.values() if isinstance(o, AlreadyLinked)]
    assert len(made) == 1 and len(refused) == 7, outcomes
    assert {r.reference for r in refused} == {made[0].reference}
    assert sandbox.counter.calls == 1
    with admin.engine.connect() as conn:
        rows = conn.execute(text("SELECT reference, agent FROM payment_link")).all()
    assert [r.reference for r in rows] == [made[0].reference]
    assert rows[0].agent in names
