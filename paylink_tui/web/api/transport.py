"""When `serve` runs the agents' API (team mode), and on what terms (team-mode.md).

Team mode: `serve --equipo`, or as soon as the database has a user (`paylink-tui users add`).
A `serve` of the one-agent mode (no user) runs the notification receiver alone, as before.

TLS: bearer tokens and passwords must not cross a network in clear. In team mode `serve`
refuses a non-loopback address unless it terminates TLS itself (`--ssl-certfile` and
`--ssl-keyfile`) or was told it sits behind a TLS proxy (`--proxy-headers`, as uvicorn
names it).
"""

from __future__ import annotations

import os

from paylink_tui.domain.hosts import is_loopback_host

# Carries "team mode" from the `serve` command to its uvicorn workers (each reads it when it
# builds its app); not a setting of its own: `--equipo` or the users decide.
TEAM_ENV = "PAYLINK_SERVE_TEAM"

TLS_REQUIRED = (
    "En modo equipo el servidor no escucha en {host} sin cifrado: las contraseñas y las "
    "sesiones de los agentes viajarían legibles por la red. Indique el certificado con "
    "--ssl-certfile y --ssl-keyfile, o, si un proxy HTTPS de confianza está delante, "
    "--proxy-headers. Para probar en esta máquina use --host 127.0.0.1."
)
TLS_HALF = "Indique --ssl-certfile y --ssl-keyfile juntos (el certificado y su llave)."


def has_users(settings: object) -> bool:
    """Whether the configured database has any user (then `serve` is in team mode)."""
    from sqlalchemy import select

    from paylink_tui.store.db import make_engine
    from paylink_tui.store.models import User

    engine = make_engine(settings.database_url)  # type: ignore[attr-defined]
    try:
        with engine.connect() as conn:
            return conn.execute(select(User.__table__.c.id).limit(1)).first() is not None
    finally:
        engine.dispose()


def transport_refusal(*, host: str, team: bool, certfile: str | None, keyfile: str | None,
                      proxy_headers: bool) -> str | None:
    """Why `serve` must not start as asked (Spanish), or None."""
    if bool(certfile) != bool(keyfile):
        return TLS_HALF
    if not team or certfile or proxy_headers or is_loopback_host(host):
        return None
    return TLS_REQUIRED.format(host=host or "todas las direcciones")


def team_from_environment() -> bool:
    return os.environ.get(TEAM_ENV) == "1"
