"""Gateway fixtures: real loopback servers (uvicorn in a background thread), the sandbox,
a notification receiver, and a MitGateway pointed at the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from paylink_tui.domain.promotions import parse_promotions
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.mit import MitGateway
from paylink_tui.gateway.sandbox import Sandbox, create_sandbox_app
from paylink_tui.web.server import BackgroundServer

FAST_RETRIES = (0.05, 0.1, 0.2)


# The project's own background server: uvicorn in a thread on a pre-bound free port.
LoopbackServer = BackgroundServer


@dataclass
class Clock:
    """A movable `now` for the sandbox (aware UTC)."""

    current: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Receiver:
    """A merchant endpoint that records every strResponse it is sent.

    `fail_first` answers the first N posts with `fail_status` (simulating a receiver that
    is down for a while)."""

    fail_first: int = 0
    fail_status: int = 503
    bodies: list[str] = field(default_factory=list)
    hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def notify(request: Request) -> Response:
            form = await request.form()
            with self.lock:
                self.hits += 1
                if self.hits <= self.fail_first:
                    return PlainTextResponse("no disponible", status_code=self.fail_status)
                self.bodies.append(str(form.get("strResponse", "")))
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/mit/notificacion", notify, methods=["POST"])])


@dataclass
class SandboxEnv:
    url: str
    app: Starlette
    clock: Clock
    receiver: Receiver
    receiver_url: str

    @property
    def sandbox(self) -> Sandbox:
        return self.app.state.sandbox

    def gateway(self, **kwargs) -> MitGateway:
        args = dict(
            gen_url=f"{self.url}/gen", data0=sd.SANDBOX_DATA0, key=sd.SANDBOX_KEY,
            id_company=sd.SANDBOX_ID_COMPANY, id_branch=sd.SANDBOX_ID_BRANCH,
            user=sd.SANDBOX_USER, password=sd.SANDBOX_PASSWORD, timeout=5.0,
        )
        args.update(kwargs)
        return MitGateway(**args)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


def _sandbox_env(serve, clock: Clock, receiver: Receiver, **kwargs) -> SandboxEnv:
    recv = serve(receiver.app())
    notify_url = f"{recv.url}/mit/notificacion"
    app = create_sandbox_app(
        company="AXA", notify_url=notify_url, now=clock, notify_retry_delays=FAST_RETRIES,
        **kwargs,
    )
    server = serve(app)
    return SandboxEnv(server.url, app, clock, receiver, notify_url)


@pytest.fixture
def sandbox_env(serve, clock: Clock, receiver: Receiver) -> SandboxEnv:
    return _sandbox_env(serve, clock, receiver)


# The meses sin intereses of the sandbox's contract in the MSI tests (months:minimum MXN).
MSI_CONTRACT = "3:300,6:600,9:900,12:1200"


@pytest.fixture
def sandbox_with_contract(serve, clock: Clock, receiver: Receiver):  # type: ignore[no-untyped-def]
    """sandbox_with_contract("3:300,6:600") -> the sandbox whose merchant contract enables
    those meses sin intereses (months:minimum MXN), notifying `receiver`."""
    return lambda table: _sandbox_env(serve, clock, receiver, promotions=parse_promotions(table))


@pytest.fixture
def msi_env(sandbox_with_contract) -> SandboxEnv:  # type: ignore[no-untyped-def]
    """The sandbox with a contract that enables 3, 6, 9 and 12 meses sin intereses."""
    return sandbox_with_contract(MSI_CONTRACT)


@pytest.fixture
def gateway(sandbox_env: SandboxEnv) -> Iterator[MitGateway]:
    gw = sandbox_env.gateway()
    yield gw
    gw.close()
