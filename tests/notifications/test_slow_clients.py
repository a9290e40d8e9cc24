"""Slow and numerous clients against the real server (uvicorn on loopback, issue 11 §3): a
request head or body sent a byte at a time is cut off at the deadline, connections beyond
the cap are closed at once, and the receiver answers again as soon as they are gone."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from paylink_tui.web.app import create_app
from paylink_tui.web.server import BackgroundServer

DEADLINE = 0.5


@pytest.fixture
def server(sqlite_ctx):  # type: ignore[no-untyped-def]
    app = create_app(sqlite_ctx, deliver_interval=0, read_timeout=DEADLINE)
    with BackgroundServer(app, read_timeout=DEADLINE, max_connections=4) as srv:
        yield srv


def connect(server: BackgroundServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    return sock


def dribble_until_closed(sock: socket.socket, data: bytes, every: float = 0.05) -> float:
    """Send `data` a byte at a time; seconds until the server closed the connection (or
    answered and closed). Fails if it never did while there was data to send."""
    start = time.monotonic()
    sock.settimeout(every)
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # reset: closed
            return time.monotonic() - start
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - start
        else:  # an answer came: read until closed
            sock.settimeout(5)
            while sock.recv(4096):
                pass
            return time.monotonic() - start
    raise AssertionError("the server kept the connection open for the whole dribble")


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(server):
    head = (b"POST /mit/notificacion HTTP/1.1\r\nHost: receptor\r\n"
            + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n")  # ~13 s at this pace
    with connect(server) as sock:
        took = dribble_until_closed(sock, head)
    assert took < 5


def test_a_body_sent_a_byte_at_a_time_gets_408_and_the_connection_ends(server):
    body = b"strResponse=" + b"A" * 300
    head = (b"POST /mit/notificacion HTTP/1.1\r\nHost: receptor\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    with connect(server) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        got = b""
        start = time.monotonic()
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                break
        took = time.monotonic() - start
    assert got.startswith(b"HTTP/1.1 408"), got[:80]
    assert took < 5


def test_connections_beyond_the_cap_are_closed_and_service_comes_back(server):
    idle = [connect(server) for _ in range(4)]  # hold the cap with half-open connections
    try:
        time.sleep(0.1)
        extra = connect(server)
        extra.settimeout(2)
        try:
            extra.sendall(b"GET /salud HTTP/1.1\r\nHost: receptor\r\n\r\n")
            closed = extra.recv(4096) == b""
        except OSError:
            closed = True
        extra.close()
        assert closed, "a connection over the cap was served"
        time.sleep(DEADLINE + 0.5)  # the idle ones are cut at the head deadline
        assert httpx.get(f"{server.url}/salud", timeout=5).status_code == 200
    finally:
        for sock in idle:
            sock.close()
