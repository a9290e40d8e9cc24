"""Running the receiver under uvicorn, with the limits uvicorn itself lacks.

uvicorn closes an idle keep-alive connection, but a client that sends its request head one
byte a second keeps a connection (and a file descriptor) for ever: 1,100 of them exhausted
the descriptors and `/salud` stopped answering (issue 11 §3). `GuardedH11Protocol` closes a
connection whose request head has not arrived within PAYLINK_SERVE_READ_TIMEOUT seconds, and
closes at once any connection beyond PAYLINK_SERVE_MAX_CONNECTIONS; the body has its own
deadline in the receiver (web/receiver.py). A proxy that enforces timeouts is still expected
in front (README): these limits keep one process alive, they do not make it a front door.

`BackgroundServer`: an ASGI app under uvicorn in a background thread, on a socket bound
before start (so a free port, port=0, is known at once and cannot be taken by someone else
meanwhile). Used by `paylink-tui demo`, where the TUI owns the main thread, and by tests.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from functools import lru_cache
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from paylink_tui.web.guard import RateLimitedLog

log = logging.getLogger(__name__)
_closed = RateLimitedLog(log, burst=5)

DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 256


@lru_cache(maxsize=1)
def _limits_from_settings() -> tuple[float, int]:
    """(head timeout, max connections) of this process: a `serve` worker reads the same
    settings the command checked before starting it."""
    try:
        from paylink_tui.config import load_settings

        settings = load_settings()
        return settings.serve_read_timeout, settings.serve_max_connections
    except Exception:  # noqa: BLE001 - the command validated them; never fail a connection
        return DEFAULT_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a deadline for each request head and a cap on open
    connections. Class attributes left None come from the settings."""

    head_timeout: float | None = None
    max_connections: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        default_timeout, default_max = _limits_from_settings()
        self._head_timeout = self.head_timeout or default_timeout
        limit = self.max_connections or default_max
        if len(self.connections) > limit:
            _closed.warning("connection from %s closed: %d connections open already",
                            self.client[0] if self.client else "?", limit)
            transport.abort()
            return
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            _closed.warning("connection from %s closed: no request within %g s",
                            self.client[0] if self.client else "?", self._head_timeout)
            self.transport.close()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request head arrived whole
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm_head_timer()  # for the next request on this connection
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)


def guarded_protocol(head_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """GuardedH11Protocol with these limits (for a server in this process)."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"head_timeout": head_timeout, "max_connections": max_connections})


def uvicorn_limits(max_connections: int) -> dict[str, Any]:
    """uvicorn's own settings for the receiver: its concurrency cap (503 beyond it), the
    keep-alive timeout, and no X-Forwarded-For of its own (create_app reads it, and only when
    the proxy is trusted: PAYLINK_PROXY_HEADERS)."""
    return {"limit_concurrency": max_connections, "timeout_keep_alive": 5,
            "proxy_headers": False}


class BackgroundServer:
    def __init__(self, app: Any = None, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", graceful_shutdown: float = 1.0, *,
                 read_timeout: float = DEFAULT_READ_TIMEOUT,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        # log_config=None: uvicorn must not install handlers bound to the real stderr, which
        # would write over the TUI in `paylink-tui demo`; records go to the host's logging.
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                                log_config=None, timeout_graceful_shutdown=graceful_shutdown,
                                http=guarded_protocol(read_timeout, max_connections),
                                **uvicorn_limits(max_connections))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]},
            name=f"uvicorn-{self.port}", daemon=True,
        )

    @property
    def app(self) -> Any:
        return self.server.config.app

    @app.setter
    def app(self, app: Any) -> None:
        """Set before start(): e.g. an app that must know this server's own URL."""
        self.server.config.app = app

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise RuntimeError(f"el servidor en {self.url} no arrancó")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        # The agents' event streams end first (web/api/stream.py): uvicorn waits for open
        # connections, and would cancel them with a traceback when its grace ran out.
        api = getattr(getattr(self.app, "state", None), "api", None)
        hub = getattr(api, "hub", None)
        if hub is not None:
            hub.end_streams()
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=timeout)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
