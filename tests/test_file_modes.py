"""What paylink-tui writes holds clients' names, addresses and payments: on POSIX its folders
are 0700 and its files 0600 whatever the umask (issue 11 §3)."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _open_umask():
    old = os.umask(0o022)  # the usual one: 0644 files, 0755 folders unless we say otherwise
    yield
    os.umask(old)


def test_the_database_its_wal_and_its_folders_are_private(tmp_path):
    from sqlalchemy import text

    from paylink_tui.store.db import open_database

    db = tmp_path / "nuevo" / "datos" / "paylink.db"
    engine = open_database(f"sqlite:///{db.as_posix()}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = [db, db.with_name("paylink.db-wal"), db.with_name("paylink.db-shm")]
        assert all(f.exists() for f in files)
        assert [mode(f) for f in files] == [0o600] * 3
    engine.dispose()
    assert mode(db.parent) == mode(db.parent.parent) == 0o700


def test_an_existing_database_left_readable_by_an_older_version_is_made_private(tmp_path):
    from paylink_tui.store.db import open_database

    db = tmp_path / "viejo.db"
    open_database(f"sqlite:///{db.as_posix()}").dispose()
    os.chmod(db, 0o644)
    open_database(f"sqlite:///{db.as_posix()}").dispose()
    assert mode(db) == 0o600


def test_the_demo_folder_and_its_mail_are_private(tmp_path):
    from paylink_tui.demo.runtime import DemoRuntime
    from paylink_tui.mail.message import build_message, new_message_id
    from paylink_tui.mail.transport import SmtpTransport

    msg = build_message(to="rosa@example.com", from_addr="pagopoliza@mitec.com.mx",
                        from_name="AXA", reply_to=None, subject="Liga de pago",
                        text="Hola", html="<p>Hola</p>",
                        message_id=new_message_id("pagopoliza@mitec.com.mx"),
                        date=datetime(2021, 10, 7, 21, 4, tzinfo=timezone.utc))
    with DemoRuntime(tmp_path / "demo", receipts=5, deliver_interval=0) as demo:
        SmtpTransport("127.0.0.1", demo.smtp_port, "none", timeout=5).send(msg)
        [eml] = demo.mail_files()
        assert mode(eml) == 0o600
        assert mode(demo.folder) == mode(demo.mail_folder) == 0o700
        assert mode(demo.database_path) == 0o600


def test_the_log_file_and_its_folder_are_private(tmp_path, monkeypatch):
    import logging

    import platformdirs

    from paylink_tui.cli import _configure_logging

    monkeypatch.setattr(platformdirs, "user_log_path", lambda *a, **k: tmp_path / "logs")
    logger = logging.getLogger("paylink_tui")
    saved = logger.handlers[:]
    logger.handlers.clear()
    try:
        _configure_logging("paylink_tui.cli.pending_cmd")
        logger.warning("una línea")
        [handler] = logger.handlers
        handler.doRollover()  # a rotated file is created private too
        logger.warning("otra línea")
        handler.close()
    finally:
        logger.handlers[:] = saved
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["paylink-tui.log", "paylink-tui.log.1"]
    assert [mode(f) for f in files] == [0o600, 0o600]
    assert mode(tmp_path / "logs") == 0o700
