"""Stopping a batch over the server: the agent's stop is a row any `serve` worker can record
(services/batch_runs.py), the links under way finish and are counted as made, the others as
not tried; only the user who started a batch can stop it, and every other case answers the
same "not found". On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from paylink_tui.backend.codec import from_json
from paylink_tui.config import Settings
from paylink_tui.domain.results import BatchOutcome
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from paylink_tui.web.api import api_state
from paylink_tui.web.app import create_app
from paylink_tui.web.server import BackgroundServer
from tests.api.conftest import Team, set_code
from tests.links.conftest import seed_policy

MORE = [f"PA-3{n:02d}" for n in range(6)]  # with PA-100 and PA-200: 8 links for ana


@pytest.fixture
def second_worker(team: Team, serve) -> Iterator[BackgroundServer]:
    """Another `serve` worker on the same database: its own engine, state and process loop."""
    settings = team.ctx.settings
    ctx = AppContext(settings=Settings(**settings.model_dump()),
                     engine=make_engine(settings.database_url), clock=team.ctx.clock)
    app = create_app(ctx, team=True, api_state=api_state(ctx), deliver_interval=0,
                     reminder_interval=0)
    yield serve(app)
    ctx.engine.dispose()


def _stop(client, batch_id):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/lotes/{batch_id}/detencion", json={})


def test_a_stop_sent_to_another_worker_finishes_the_links_under_way(
        team: Team, second_worker: BackgroundServer) -> None:
    for number in MORE:
        seed_policy(team.ctx.engine, number, [(f"{number}-1", "10.00", "MXN")],
                    now=team.ctx.clock(), email="c@example.com")
        set_code(team.ctx.engine, number, "A001")
    ana = team.as_user("ana")
    ana_elsewhere = team.http(team.token("ana"))
    ana_elsewhere.base_url = second_worker.url
    beto_elsewhere = team.http(team.token("beto"))
    beto_elsewhere.base_url = second_worker.url
    plan = ana.post("/api/v1/lotes/vista-previa", json={"search": "PA"}).json()
    assert len(plan["links"]) == 8
    team.gen.delay_first, team.gen.delay_seconds = 100, 1.0  # MIT answers after a second
    with ana.stream("POST", "/api/v1/lotes", json={"plan": plan}) as got:
        lines = got.iter_lines()
        first = json.loads(next(lines))
        batch_id = first["batch"]
        # Beto cannot stop Ana's batch, and is told what a batch that never existed tells.
        refused, none = _stop(beto_elsewhere, batch_id), _stop(beto_elsewhere, batch_id + 1000)
        assert refused.status_code == none.status_code == 404
        assert refused.json() == none.json()
        assert refused.json()["error"] == "BatchNotFound"
        stopped = _stop(ana_elsewhere, batch_id)
        assert stopped.status_code == 200 and stopped.json() is True
        rest = [json.loads(line) for line in lines if line]
    outcome = from_json(BatchOutcome, rest[-1]["outcome"])
    # The 4 links under way when the stop came (at most 4 MIT calls at a time) are made and
    # counted; the other 4 were not tried, and MIT was called for none of them.
    assert outcome.stopped
    assert len(outcome.made) == 4 and len(outcome.not_run) == 4
    assert team.gen.calls == 4
    assert [line["progress"]["done"] for line in rest[:-1]] == [1, 2, 3, 4]
    # Finished: there is nothing to stop any more.
    assert _stop(ana, batch_id).status_code == 404

