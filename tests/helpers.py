"""Test data helpers: rows written straight through the models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

from sqlmodel import Session, select

from paylink_tui.domain.text import full_name, search_text
from paylink_tui.mail.server import MailDrop
from paylink_tui.store.db import write_session
from paylink_tui.store.models import Client, Policy, Receipt

T0 = datetime(2021, 10, 1, tzinfo=timezone.utc)


def add_receipt(
    session: Session,
    *,
    policy: str,
    receipt: str,
    first: str = "Juan",
    last: str = "Pérez",
    second: str = "López",
    email: str | None = "juan@example.com",
    amount: str = "75.17",
    currency: str = "MXN",
    due: date = date(2021, 10, 15),
    ramo: str = "Autos",
    status: str = "pending",
) -> Receipt:
    pol = session.exec(select(Policy).where(Policy.number == policy)).first()
    if pol is None:
        client = Client(first_name=first, last_name=last, second_last_name=second, email=email)
        session.add(client)
        session.flush()
        pol = Policy(number=policy, ramo=ramo, client_id=client.id)
        session.add(pol)
        session.flush()
    client = session.get(Client, pol.client_id)
    rec = Receipt(
        number=receipt, policy_id=pol.id, policy_number=policy, amount=Decimal(amount),
        currency=currency, due_date=due, status=status,
        search_text=search_text(policy, receipt, full_name(client.first_name, client.last_name, client.second_last_name)),
        created_at=T0, updated_at=T0,
    )
    session.add(rec)
    session.flush()
    return rec


def seed(engine, rows: list[dict]) -> list[int]:
    with write_session(engine) as session:
        return [add_receipt(session, **row).id for row in rows]


def migrate(engine, verb: str, target: str) -> None:  # type: ignore[no-untyped-def]
    """Alembic's `upgrade`/`downgrade` to `target` on `engine`, with the project's scripts."""
    from alembic import command
    from alembic.config import Config

    import paylink_tui.store.db as db

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, target)


def closed_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Mailbox(MailDrop):
    """The loopback mail drop, with the stored messages parsed."""

    def parsed(self) -> list:  # type: ignore[type-arg]
        return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in self.messages()]


ROOT = Path(__file__).resolve().parents[1]


def command_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `paylink-tui` child process: this database, no PAYLINK_* of the
    developer's shell, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update({
        "PAYLINK_CONFIG": str(tmp_path / "no-config.toml"),
        "PAYLINK_DATABASE_URL": database_url,
        "PAYLINK_AGENT": "ana",
        "PYTHONIOENCODING": "utf-8",
        **extra,
    })
    return env


def link_command(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """`paylink-tui link ARGS` as a child process (text pipes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "paylink_tui", "link", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        encoding="utf-8",
    )


class ScriptedMIT:
    """A stand-in for MIT's transaction query (`/pgs/services/xmltransacciones`) on loopback
    that answers what the test scripts: each answer is (HTTP status, body, delay in seconds);
    `answers` are used in order, then `default`. Every request body is kept in `requests`.
    For what a real server can produce (faults, garbage, silence); the sandbox serves the
    real thing."""

    def __init__(self) -> None:
        from collections import deque

        self.answers: deque[tuple[int, str, float]] = deque()
        self.default: tuple[int, str, float] = (200, "", 0.0)
        self.requests: list[tuple[dict[str, str], bytes]] = []

    def answer(self, body: str, status: int = 200, delay: float = 0.0) -> None:
        self.default = (status, body, delay)

    def app(self):  # type: ignore[no-untyped-def]
        import asyncio

        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        from paylink_tui.gateway.mit_query import QUERY_PATH

        async def query(request: Request) -> Response:
            self.requests.append((dict(request.headers), await request.body()))
            status, body, delay = self.answers.popleft() if self.answers else self.default
            if delay:
                await asyncio.sleep(delay)
            return Response(body, status_code=status, media_type="text/xml; charset=utf-8")

        return Starlette(routes=[Route(QUERY_PATH, query, methods=["POST"])])


def set_candidate_limit(monkeypatch, limit: int) -> None:  # type: ignore[no-untyped-def]
    """Up to `limit` matches of a search are read from the word index by id, beyond it the
    list's order is walked, on both engines (SQLite's RARE_LIMIT; PostgreSQL's limit, which
    otherwise follows the book's size): to run a search down each path on a small book."""
    import paylink_tui.services.search as search

    monkeypatch.setattr(search, "RARE_LIMIT", limit)
    monkeypatch.setattr(search, "candidate_limit", lambda ctx: limit)
