"""An ASGI app under uvicorn in a background thread, on a socket bound before start (so a
free port, port=0, is known at once and cannot be taken by someone else meanwhile).

Used by `paylink-tui demo`, where the TUI owns the main thread, and by tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class BackgroundServer:
    def __init__(self, app: Any = None, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", graceful_shutdown: float = 1.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        # log_config=None: uvicorn must not install handlers bound to the real stderr, which
        # would write over the TUI in `paylink-tui demo`; records go to the host's logging.
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                                log_config=None, timeout_graceful_shutdown=graceful_shutdown)
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
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=timeout)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
