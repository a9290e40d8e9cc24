"""The agency server under concurrent agents, on PostgreSQL (the team's engine): eight agents
generating for the same receipt at once make one link and one MIT call; twenty agents
signing in at once all get in."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from paylink_tui.backend.routes import SESSION_PATH, WHOAMI
from paylink_tui.services import users
from paylink_tui.store.models import PaymentLink
from tests.api.conftest import PASSWORD, Team

pytestmark = pytest.mark.postgres


def _at_once(n: int, call):  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)

    def run(i: int):  # type: ignore[no-untyped-def]
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_eight_agents_generating_for_one_receipt_make_one_link(pg_team: Team) -> None:
    team = pg_team
    names = [f"agente{i}" for i in range(8)]
    for name in names:
        users.add_user(team.ctx, name, role="agente", codes="A001", password=PASSWORD)
    tokens = [team.sign_in(name) for name in names]

    def generate(i: int) -> httpx.Response:
        with httpx.Client(base_url=team.url, timeout=60,
                          headers={"Authorization": f"Bearer {tokens[i]}"}) as c:
            return c.post("/api/v1/ligas", json={"receipt_numbers": ["PA-200-1"],
                                                  "email": f"cliente{i}@example.com"})

    answers = _at_once(8, generate)
    made = [a for a in answers if a.status_code == 200]
    assert len(made) == 1, [a.text for a in answers]
    refused = [a for a in answers if a.status_code != 200]
    assert all(a.status_code == 409 and a.json()["error"] == "AlreadyLinked" for a in refused), \
        [a.text for a in refused]
    assert {a.json()["extra"]["reference"] for a in refused} == {made[0].json()["reference"]}
    assert team.gen.calls == 1
    with team.ctx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PaymentLink)).scalar_one() == 1


def test_twenty_agents_sign_in_at_once(pg_team: Team) -> None:
    team = pg_team
    names = [f"persona{i:02d}" for i in range(20)]
    for name in names:
        users.add_user(team.ctx, name, role="agente", codes="A001", password=PASSWORD)

    def sign_in(i: int) -> tuple[int, str | None]:
        got = httpx.post(f"{team.url}{SESSION_PATH}",
                         json={"user": names[i], "password": PASSWORD}, timeout=60)
        return got.status_code, got.json().get("token")

    start = time.monotonic()
    answers = _at_once(20, sign_in)
    took = time.monotonic() - start
    assert [status for status, _ in answers] == [200] * 20
    tokens = [token for _, token in answers]
    assert len(set(tokens)) == 20
    assert took < 20, f"20 sign-ins took {took:.1f} s"
    for name, token in zip(names, tokens, strict=True):
        me = httpx.get(f"{team.url}{WHOAMI}", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["user"] == name
