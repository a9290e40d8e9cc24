"""Which backend this machine uses, opened with Spanish errors (`AgentError`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from paylink_tui.domain.errors import AgentError, BackendUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.base import Backend
    from paylink_tui.config import Settings


class SchemaProblem(AgentError):
    """The database's schema cannot be used as it is (outdated PostgreSQL, newer build...)."""


def database_reason(exc: BaseException) -> str:
    """The first line of a driver's error, short (never a password: URLs are not in it)."""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def open_local(settings: Settings, notify: Callable[[str], None] | None = None) -> Backend:
    """The local backend on the configured database (SQLite upgraded on start)."""
    from sqlalchemy.exc import OperationalError

    from paylink_tui.backend.local import LocalBackend
    from paylink_tui.services.context import open_context
    from paylink_tui.store.db import SchemaError

    try:
        return LocalBackend(open_context(settings, notify=notify))
    except SchemaError as exc:
        raise SchemaProblem(str(exc)) from None
    except OperationalError as exc:
        raise BackendUnavailable(
            f"No se pudo abrir la base de datos: {database_reason(exc)}") from None


def open_backend(settings: Settings, notify: Callable[[str], None] | None = None) -> Backend:
    return open_local(settings, notify)
