"""Keys typed over the first frame, in a real pseudo-terminal: none is lost, none becomes a
command it was not meant to be. The agent sees the rows, presses `/`, waits a moment, types
a name, Enter, `l`, Enter, exactly as once the app is ready (cli/first_frame.py, ui/keys.py).
The screen is read back with pyte, a terminal emulator."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import sys
import time
from datetime import date

import pyte
import pytest

from paylink_tui.store.db import make_engine
from tests.helpers import seed

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the pseudo-terminal is POSIX-only")

WIDTH, HEIGHT = 120, 36
# Names full of letters that are bindings on the pending screen (h: Historial, q: quit,
# l: Liga de pago, p, v): a letter that misses the search box shows at once.
HOLDERS = [("Hugo", "Quintero", "Vela"), ("Lilia", "Hernández", "Paz"), ("Pablo", "Villa", "Lugo"),
           ("Xóchitl", "Ramírez", "Luna"), ("Héctor", "Vázquez", "Quiroz"), ("Paloma", "Hinojosa", "Valle")]
TARGET = "Xóchitl Ramírez Luna"


@pytest.fixture
def terminal_db(sqlite_url: str) -> str:
    engine = make_engine(sqlite_url)
    seed(engine, [dict(policy=f"AU{n:07d}", receipt=f"41{n:08d}", first=first, last=last, second=second,
                       email=f"cliente{n}@example.com", amount=f"{100 + n}.50",
                       due=date(2021, 10, 1 + n))
                  for n, (first, last, second) in enumerate(HOLDERS * 4)])
    engine.dispose()
    return sqlite_url


class Terminal:
    """`paylink-tui` in a pseudo-terminal of 120×36, its output drawn by pyte."""

    def __init__(self, url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
        import fcntl
        import pty
        import termios

        self.main, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
        env.update(PAYLINK_DATABASE_URL=url, PAYLINK_CONFIG=str(tmp_path / "none.toml"),
                   TERM="xterm-256color", PAYLINK_AGENT="ana")
        self.proc = subprocess.Popen([sys.executable, "-m", "paylink_tui"], stdin=secondary,
                                     stdout=secondary, stderr=secondary, env=env, close_fds=True)
        os.close(secondary)
        self.screen = pyte.Screen(WIDTH, HEIGHT)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def read(self, timeout: float = 0.05) -> None:
        while select.select([self.main], [], [], timeout)[0]:
            try:
                data = os.read(self.main, 1 << 16)
            except OSError:
                return
            if not data:
                return
            self.raw += data
            self.stream.feed(data)
            timeout = 0

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            if predicate():
                return True
            if self.proc.poll() is not None:
                self.read()
                return predicate()
        return False

    def type(self, text: str) -> None:
        os.write(self.main, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.main)


@pytest.mark.parametrize("wait", [0.0, 0.15, 0.4, 0.8, 1.5])
@pytest.mark.parametrize("reads", ["one read", "key by key"])
def test_slash_a_name_enter_l_enter_typed_over_the_first_frame_open_that_clients_dialog(
        terminal_db, tmp_path, wait, reads):
    term = Terminal(terminal_db, tmp_path)
    try:
        assert term.wait_for(lambda: b"Calculando" in term.raw and b"4100000000" in term.raw), term.text()
        term.type("/")  # as soon as the rows show: the app is still loading
        time.sleep(wait)  # the test's typist, not the product, waits
        keys = ["xochitl", "\r", "l", "\r"]
        if reads == "key by key":
            keys = [ch for chunk in keys for ch in chunk]
        for chunk in keys:
            term.type(chunk)
        opened = term.wait_for(lambda: f"Contratante {TARGET}" in term.text()
                               and "la pasarela de pago no está configurada" in term.text())
        screen = term.text()
        assert opened, screen
        assert "Historial" not in term.screen.display[0]  # no `h` reached the table
        term.type("\x1b")  # the dialog closes, the search still says what was typed
        assert term.wait_for(lambda: "xochitl" in term.text() and "Contratante Xóchitl" not in term.text())
        term.type("q")
        assert term.wait_for(lambda: term.proc.poll() is not None, timeout=30)
        assert term.proc.returncode == 0
    finally:
        term.close()
