"""The first frame in team mode: never this machine's SQLite rows (they are not the
server's); the server's own first page instead, read with the standard library, when the
server answers within the frame's budget — else no frame at all."""

from __future__ import annotations

import socket
import time

from paylink_tui.backend import routes
from paylink_tui.backend.client_session import StoredSession, save_session, session_path
from paylink_tui.backend.first_page_remote import (
    IDENTITY_PATH,
    PENDING_PATH,
    remote_first_page,
    team_session,
)
from paylink_tui.cli.first_frame import peek_settings, render
from tests.api.conftest import Team


def test_no_local_frame_with_paylink_server(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert peek_settings({"PAYLINK_DATABASE_URL": url}) is not None
    assert peek_settings({"PAYLINK_DATABASE_URL": url,
                          "PAYLINK_SERVER": "https://pagos.agencia.mx"}) is None


def test_no_local_frame_with_server_in_the_toml(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('server = "https://pagos.agencia.mx"\n', encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(config))
    assert peek_settings({}) is None


def test_no_local_frame_after_login(tmp_path) -> None:
    assert peek_settings({}) is not None
    save_session(StoredSession(server="https://pagos.agencia.mx", user="ana", token="t" * 43))
    assert session_path().is_file()
    assert peek_settings({}) is None


def test_the_frame_asks_the_server_the_session_belongs_to_and_no_other(tmp_path) -> None:
    assert team_session({}) is None  # nobody signed in: the one-agent mode
    save_session(StoredSession(server="https://pagos.agencia.mx", user="ana", token="t" * 43))
    assert team_session({}) == ("https://pagos.agencia.mx", "t" * 43)
    assert team_session({"PAYLINK_SERVER": "https://pagos.agencia.mx/"}) == (
        "https://pagos.agencia.mx", "t" * 43)
    # Another server chosen in the environment: this token is not sent there.
    assert team_session({"PAYLINK_SERVER": "https://otro.example.mx"}) is None
    assert team_session({"PAYLINK_SERVER": "http://pagos.agencia.mx"}) is None  # not https
    save_session(StoredSession(server="https://pagos.agencia.mx", user="ana", token=""))
    assert team_session({}) is None


def test_the_paths_are_the_routes_of_the_api() -> None:
    assert IDENTITY_PATH == routes.WHOAMI
    assert PENDING_PATH == routes.ROUTES["pending_page"].path
    assert IDENTITY_PATH == routes.ROUTES["identity"].path


def test_the_servers_frame_is_the_agents_first_page(team: Team, remote) -> None:
    ana = remote("ana")
    got = remote_first_page(team.url, ana.token, 3, budget=10.0)
    assert got is not None
    rows, zone = got
    want = ana.pending_page(limit=3).rows
    assert zone == ana.identity().timezone == "America/Mexico_City"
    assert [(r.receipt, r.policy, r.ramo, r.holder, r.amount, r.currency, r.due_date, r.email,
             r.lapses_at) for r in rows] == [
        (w.receipt, w.policy, w.ramo, w.holder, w.amount, w.currency, w.due_date, w.email,
         w.lapses_at) for w in want]
    assert {r.policy for r in rows} <= {"PA-100", "PA-200"}  # ana's portfolio alone
    frame = render(rows, None, 120, 36)
    assert "PA-100-1" in frame and "PB-100" not in frame


def test_an_ended_session_or_a_wrong_token_gives_no_frame(team: Team) -> None:
    assert remote_first_page(team.url, "x" * 43, 3, budget=10.0) is None


def test_a_server_down_or_silent_gives_no_frame_within_the_budget() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    assert remote_first_page(f"http://127.0.0.1:{port}", "t" * 43, 3) is None  # refused
    with socket.socket() as silent:  # accepts the connection (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert remote_first_page(url, "t" * 43, 3, budget=0.3) is None
    assert time.monotonic() - started < 2.0
