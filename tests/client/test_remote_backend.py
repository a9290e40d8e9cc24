"""The remote backend against a real `serve` (the agency server on loopback, uvicorn), on
SQLite and PostgreSQL: the same results and errors as the local backend, the portfolio rule
seen from the client, the server down/slow/garbage as BackendUnavailable, 401 as
SessionExpired (or a sign-in again), and no SQLAlchemy/gateway/mail in the client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from paylink_tui.backend.local import LocalBackend
from paylink_tui.backend.remote import RemoteBackend
from paylink_tui.domain.errors import (
    BackendUnavailable,
    Forbidden,
    InvalidEmail,
    LinkNotFound,
    SessionExpired,
)
from tests.api.conftest import PASSWORD, Team


def test_the_pending_list_is_the_agents_portfolio_and_the_same_as_local(team: Team, remote) -> None:
    ana = remote("ana")
    page = ana.pending_page()
    assert {r.policy for r in page.rows} == {"PA-100", "PA-200"}
    local = LocalBackend(team.ctx.for_principal(ana.identity()))
    assert page == local.pending_page()
    assert ana.pending_totals() == local.pending_totals()
    assert list(ana.iter_pending()) == list(local.iter_pending())
    rid = team.receipt_id("PA-100-1")
    assert ana.receipt_detail(rid) == local.receipt_detail(rid)
    # Another agent's receipt does not exist for ana.
    assert ana.receipt_detail(team.receipt_id("PB-100-1")) is None
    me = ana.identity()
    assert (me.user, me.role, me.codes, me.server) == ("ana", "agente", ("A001",), team.url)
    # The agency's settings the screens read (the link detail's next reminder) are the
    # one-agent mode's.
    alone = LocalBackend(team.ctx).identity()
    assert alone.reminder_days  # the default days: the comparison below means something
    for name in ("timezone", "company", "promotions", "reminder_days", "reminder_hour"):
        assert getattr(me, name) == getattr(alone, name), name


def test_a_link_over_the_server_and_its_history(team: Team, remote) -> None:
    ana = remote("ana")
    made = ana.generate_link(receipt_numbers=["PA-200-1"], email="cliente@example.com")
    assert made.reference and made.url
    assert [r.reference for r in ana.list_links()] == [made.reference]
    detail = ana.link_detail(made.reference)
    assert detail is not None and detail.link.reference == made.reference
    beto = remote("beto")
    assert beto.link_detail(made.reference) is None  # outside beto's portfolio: not found
    assert beto.list_links() == []
    with pytest.raises(InvalidEmail) as bad:
        ana.generate_link(receipt_numbers=["PA-100-1"], email="no-es-correo")
    assert "correo" in bad.value.message.lower()
    with pytest.raises(LinkNotFound):
        beto.cancel_link(made.reference)


def test_roles_are_the_servers(remote) -> None:
    with pytest.raises(Forbidden) as refused:
        remote("ana").list_review()
    assert "supervisor" in refused.value.message
    assert remote("sofia").list_review() == []


def test_the_remote_client_imports_no_database_gateway_or_mail(team: Team, tmp_path) -> None:
    """Built the way every command builds it (settings, the session `login` kept,
    open_backend), then called: SQLAlchemy, the MIT client and the mail code never load."""
    from paylink_tui.backend.client_session import StoredSession, save_session
    from paylink_tui.backend.remote import sign_in

    token, _, _ = sign_in(team.url, "ana", PASSWORD)
    config = tmp_path / "agente" / "config.toml"
    config.parent.mkdir()
    save_session(StoredSession(server=team.url, user="ana", token=token),
                 config.parent / "sesion.json")
    code = """
import sys, json
from paylink_tui.config import load_settings
from paylink_tui.backend.factory import open_backend
b = open_backend(load_settings())
assert type(b).__name__ == "RemoteBackend", type(b)
b.pending_page(); b.identity(); b.events(None); b.list_links(); b.close()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "sqlmodel",
      "alembic", "psycopg", "textual", "aiosmtpd", "jinja2") or m.startswith((
      "paylink_tui.gateway", "paylink_tui.mail", "paylink_tui.store",
      "paylink_tui.services")))))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env["PAYLINK_CONFIG"] = str(config)
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout.strip().splitlines()[-1]) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_server_that_is_down_is_a_spanish_unavailable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    backend = RemoteBackend(url, "x" * 43)
    with pytest.raises(BackendUnavailable) as down:
        backend.pending_page()
    assert url in down.value.message and "conexión" in down.value.message
    assert down.value.retryable


def _fake_server(answer: bytes, delay: float = 0.0) -> tuple[str, threading.Event]:
    """A raw TCP server that answers every request with `answer` after `delay`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(65536)
                if stop.wait(delay):
                    return
                try:
                    conn.sendall(answer)
                except OSError:
                    pass
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", stop


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{nope!!",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"x\": 1}\n",
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>502</h1>\n",
    b"garbage that is no HTTP\r\n\r\n",
], ids=["bad-json", "wrong-shape", "proxy-page", "not-http"])
def test_garbage_is_unavailable_never_a_traceback(answer: bytes) -> None:
    url, stop = _fake_server(answer)
    try:
        with pytest.raises(BackendUnavailable) as got:
            RemoteBackend(url, "t" * 43, timeout=5).pending_totals()
        assert url in got.value.message
    finally:
        stop.set()


def test_a_slow_server_is_unavailable_after_the_timeout() -> None:
    url, stop = _fake_server(b"HTTP/1.1 200 OK\r\n\r\n", delay=5)
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as got:
            RemoteBackend(url, "t" * 43, timeout=0.5).summary()
        assert time.monotonic() - started < 3
        assert "a tiempo" in got.value.message
    finally:
        stop.set()


def test_an_ended_session_is_session_expired_or_a_sign_in_again(team: Team, remote) -> None:
    ana = remote("ana")
    ana.pending_totals()
    with httpx.Client(base_url=team.url) as c:  # the session ends on the server
        assert c.delete("/api/v1/sesion",
                        headers={"Authorization": f"Bearer {ana.token}"}).status_code == 204
    with pytest.raises(SessionExpired) as expired:
        ana.pending_totals()
    assert "sesión" in expired.value.message
    asked: list[str] = []

    def sign_in_again() -> bool:
        asked.append(threading.current_thread().name)
        ana.sign_in("ana", PASSWORD)
        return True

    ana.sign_in_again = sign_in_again
    old = ana.token
    with httpx.Client(base_url=team.url) as c:
        c.delete("/api/v1/sesion", headers={"Authorization": f"Bearer {old}"})
    assert ana.pending_totals().count == 3  # the call went on, after signing in again
    assert len(asked) == 1 and ana.token != old


@pytest.mark.postgres
def test_the_remote_backend_on_postgresql(pg_team: Team) -> None:
    from paylink_tui.backend.remote import sign_in

    token, _, _ = sign_in(pg_team.url, "beto", PASSWORD)
    beto = RemoteBackend(pg_team.url, token)
    try:
        assert {r.policy for r in beto.pending_page().rows} == {"PB-100", "PB-200"}
        made = beto.generate_link(receipt_numbers=["PB-100-1"], email="c@example.com")
        assert beto.link_detail(made.reference) is not None
    finally:
        beto.close()
