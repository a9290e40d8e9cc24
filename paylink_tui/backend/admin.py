"""Operations that run where the database is (the agency's server, or the agent's own
machine), not through the agent's interface: the schema upgrade (and, in team mode, users).
Failures are `AgentError`s with a Spanish message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paylink_tui.backend.factory import SchemaProblem, database_reason
from paylink_tui.domain.errors import BackendUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.config import Settings
    from paylink_tui.domain.results import UserRow


def upgrade_database(settings: Settings) -> tuple[str | None, str | None]:
    """Create or upgrade the schema; (revision before, revision after)."""
    from sqlalchemy.exc import SQLAlchemyError

    from paylink_tui.store.db import (
        REVISIONS,
        current_revision,
        make_engine,
        newer_schema_message,
        upgrade,
    )

    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        if before is not None and before not in REVISIONS:
            raise SchemaProblem(newer_schema_message(before))
        upgrade(engine)
        return before, current_revision(engine)
    except SQLAlchemyError as exc:
        raise BackendUnavailable(
            f"No se pudo actualizar la base de datos: {database_reason(exc)}") from None
    finally:
        engine.dispose()


# -- users (team mode): run where the database is -----------------------------------------


def _admin_context(settings: Settings):  # type: ignore[no-untyped-def]
    """A context on the configured database acting as this machine's administrador (the one
    who runs commands where the database is)."""
    from sqlalchemy.exc import SQLAlchemyError

    from paylink_tui.services.context import open_context
    from paylink_tui.store.db import SchemaError

    try:
        return open_context(settings)
    except SchemaError as exc:
        raise SchemaProblem(str(exc)) from None
    except SQLAlchemyError as exc:
        raise BackendUnavailable(
            f"No se pudo abrir la base de datos: {database_reason(exc)}") from None


def _with_users(settings: Settings, call):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import SQLAlchemyError

    ctx = _admin_context(settings)
    try:
        return call(ctx)
    except SQLAlchemyError as exc:
        raise BackendUnavailable(
            f"La base de datos no pudo completar la operación: {database_reason(exc)}"
        ) from None
    finally:
        ctx.engine.dispose()


def add_user(settings: Settings, name: str, *, role: str, codes: str | None,
             password: str | None = None) -> str:
    """`users add`: the password to hand over (one-time unless `password` was given)."""
    from paylink_tui.services import users

    return _with_users(settings, lambda ctx: users.add_user(ctx, name, role=role, codes=codes,
                                                            password=password))


def list_users(settings: Settings) -> list[UserRow]:
    from paylink_tui.services import users

    return _with_users(settings, users.list_users)  # type: ignore[no-any-return]


def disable_user(settings: Settings, name: str) -> None:
    from paylink_tui.services import users

    _with_users(settings, lambda ctx: users.disable_user(ctx, name))


def reset_password(settings: Settings, name: str, password: str | None = None) -> str:
    from paylink_tui.services import users

    return _with_users(settings, lambda ctx: users.reset_password(ctx, name, password))  # type: ignore[no-any-return]
