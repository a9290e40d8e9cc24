"""Fixtures for the team-mode API: a database (SQLite and PostgreSQL) with two agents'
portfolios, users of every role, the sandbox MIT gateway and the agency server itself under
real uvicorn on loopback, and a signed-in httpx client per user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from paylink_tui.backend.routes import SESSION_PATH
from paylink_tui.config import Settings
from paylink_tui.gateway.sandbox import create_sandbox_app
from paylink_tui.services import users
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine, write_session
from paylink_tui.store.models import Policy, Receipt
from paylink_tui.web.api import api_state
from paylink_tui.web.api.throttle import SignInThrottle
from paylink_tui.web.app import create_app
from paylink_tui.web.server import BackgroundServer
from tests.links.conftest import GenCounter, seed_policy

PASSWORD = "contraseña-de-prueba-1"
# user -> (role, codes)
USERS = {
    "ana": ("agente", "A001"),
    "beto": ("agente", "B002"),
    "sofia": ("supervisor", "*"),
    "admin": ("administrador", "*"),
}
# policy -> (agent code, receipts)
PORTFOLIOS = {
    "PA-100": ("A001", [("PA-100-1", "100.00", "MXN"), ("PA-100-2", "50.00", "MXN")]),
    "PA-200": ("A001", [("PA-200-1", "700.00", "MXN")]),
    "PB-100": ("B002", [("PB-100-1", "80.00", "MXN")]),
    "PB-200": ("B002", [("PB-200-1", "90.00", "MXN")]),
}


def set_code(engine: Any, policy: str, code: str | None) -> None:
    with write_session(engine) as s:
        s.execute(update(Policy).where(Policy.number == policy).values(agent_code=code))
        s.execute(update(Receipt).where(Receipt.policy_number == policy)
                  .values(agent_code=code))


@dataclass
class Team:
    ctx: AppContext
    server: BackgroundServer
    gen: GenCounter
    state: Any
    tokens: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30.0)
        self.clients.append(client)
        return client

    def sign_in(self, user: str, password: str = PASSWORD) -> str:
        with httpx.Client(base_url=self.url, timeout=30.0) as c:
            got = c.post(SESSION_PATH, json={"user": user, "password": password})
        assert got.status_code == 200, got.text
        return got.json()["token"]

    def token(self, user: str) -> str:
        if user not in self.tokens:
            self.tokens[user] = self.sign_in(user)
        return self.tokens[user]

    def as_user(self, user: str) -> httpx.Client:
        return self.http(self.token(user))

    def receipt_id(self, number: str) -> int:
        from sqlmodel import Session, select

        with Session(self.ctx.engine) as s:
            return s.exec(select(Receipt.id).where(Receipt.number == number)).one()


def build_team(database_url: str, clock: Callable[[], datetime], serve: Callable[..., Any],
               mail_port: int, **state_kwargs: Any) -> Team:
    sandbox = create_sandbox_app(company="AXA", now=clock)
    gen = GenCounter(sandbox)
    mit = serve(gen)
    settings = Settings(database_url=database_url, agent="servidor", gateway="sandbox",
                        mit_gen_url=f"{mit.url}/gen", smtp_host="127.0.0.1",
                        smtp_port=mail_port, smtp_timeout=5.0, mit_timeout=10.0)
    ctx = AppContext(settings=settings, engine=make_engine(database_url), clock=clock)
    for policy, (code, receipts) in PORTFOLIOS.items():
        seed_policy(ctx.engine, policy, receipts, now=clock(),
                    email=f"{policy.lower()}@example.com")
        set_code(ctx.engine, policy, code)
    for name, (role, codes) in USERS.items():
        users.add_user(ctx, name, role=role, codes=codes, password=PASSWORD)
    state = api_state(ctx, **state_kwargs)
    app = create_app(ctx, team=True, api_state=state, deliver_interval=0,
                     reminder_interval=0)
    server = serve(app)
    return Team(ctx=ctx, server=server, gen=gen, state=state)


@pytest.fixture
def team(database_url: str, clock, serve, mailbox) -> Iterator[Team]:
    made = build_team(database_url, clock, serve, mailbox.port,
                      throttle=SignInThrottle())
    yield made
    for client in made.clients:
        client.close()
    made.ctx.engine.dispose()


@pytest.fixture
def pg_team(pg_url: str, clock, serve, mailbox) -> Iterator[Team]:
    made = build_team(pg_url, clock, serve, mailbox.port)
    yield made
    for client in made.clients:
        client.close()
    made.ctx.engine.dispose()
