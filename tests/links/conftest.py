"""Fixtures for the link use case: the sandbox over real HTTP (uvicorn on a free loopback
port, in a thread) wrapped to count and delay `/gen` calls, a loopback SMTP server
(MailDrop), an AppContext on SQLite or PostgreSQL, and seeding helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from paylink_tui.config import Settings
from paylink_tui.domain.text import search_text
from paylink_tui.gateway.sandbox import create_sandbox_app
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import Client, Policy, Receipt
from paylink_tui.web.server import BackgroundServer
from tests.helpers import Mailbox

# The project's own background server: uvicorn in a thread on a pre-bound free port.
LoopbackServer = BackgroundServer


class GenCounter:
    """ASGI middleware: counts POSTs to /gen; can hold the answer of the first N calls
    longer than the client waits (the request is still processed: MIT made the link, the
    answer was lost)."""

    def __init__(self, app) -> None:
        self.app = app
        self.calls = 0
        self.delay_first = 0
        self.delay_seconds = 0.0
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/gen" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.calls += 1
            delayed = self.calls <= self.delay_first
        if not delayed:
            await self.app(scope, receive, send)
            return
        held: list[dict] = []

        async def hold(message: dict) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(self.delay_seconds)
        try:
            for message in held:
                await send(message)
        except Exception:  # the client gave up long ago
            pass


@dataclass
class SandboxServer:
    url: str
    app: object
    counter: GenCounter

    @property
    def gen_url(self) -> str:
        return f"{self.url}/gen"

    @property
    def sandbox(self):  # type: ignore[no-untyped-def]
        return self.app.state.sandbox  # type: ignore[attr-defined]

    @property
    def links(self) -> list:
        return list(self.sandbox.state.links.values())


@pytest.fixture
def sandbox(serve, clock) -> SandboxServer:
    app = create_sandbox_app(company="AXA", now=clock)
    counter = GenCounter(app)
    server = serve(counter)
    return SandboxServer(server.url, app, counter)


# The merchant's meses sin intereses in the MSI tests: ours (PAYLINK_MIT_PROMOTIONS) and the
# contract the sandbox plays MIT with, the same table as an agency configures both.
MSI_CONTRACT = "3:300,6:600,9:900,12:1200"


@pytest.fixture
def msi_sandbox(serve, clock) -> SandboxServer:
    """The sandbox whose merchant contract enables MSI_CONTRACT; `requests` records the
    promociones of every generation request it reads (decrypted, as MIT would)."""
    from paylink_tui.domain.promotions import parse_promotions
    from paylink_tui.gateway.messages import parse_xml

    app = create_sandbox_app(company="AXA", now=clock, promotions=parse_promotions(MSI_CONTRACT))
    sandbox = app.state.sandbox
    real_generate = sandbox.generate
    sandbox.requests = []

    def recording(request_xml: str):  # type: ignore[no-untyped-def]
        sandbox.requests.append(parse_xml(request_xml).findtext("url/promociones"))
        return real_generate(request_xml)

    sandbox.generate = recording
    counter = GenCounter(app)
    server = serve(counter)
    return SandboxServer(server.url, app, counter)


@pytest.fixture
def real_time_sandbox(serve) -> SandboxServer:
    """The sandbox on the real clock, for other processes that run on the real clock."""
    app = create_sandbox_app(company="AXA")
    counter = GenCounter(app)
    server = serve(counter)
    return SandboxServer(server.url, app, counter)


@pytest.fixture
def make_ctx(database_url: str, clock, mailbox: Mailbox) -> Iterator[Callable[..., AppContext]]:
    """make_ctx(**settings) -> an AppContext on the test database, the test clock and the
    MailDrop; the gateway defaults to the sandbox at `gen_url` (pass it)."""
    made: list[AppContext] = []

    def _make(**overrides) -> AppContext:
        values = {
            "database_url": database_url,
            "agent": "ana",
            "gateway": "sandbox",
            "smtp_host": "127.0.0.1",
            "smtp_port": mailbox.port,
            "smtp_timeout": 5.0,
            "mit_timeout": 5.0,
            **overrides,
        }
        ctx = AppContext(settings=Settings(**values), engine=make_engine(database_url),
                         clock=clock)
        made.append(ctx)
        return ctx

    yield _make
    for ctx in made:
        if ctx.gateway is not None:
            ctx.gateway.close()
        ctx.engine.dispose()


def seed_policy(engine, number: str, receipts: list[tuple], *, now: datetime,
                holder: tuple[str, str, str] = ("Ana", "Peña", "Gómez"),
                email: str | None = "ana@example.com", phone: str | None = None) -> None:
    """A client, a policy and its receipts: (number, amount, currency[, status[, due date]]);
    the i-th receipt is due on 1+i October 2021 unless given."""
    with Session(engine) as session:
        client = Client(first_name=holder[0], last_name=holder[1], second_last_name=holder[2],
                        email=email, phone=phone)
        session.add(client)
        session.flush()
        pol = Policy(number=number, ramo="Autos", client_id=client.id)
        session.add(pol)
        session.flush()
        for i, spec in enumerate(receipts):
            rnum, amount, currency = spec[:3]
            status = spec[3] if len(spec) > 3 else "pending"
            due = spec[4] if len(spec) > 4 else date(2021, 10, 1 + i)
            session.add(Receipt(
                number=rnum, policy_id=pol.id, policy_number=number,
                amount=Decimal(amount), currency=currency, due_date=due,
                status=status, search_text=search_text(number, rnum, *holder),
                created_at=now, updated_at=now,
            ))
        session.commit()


def receipt(engine, number: str) -> Receipt:
    with Session(engine) as session:
        return session.exec(select(Receipt).where(Receipt.number == number)).one()


@pytest.fixture
def seed() -> Callable[..., None]:
    """seed(engine, policy_number, [(receipt, amount, currency[, status[, due]]), ...], now=...)."""
    return seed_policy


@pytest.fixture
def get_receipt() -> Callable[..., Receipt]:
    return receipt
