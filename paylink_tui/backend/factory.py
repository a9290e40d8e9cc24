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


# Settings of the one-agent mode that an agent's machine in team mode does not use (the
# server has its own): present, they are ignored, and the agent is told once.
IGNORED_IN_TEAM_MODE = ("database_url", "gateway", "mit_", "smtp_")


def server_of(settings: Settings) -> str | None:
    """The agency server this machine uses: PAYLINK_SERVER (environment or TOML), else the
    one `paylink-tui login` kept; None: the one-agent mode."""
    if settings.server:
        return settings.server
    from paylink_tui.backend.client_session import load_session
    from paylink_tui.domain.hosts import check_server_url

    stored = load_session()
    if stored is None or not stored.server:
        return None
    try:
        return check_server_url(stored.server)
    except ValueError:
        return None


def ignored_settings(settings: Settings) -> list[str]:
    return sorted(f"PAYLINK_{name.upper()}" for name in settings.model_fields_set
                  if name.startswith(IGNORED_IN_TEAM_MODE))


_warned = False


def warn_ignored(settings: Settings, server: str, notify: Callable[[str], None] | None) -> None:
    """One Spanish line, once per process, naming the settings team mode leaves unused."""
    global _warned
    names = ignored_settings(settings)
    if not names or notify is None or _warned:
        return
    _warned = True
    notify(f"Aviso: modo equipo con el servidor {server}; en esta máquina se ignoran "
           f"{', '.join(names)} (la base de datos, MIT y el correo están en el servidor). "
           "Puede quitarlos de su configuración.")


def open_remote(settings: Settings, server: str,
                notify: Callable[[str], None] | None = None) -> Backend:
    """The remote backend on `server` with the session `login` kept (NotSignedIn without
    one). No SQLAlchemy, no gateway, no mail is imported on this path."""
    from paylink_tui.backend.client_session import (
        StoredSession,
        load_session,
        save_session,
    )
    from paylink_tui.backend.remote import RemoteBackend
    from paylink_tui.domain.errors import NotSignedIn

    warn_ignored(settings, server, notify)
    stored = load_session()
    if stored is None or stored.server != server or not stored.token:
        raise NotSignedIn(f"No hay sesión abierta en el servidor de la agencia ({server}). "
                          f"Entre con «paylink-tui login {server}».")
    user = stored.user

    def keep(token: str) -> None:  # a sign-in again in the TUI: later commands use it too
        save_session(StoredSession(server=server, user=user, token=token))

    return RemoteBackend(server, stored.token, user=user, on_token=keep)  # type: ignore[return-value]


def open_backend(settings: Settings, notify: Callable[[str], None] | None = None) -> Backend:
    server = server_of(settings)
    if server is not None:
        return open_remote(settings, server, notify)
    return open_local(settings, notify)
