"""Fixtures for the team-mode client: the agency server of tests/api (real uvicorn on
loopback, SQLite and PostgreSQL, users of every role) and a RemoteBackend signed in to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from paylink_tui.backend.remote import RemoteBackend
from tests.api.conftest import PASSWORD, Team, build_team, pg_team, team  # noqa: F401


@pytest.fixture
def remote(team: Team) -> Iterator[Callable[..., RemoteBackend]]:  # noqa: F811
    """remote(user) -> a RemoteBackend signed in as `user` (closed after the test)."""
    made: list[RemoteBackend] = []

    def _remote(user: str = "ana", **kwargs) -> RemoteBackend:  # type: ignore[no-untyped-def]
        backend = RemoteBackend(team.url, team.sign_in(user, PASSWORD), user=user, **kwargs)
        made.append(backend)
        return backend

    yield _remote
    for backend in made:
        backend.close()
