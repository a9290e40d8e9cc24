"""Output piped into `head` or a pipe the reader closes early: the command ends quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from paylink_tui.demo.data import generate_rows
from paylink_tui.services.importing import import_rows
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import Notification, Receipt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and SIGPIPE")

NOW = datetime(2021, 10, 7, 21, 4, 56, tzinfo=timezone.utc)
COMMANDS = [
    ["pending", "--format", "json"],
    ["pending", "--format", "csv"],
    ["pending"],
    ["history", "--format", "json"],
    ["history", "--format", "csv"],
    ["review"],
]


@pytest.fixture(scope="module")
def big_database(tmp_path_factory) -> str:
    """Far more output than a pipe holds (64 KiB): 3,000 receipts, 600 notifications kept for
    review."""
    url = f"sqlite:///{tmp_path_factory.mktemp('pipes') / 'paylink.db'}"
    engine = make_engine(url)
    from paylink_tui.store.db import upgrade

    upgrade(engine)
    import_rows(engine, list(generate_rows(3000, seed=5)), agent="ana", now=NOW)
    with engine.begin() as conn:
        conn.execute(insert(Notification.__table__), [
            dict(folio=f"F{i:08d}", reference=f"REF-{i:06d}", response="approved",
                 amount=Decimal("905.98"), authorization=f"{i:06d}", raw_xml="<x/>",
                 received_at=NOW - timedelta(minutes=i), taken_at=NOW - timedelta(minutes=i),
                 status="review", review_reason="unknown_reference")
            for i in range(600)
        ])
    engine.dispose()
    return url


def _env(url: str, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update(PAYLINK_DATABASE_URL=url, PAYLINK_CONFIG=str(tmp_path / "none.toml"),
               COLUMNS="120")
    return env


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_a_reader_that_closes_the_pipe_early_ends_the_command_quietly(big_database, tmp_path, args):
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(big_database, tmp_path))
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(200)  # a reader that saw enough, as `head -c 200` does
    proc.stdout.close()
    err = proc.stderr.read().decode("utf-8", "replace")
    code = proc.wait(timeout=60)
    assert first, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert err == ""
    # 141 as a Unix tool ended by SIGPIPE; 0 when the last write was cut short by the
    # kernel (a partial write of a large table, which the interpreter takes as done).
    assert code in (0, 141)


def test_pending_json_into_head_prints_its_start_and_nothing_else(big_database, tmp_path):
    shell = subprocess.run(
        f"{sys.executable} -m paylink_tui pending --format json | head -n 3; "
        "echo \"status=${PIPESTATUS[0]}\"",
        shell=True, executable="/bin/bash", capture_output=True, text=True,
        env=_env(big_database, tmp_path), timeout=60)
    lines = shell.stdout.splitlines()
    assert lines[:2] == ["[", "  {"] and lines[2].startswith('    "receipt": ')
    assert lines[3] == "status=141"
    assert shell.stderr == ""


def test_a_closed_pipe_leaves_the_database_as_the_command_found_it(big_database, tmp_path):
    engine = make_engine(big_database)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Receipt.__table__)).scalar_one()
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "pending", "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(big_database, tmp_path))
    assert proc.stdout is not None
    proc.stdout.read(10)
    proc.stdout.close()
    proc.wait(timeout=60)
    with engine.connect() as conn:  # not locked, nothing half-done
        after = conn.execute(select(func.count()).select_from(Receipt.__table__)).scalar_one()
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    engine.dispose()
    assert after == before == 3000
    assert not list(tmp_path.glob("*.db-journal"))
