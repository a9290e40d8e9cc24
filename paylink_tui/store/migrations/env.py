"""Alembic environment: runs on the connection handed over by store.db.upgrade()."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import paylink_tui.store.models  # noqa: F401 - registers the tables
from paylink_tui.store.types import Money

target_metadata = SQLModel.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from paylink_tui.config import get_settings
        from paylink_tui.store.db import make_engine

        engine = make_engine(get_settings().database_url)
        with engine.begin() as connection:
            _run(connection)
        return
    _run(connection)


def _compare_type(ctx, inspected_column, metadata_column, inspected_type, metadata_type):  # type: ignore[no-untyped-def]
    # On SQLite, Money keeps whole cents in the columns 0001 declared NUMERIC(12, 2)
    # (migration 0002): NUMERIC and INTEGER affinity store an integer alike, so autogenerate
    # has nothing to change there.
    if isinstance(metadata_type, Money) and ctx.dialect.name == "sqlite":
        return False
    return None  # Alembic's own comparison


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=_compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
