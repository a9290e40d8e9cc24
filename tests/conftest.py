"""Shared fixtures: databases on both engines, a fixed clock.

Storage tests take the `engine` (or `database_url`) fixture, which runs each test on SQLite
and on PostgreSQL. PostgreSQL needs PAYLINK_TEST_POSTGRES_URL (CI sets it); without it those
cases skip with the reason, and under CI=true they fail instead, so CI never goes green by
skipping. Each PostgreSQL test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text

from paylink_tui.store.db import make_engine, normalise_url, upgrade
from paylink_tui.web.server import BackgroundServer
from tests.helpers import Mailbox

PG_ENV = "PAYLINK_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip with a reason on a newcomer's machine; fail under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def postgres_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


_pg_prepared = False
EXT_SCHEMA = "paylink_ext"


def _prepare_postgres(base: str) -> None:
    """pg_trgm in a schema of its own, so that test schemas never see `public`.

    A test's search_path is its own schema and this one: tables someone left in `public`
    of the shared test database can't leak into a test.
    """
    global _pg_prepared
    if _pg_prepared:
        return
    eng = sa_create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(4242)"))
        try:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {EXT_SCHEMA}"))
            where = conn.execute(text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'pg_trgm'")).scalar()
            if where is None:
                conn.execute(text(f"CREATE EXTENSION pg_trgm SCHEMA {EXT_SCHEMA}"))
            elif where != EXT_SCHEMA:
                conn.execute(text(f"ALTER EXTENSION pg_trgm SET SCHEMA {EXT_SCHEMA}"))
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(4242)"))
    eng.dispose()
    _pg_prepared = True


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema},{EXT_SCHEMA}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, migrated schema."""
    base = postgres_base_url()
    require(base is not None, f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    assert base is not None
    _prepare_postgres(base)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa_create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{(tmp_path / 'paylink.db').as_posix()}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(database_url: str):
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str):
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


# 07/10/2021 16:04:56 in Mexico City (UTC-5 that day): the insurer's own example.
EXAMPLE_NOW = datetime(2021, 10, 7, 21, 4, 56, tzinfo=timezone.utc)


class Clock:
    """A settable clock for services: `clock()` is now; `clock.set(...)`, `clock.advance(...)`."""

    def __init__(self, start: datetime = EXAMPLE_NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PAYLINK_* from the developer's shell, no config file from their home."""
    for name in list(os.environ):
        if name.startswith("PAYLINK_") and name != PG_ENV:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "no-config.toml"))


@pytest.fixture
def serve() -> Iterator[Callable[..., BackgroundServer]]:
    """serve(app) -> the app on a free loopback port (uvicorn in a thread, the project's own
    BackgroundServer), started; all are stopped after the test."""
    servers: list[BackgroundServer] = []

    def _serve(app) -> BackgroundServer:  # type: ignore[no-untyped-def]
        server = BackgroundServer(app).start()
        servers.append(server)
        return server

    yield _serve
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    """A real SMTP server on loopback (aiosmtpd) that stores what it receives."""
    drop = Mailbox(tmp_path / "mail").start()
    yield drop
    drop.stop()
