"""Team mode's first page, from the agency server, with the standard library alone.

`paylink-tui` paints the first page before pydantic, httpx and Textual have loaded
(cli/first_frame.py). In the one-agent mode the rows come from this machine's SQLite file
(backend/first_page.py); in team mode they must be the server's — the signed-in agent's
portfolio, exactly what the app's first request will show — or nothing. So this asks the
server, over `http.client`, for the signed-in agent's identity (the insurer's time zone) and
the first page of the pending list, with the session `login` kept, and only if both come
back whole within `FRAME_BUDGET` seconds: a server that is slow, down, answers anything but
200 with JSON, or a session that has ended gives no frame, and the app starts as it does
without one (and says what happened). Nothing is written, logged or retried here; the token
goes only to the server the session belongs to, as the app would send it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit

from paylink_tui.backend.first_page import FirstRow
from paylink_tui.domain.text import full_name

FRAME_BUDGET = 0.3  # seconds for both answers: slower than this, the app paints first
MAX_ANSWER = 1 << 20  # bytes read of an answer: a first page is a few kilobytes
# backend/routes.py's paths (a test holds them equal; routes.py imports the codec).
IDENTITY_PATH = "/api/v1/identidad"
PENDING_PATH = "/api/v1/pendientes"


def team_session(environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(server, token) the app will use in team mode — PAYLINK_SERVER from the environment,
    then from the TOML file, else the server `login` kept — when the session file holds a
    token for that very server; None otherwise (the one-agent mode, or nobody signed in)."""
    import tomllib

    from paylink_tui.backend.client_session import load_session
    from paylink_tui.domain.hosts import check_server_url
    from paylink_tui.paths import config_path

    env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items()}
    server: object = env.get("PAYLINK_SERVER")
    if not server:
        path = config_path()
        if path.is_file():
            try:
                server = tomllib.loads(path.read_text(encoding="utf-8")).get("server")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None
    stored = load_session()
    if stored is None or not stored.token:
        return None
    try:
        chosen = check_server_url(server if isinstance(server, str) and server
                                  else stored.server)
    except ValueError:
        return None
    if stored.server != chosen:
        return None
    return chosen, stored.token


def remote_first_page(server: str, token: str, limit: int, *,
                      budget: float = FRAME_BUDGET) -> tuple[list[FirstRow], str] | None:
    """(the first `limit` rows of the agent's pending list, the insurer's time zone), or
    None unless the server gave both within `budget` seconds."""
    import http.client

    started = time.monotonic()
    parts = urlsplit(server)
    prefix = parts.path.rstrip("/")
    if parts.scheme == "https":
        import ssl

        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=budget,
            context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=budget)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        identity = _get(conn, f"{prefix}{IDENTITY_PATH}", headers, started, budget)
        page = _get(conn, f"{prefix}{PENDING_PATH}?{urlencode({'limit': limit})}", headers,
                    started, budget)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()
    if not isinstance(identity, dict) or not isinstance(page, dict):
        return None
    zone = identity.get("timezone")
    rows = page.get("rows")
    if not isinstance(zone, str) or not isinstance(rows, list):
        return None
    try:
        return [_row(r) for r in rows[:limit]], zone
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None


def _get(conn, path: str, headers: dict[str, str], started: float, budget: float) -> object:  # type: ignore[no-untyped-def]
    conn.request("GET", path, headers=headers)
    answer = conn.getresponse()
    body = answer.read(MAX_ANSWER + 1)
    if answer.status != 200 or len(body) > MAX_ANSWER:
        raise ValueError("not a first page")
    if time.monotonic() - started > budget:
        raise ValueError("too slow for a first frame")
    return json.loads(body)


def _row(data: dict) -> FirstRow:  # type: ignore[type-arg]
    """A PendingRow as backend/codec.py writes it."""
    lapses = data.get("lapses_at")
    amount = Decimal(_text(data["amount"]))
    if not amount.is_finite():
        raise ValueError("not an amount")
    return FirstRow(
        receipt=_text(data["receipt"]), policy=_text(data["policy"]), ramo=_text(data["ramo"]),
        holder=full_name(_text(data["first_name"]), _text(data["last_name"]),
                         _text(data["second_last_name"])),
        amount=amount, currency=_text(data["currency"]),
        due_date=date.fromisoformat(_text(data["due_date"])),
        email=_text(data["email"]) if data.get("email") is not None else None,
        lapses_at=datetime.fromisoformat(_text(lapses)) if lapses is not None else None,
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value
