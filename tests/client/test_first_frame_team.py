"""The first frame (painted from this machine's SQLite before the app loads) is not shown
in team mode: the rows would be this machine's, not the server's."""

from __future__ import annotations

from paylink_tui.backend.client_session import StoredSession, save_session, session_path
from paylink_tui.cli.first_frame import peek_settings


def test_no_first_frame_with_paylink_server(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert peek_settings({"PAYLINK_DATABASE_URL": url}) is not None
    assert peek_settings({"PAYLINK_DATABASE_URL": url,
                          "PAYLINK_SERVER": "https://pagos.agencia.mx"}) is None


def test_no_first_frame_with_server_in_the_toml(tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('server = "https://pagos.agencia.mx"\n', encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(config))
    assert peek_settings({}) is None


def test_no_first_frame_after_login(tmp_path) -> None:
    assert peek_settings({}) is not None
    save_session(StoredSession(server="https://pagos.agencia.mx", user="ana", token="t" * 43))
    assert session_path().is_file()
    assert peek_settings({}) is None
