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
