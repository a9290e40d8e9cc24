"""Property-style, over the API: for random portfolios and users, nothing a user can list or
fetch belongs to an agent code they do not hold (and everything they hold is reachable)."""

from __future__ import annotations

import random

import pytest

from paylink_tui.backend.codec import from_json
from paylink_tui.backend.routes import ROUTES, encode_call
from paylink_tui.domain.results import ALL_CODES, PendingPage
from paylink_tui.services import users
from tests.api.conftest import PASSWORD, PORTFOLIOS, Team, set_code
from tests.links.conftest import seed_policy

CODES = ["A001", "B002", "C003", None]


def _visible(code: str | None, held: tuple[str, ...]) -> bool:
    if code is None:
        return False  # receipts without a code are the supervisors'
    return ALL_CODES in held or code in held


@pytest.mark.parametrize("seed", [20211007])
def test_nothing_outside_the_portfolio_is_listed_or_fetched(team: Team, seed: int) -> None:
    rng = random.Random(seed)
    code_of = {policy: code for policy, (code, _) in PORTFOLIOS.items()}
    for i in range(18):
        policy = f"PR-{i:03d}"
        code_of[policy] = rng.choice(CODES)
        seed_policy(team.ctx.engine, policy, [(f"{policy}-1", "120.00", "MXN"),
                                              (f"{policy}-2", "80.00", "MXN")],
                    now=team.ctx.now(), email=f"{policy.lower()}@example.com")
        set_code(team.ctx.engine, policy, code_of[policy])
    held: dict[str, tuple[str, ...]] = {}
    for n in range(4):
        codes = tuple(sorted(rng.sample(["A001", "B002", "C003"], rng.randint(1, 2))))
        if n == 3:
            codes = (ALL_CODES,)
        name = f"prop{n}"
        users.add_user(team.ctx, name, role="agente", codes=",".join(codes), password=PASSWORD)
        held[name] = codes
    # A supervisor links a random half of the policies (links of every agent's portfolio).
    sofia = team.as_user("sofia")
    references: dict[str, str] = {}
    for policy in rng.sample(sorted(code_of), 10):
        got = sofia.post("/api/v1/ligas", json={"policy_number": policy,
                                                 "email": "c@example.com"})
        assert got.status_code == 200, got.text
        references[got.json()["reference"]] = policy
    receipt_ids = {team.receipt_id(f"{p}-1"): p for p in code_of if p.startswith("PR-")}
    route = ROUTES["pending_page"]
    for name, codes in held.items():
        client = team.as_user(name)
        seen: list[str] = []
        after = None
        while True:
            path, query, _ = encode_call(route, {"after": after, "limit": 7})
            page = from_json(PendingPage, client.get(path, params=query).json())
            seen += [row.policy for row in page.rows]
            if not page.has_more:
                break
            after = page.last_key
        context = f"seed {seed}, user {name} {codes}"
        assert all(_visible(code_of[p], codes) for p in seen), context
        linked = set(references.values())
        wanted = {p for p in code_of if _visible(code_of[p], codes) and p not in linked}
        assert wanted <= set(seen), context  # and all of the portfolio is there
        links = client.get("/api/v1/ligas", params={"limit": "null"}).json()
        assert {row["policy"] for row in links} == {p for p in linked
                                                    if _visible(code_of[p], codes)}, context
        for reference, policy in references.items():
            got = client.get(f"/api/v1/ligas/{reference}")
            assert got.status_code == (200 if _visible(code_of[policy], codes) else 404), \
                (context, reference)
        for receipt_id, policy in receipt_ids.items():
            got = client.get(f"/api/v1/recibos/{receipt_id}")
            assert got.status_code == (200 if _visible(code_of[policy], codes) else 404), \
                (context, policy)
        totals = client.get("/api/v1/pendientes/totales").json()
        assert totals["count"] == len(seen), context  # one row per receipt
