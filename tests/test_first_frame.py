"""The TUI's first frame: the first page read with sqlite3 alone, painted before the app."""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from paylink_tui.backend.first_page import FirstRow, first_page, sqlite_path
from paylink_tui.cli import first_frame
from paylink_tui.cli.first_frame import peek_settings, render, table_rows
from paylink_tui.services.receipts import pending_page
from paylink_tui.store.models import Receipt
from tests.helpers import seed
from tests.test_pending import ROWS, make_ctx


def _db_path(engine) -> Path:
    return Path(engine.url.database)


def test_first_page_is_the_services_first_page(sqlite_engine, clock):
    rows = ROWS + [
        dict(policy=f"P-{i:03d}", receipt=f"R-{i:03d}", amount=f"{i}.05",
             due=date(2021, 10, 1) + timedelta(days=i % 7), currency="USD" if i % 5 else "MXN")
        for i in range(40)
    ] + [dict(policy="P-001", receipt="S-1", status="settled_elsewhere")]
    ids = seed(sqlite_engine, rows)
    with sqlite_engine.begin() as conn:  # hidden by a link for two more days, and one whose day passed
        conn.execute(update(Receipt.__table__).where(Receipt.__table__.c.id == ids[6])
                     .values(hidden_until=clock() + timedelta(days=2)))
        conn.execute(update(Receipt.__table__).where(Receipt.__table__.c.id == ids[7])
                     .values(hidden_until=clock() - timedelta(seconds=1)))
    for limit in (1, 17, 100):
        quick = first_page(_db_path(sqlite_engine), clock(), limit)
        page = pending_page(make_ctx(sqlite_engine, clock), limit=limit).rows
        assert quick == [FirstRow(r.receipt, r.policy, r.ramo, r.holder, r.amount, r.currency,
                                  r.due_date, r.email) for r in page]
    assert "R-001" not in [r.receipt for r in quick]  # ids[6]: hidden
    assert "R-002" in [r.receipt for r in quick]  # ids[7]: back on its day
    assert "S-1" not in [r.receipt for r in quick] and "R-5" not in [r.receipt for r in quick]


def test_a_database_to_create_or_upgrade_is_left_to_the_app(sqlite_engine, tmp_path, clock):
    assert first_page(tmp_path / "no-existe.db", clock(), 10) is None
    seed(sqlite_engine, ROWS)
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    assert first_page(_db_path(sqlite_engine), clock(), 10) is None
    assert sqlite_path("postgresql://postgres@127.0.0.1/test") is None
    assert sqlite_path("sqlite:///C:/Users/ana/paylink.db") == Path("C:/Users/ana/paylink.db")


def test_settings_are_peeked_as_pydantic_settings_reads_them(tmp_path, monkeypatch):
    from paylink_tui.config import load_settings

    toml = tmp_path / "config.toml"
    toml.write_text('database_url = "sqlite:////tmp/desde-archivo.db"\ntimezone = "America/Tijuana"\n',
                    encoding="utf-8")
    for key in list(os.environ):
        if key.upper().startswith("PAYLINK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("PAYLINK_CONFIG", str(toml))
    assert peek_settings() == ("sqlite:////tmp/desde-archivo.db", "America/Tijuana")
    real = load_settings()
    assert peek_settings() == (real.database_url, real.timezone)
    monkeypatch.setenv("PAYLINK_DATABASE_URL", "sqlite:////tmp/desde-entorno.db")
    assert peek_settings() == ("sqlite:////tmp/desde-entorno.db", "America/Tijuana")
    real = load_settings()
    assert peek_settings() == (real.database_url, real.timezone)
    toml.write_text("database_url = sin comillas\n", encoding="utf-8")
    assert peek_settings() is None  # the app will say what is wrong with the file


def _frame_rows() -> list[FirstRow]:
    from decimal import Decimal

    return [
        FirstRow("R-1", "P-100", "Autos", "[bold]Rosa[/bold] Peña", Decimal("1234.5"), "MXN",
                 date(2021, 10, 1)),
        FirstRow("R-2", "P-100", "Autos", "Ana\x1b[2J Ruiz", Decimal("75.17"), "USD",
                 date(2021, 10, 15)),
        FirstRow("R-3", "P-200", "GMM", "Muy" + " largo" * 20, Decimal("10"), "MXN",
                 date(2021, 12, 1)),
    ]


def test_the_frame_shows_the_rows_literally_and_never_an_escape_from_the_data():
    text = render(_frame_rows(), date(2021, 11, 1), 120, 36)
    lines = text.split("\r\n")
    assert len(lines) == 36
    assert "Pendientes de pago" in lines[0] and "Buscar póliza, recibo o nombre…" in lines[2]
    assert "[bold]Rosa[/bold] Peña" in lines[5] and "1,234.50" in lines[5]
    assert "Ana?[2J Ruiz" in lines[6] and "\x1b[2J" not in text
    assert "Muy largo largo" in lines[7] and "…" in lines[7]
    assert "\x1b[31m" in lines[6] and "\x1b[31m" not in lines[7]  # overdue in red; the first row is the cursor
    assert "Liga de pago" in lines[-1] and "Salir" in lines[-1]
    assert table_rows(36) == 19 and table_rows(5) == 1  # as the app (test_first_frame_matches_app)


def test_no_frame_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYLINK_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    with open(os.devnull, "w") as out, open(os.devnull) as inp:
        assert first_frame.show(out=out, stdin=inp) is None


@pytest.mark.skipif(sys.platform == "win32", reason="the pseudo-terminal test is POSIX-only")
def test_keys_typed_over_the_frame_reach_the_app_and_the_terminal_is_restored(sqlite_engine, tmp_path):
    import pty
    import select
    import subprocess
    import termios
    import time

    seed(sqlite_engine, ROWS)
    sqlite_engine.dispose()
    main, secondary = pty.openpty()
    import fcntl
    import struct

    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    echo_before = termios.tcgetattr(secondary)[3] & termios.ECHO
    env = {**os.environ, "PAYLINK_DATABASE_URL": f"sqlite:///{_db_path(sqlite_engine)}",
           "TERM": "xterm-256color", "PAYLINK_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui"], stdin=secondary,
                            stdout=secondary, stderr=secondary, env=env, close_fds=True)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while b"R-1" not in out and time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                out += os.read(main, 65536)
        assert b"R-1" in out, out[-2000:]
        frame_seen = b"\x1b[?1049h" in out and b"Calculando" in out
        os.write(main, b"q")  # typed while the app may still be loading
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.5)[0]:
                out += os.read(main, 65536)
        assert proc.returncode == 0
        echo_after = termios.tcgetattr(secondary)[3] & termios.ECHO
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
        os.close(secondary)
    assert frame_seen
    assert echo_after == echo_before != 0  # the agent's shell echoes again
