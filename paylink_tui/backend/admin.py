"""Operations that run where the database is (the agency's server, or the agent's own
machine), not through the agent's interface: the schema upgrade (and, in team mode, users).
Failures are `AgentError`s with a Spanish message."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paylink_tui.backend.factory import SchemaProblem, database_reason
from paylink_tui.domain.errors import BackendUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.config import Settings


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
