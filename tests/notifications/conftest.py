"""Notification fixtures: a context on each engine (sandbox key, fixed clock)."""

from __future__ import annotations

import uuid
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
def pg_url() -> Iterator[str]:
    """Like the shared fixture, but immune to tables someone left in `public`: with
    search_path `schema,public`, Alembic would find public.alembic_version at head and
    create nothing in the fresh schema. An empty alembic_version in the schema comes first."""
    from sqlalchemy import create_engine as sa_create_engine
    from sqlalchemy import text

    from paylink_tui.store.db import normalise_url, upgrade
    from tests.conftest import PG_ENV, _prepare_postgres, _schema_url, postgres_base_url, require

    base = postgres_base_url()
    require(base is not None, f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    assert base is not None
    _prepare_postgres(base)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa_create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"CREATE TABLE {schema}.alembic_version ("
                          "version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    url = _schema_url(base, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
