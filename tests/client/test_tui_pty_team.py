"""`paylink-tui` in a real pseudo-terminal in team mode (read back with pyte): after `login`
the first frame shows the server's rows — the signed-in agent's portfolio alone, read over
HTTP before the app loads, never this machine's database — the app takes over, and `q` ends
it cleanly; what the start had to say (settings ignored) is printed after, on the agent's
own screen, never over the frame."""

from __future__ import annotations

import sys

import pytest

from paylink_tui.backend.client_session import StoredSession, save_session
from tests.api.conftest import Team
from tests.test_first_frame_keys import Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the pseudo-terminal is POSIX-only")


def test_the_tui_over_the_server_in_a_terminal(team: Team, tmp_path) -> None:
    # Terminal() points PAYLINK_CONFIG at tmp_path/none.toml: the session file of `login`
    # lives beside it. Its PAYLINK_DATABASE_URL (a local file) is ignored, with one warning.
    save_session(StoredSession(server=team.url, user="ana", token=team.sign_in("ana")),
                 tmp_path / "sesion.json")
    term = Terminal(f"sqlite:///{tmp_path / 'local.db'}", tmp_path)
    try:
        assert term.wait_for(lambda: "PA-100-1" in term.text(), timeout=90), term.text()
        screen = term.text()
        assert "PA-200-1" in screen and "PB-100" not in screen  # ana's portfolio only
        # The frame's rows, painted before Textual took the terminal (mouse reporting on).
        assert term.wait_for(lambda: b"\x1b[?1000h" in term.raw, timeout=90)
        assert term.raw.index(b"PA-100-1") < term.raw.index(b"\x1b[?1000h")
        assert b"se ignoran" not in term.raw  # nothing printed over the frame or the app
        assert "Traceback" not in screen
        term.type("q")
        assert term.wait_for(lambda: term.proc.poll() is not None, timeout=30)
        assert term.proc.returncode == 0
        term.read()
        tail = term.raw[term.raw.rindex(b"\x1b[?1049l"):]  # after the app left its screen
        assert b"se ignoran PAYLINK_DATABASE_URL" in tail
    finally:
        term.close()
    assert not (tmp_path / "local.db").exists()  # this machine's database was never opened
