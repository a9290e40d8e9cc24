"""Alembic environment: runs on the connection handed over by store.db.upgrade()."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import paylink_tui.store.models  # noqa: F401 - registers the tables

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


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
