"""The import's optional column `agente`: stored on the policy and each of its receipts,
updated on re-import (an empty cell keeps it), refused when it is no code; the migration 0008
goes down and up on both engines; `users` on the command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from paylink_tui.importer.reader import read_receipts
from paylink_tui.store.revision import HEAD_REVISION
from tests.team.conftest import HEADER

pytestmark = pytest.mark.postgres


def _codes(engine):
    with engine.connect() as conn:
        return (dict(conn.execute(text("SELECT number, agent_code FROM policy")).all()),
                dict(conn.execute(text("SELECT number, agent_code FROM receipt")).all()))


def test_the_agent_code_is_stored_on_the_policy_and_its_receipts_and_moves_on_reimport(
        make_ctx, import_portfolio):
    ctx = make_ctx()
    import_portfolio(ctx, [("AU1", "R1", "a1"), ("AU1", "R2", "A1"), ("AU2", "R3", None)])
    assert _codes(ctx.engine) == ({"AU1": "A1", "AU2": None},
                                  {"R1": "A1", "R2": "A1", "R3": None})
    # The policy moves to B2: every receipt of it, in the file or not; an empty cell keeps.
    report = import_portfolio(ctx, [("AU1", "R1", "B2"), ("AU2", "R3", "C3"),
                                    ("AU2", "R4", None)])
    assert report.agents_changed == 2
    assert _codes(ctx.engine) == ({"AU1": "B2", "AU2": "C3"},
                                  {"R1": "B2", "R2": "B2", "R3": "C3", "R4": "C3"})
    report = import_portfolio(ctx, [("AU1", "R1", None), ("AU2", "R3", "C3")])
    assert report.agents_changed == 0
    assert _codes(ctx.engine)[0] == {"AU1": "B2", "AU2": "C3"}


def test_a_bad_agent_code_rejects_the_row_with_its_reason(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "\n"
                    "AU1,R1,Autos,Ana,Ruiz,,,,5.00,MXN,01/01/2024,A 1\n"
                    "AU1,R2,Autos,Ana,Ruiz,,,,5.00,MXN,01/01/2024," + "K" * 41 + "\n"
                    "AU1,R3,Autos,Ana,Ruiz,,,,5.00,MXN,01/01/2024, k-9 \n", encoding="utf-8")
    result = read_receipts(path)
    assert [r.agent_code for r in result.rows] == ["K-9"]
    assert [(e.line, e.column) for e in result.errors] == [(2, "agente"), (3, "agente")]
    assert "clave de agente" in result.errors[0].reason


def test_migration_0008_goes_down_and_up_keeping_the_data(engine):
    from sqlalchemy import inspect

    from paylink_tui.store import db
    from tests.helpers import migrate

    migrate(engine, "downgrade", "0007")
    names = set(inspect(engine).get_table_names())
    assert "app_user" not in names and "user_session" not in names
    assert "agent_code" not in {c["name"] for c in inspect(engine).get_columns("receipt")}
    migrate(engine, "upgrade", "head")
    assert db.current_revision(engine) == HEAD_REVISION
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("receipt")}
    assert indexes["ix_receipt_agent_pending"] == ["status", "agent_code", "policy_number",
                                                   "due_date", "number"]


def test_users_on_the_command_line_with_a_password_from_stdin(database_url, tmp_path):
    env = {**os.environ, "PAYLINK_DATABASE_URL": database_url,
           "PAYLINK_CONFIG": str(tmp_path / "none.toml")}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "paylink_tui", "users", *args],
                              input=stdin, capture_output=True, text=True, env=env, timeout=60)

    out = run("add", "Maria", "--rol", "agente", "--claves", "A1,a2")
    assert out.returncode == 0, out.stderr
    assert "Contraseña temporal de maria: " in out.stdout
    out = run("add", "jefa", "--rol", "supervisor", "--password-stdin",
              stdin="una-clave-muy-larga\n")
    assert out.returncode == 0 and "una-clave-muy-larga" not in out.stdout + out.stderr
    out = run("add", "x", "--rol", "agente")
    assert out.returncode == 2 and out.stderr.startswith("Error: Un usuario con rol agente")
    assert "Traceback" not in out.stderr
    assert run("disable", "maria").returncode == 0
    listed = run("list").stdout
    assert "maria" in listed and "desactivado" in listed and "A1,A2" in listed
    assert "jefa" in listed and "activo" in listed
    out = run("reset-password", "nadie")
    assert out.returncode == 2 and "No existe el usuario «nadie»" in out.stderr

    from paylink_tui.config import Settings
    from paylink_tui.services import users
    from paylink_tui.services.context import open_context

    ctx = open_context(Settings(database_url=database_url))
    try:
        assert users.authenticate(ctx, "jefa", "una-clave-muy-larga").role == "supervisor"
    finally:
        ctx.engine.dispose()
