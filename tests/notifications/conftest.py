"""Notification fixtures: a context on each engine (sandbox key, fixed clock)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from tests.notifications.support import settings_for


@pytest.fixture
def ctx(database_url: str, clock) -> Iterator[AppContext]:
    engine = make_engine(database_url)
    context = AppContext(settings=settings_for(database_url), engine=engine, clock=clock)
    yield context
    engine.dispose()


@pytest.fixture
def sqlite_ctx(sqlite_url: str, clock) -> Iterator[AppContext]:
    engine = make_engine(sqlite_url)
    context = AppContext(settings=settings_for(sqlite_url), engine=engine, clock=clock)
    yield context
    engine.dispose()


@pytest.fixture
def mit(serve, clock):  # type: ignore[no-untyped-def]
    """The MIT sandbox on loopback, on the test's clock, notifying nobody (each test posts
    what it wants received): `mit.take(ctx, link)` makes MIT really take a payment for one of
    our links, and `mit.gateway()` is a MitGateway whose transaction query is the sandbox's."""
    from tests.notifications.support import SandboxMIT

    return SandboxMIT.start(serve, clock)


@pytest.fixture
def confirming_ctx(ctx, mit):  # type: ignore[no-untyped-def]
    """`ctx` with PAYLINK_MIT_QUERY_URL set: approvals wait for MIT's confirmation."""
    ctx.gateway = mit.gateway()
    ctx.settings = ctx.settings.model_copy(update={"mit_query_url": mit.query_url})
    yield ctx
    ctx.gateway.close()
