"""`paylink-tui import`: summary, rejected rows and exit codes 0 / 1 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from paylink_tui.cli import main
from paylink_tui.store.db import make_engine
from paylink_tui.store.models import Receipt

HEADER = "poliza,recibo,nombre,apellido_paterno,monto,vencimiento"


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("PAYLINK_DATABASE_URL", database_url)
    monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("PAYLINK_AGENT", "ana")
    return database_url


def write(tmp_path: Path, *rows: str, name: str = "pendientes.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join((HEADER, *rows)) + "\n", encoding="utf-8")
    return path


def count_receipts(url: str, status: str | None = None) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            stmt = select(func.count()).select_from(Receipt)
            if status:
                stmt = stmt.where(Receipt.status == status)
            return s.execute(stmt).scalar_one()
    finally:
        engine.dispose()


def test_all_rows_accepted_exits_0_with_a_spanish_summary(db, tmp_path, capsys):
    path = write(tmp_path, "AU1,R1,José,Peña,75.17,07/10/2021", "AU1,R2,José,Peña,\"1,234.56\",2021-11-07")
    assert main(["import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Archivo: pendientes.csv (2 filas)" in out
    assert "Recibos nuevos:        2" in out
    assert "todas las filas se aceptaron" in out
    assert count_receipts(db) == 2

    assert main(["import", str(path)]) == 0  # again: nothing new
    assert "Recibos sin cambios:   2" in capsys.readouterr().out
    assert count_receipts(db) == 2


def test_some_rows_rejected_exits_1_lists_them_and_imports_the_rest(db, tmp_path, capsys):
    path = write(tmp_path, "AU1,R1,José,Peña,75.17,07/10/2021",
                 "AU1,R2,[red]Ana[/red],Peña,-5,07/10/2021",
                 "AU1,R3,Ana,Peña,5.00,31/02/2024")
    assert main(["import", str(path)]) == 1
    out = capsys.readouterr().out
    assert "Filas rechazadas:      2" in out
    assert "línea 3, columna monto, valor «-5»: el monto no puede ser negativo" in out
    assert "línea 4, columna vencimiento, valor «31/02/2024»: la fecha no existe" in out
    assert count_receipts(db) == 1


def test_unreadable_file_exits_2_and_imports_nothing(db, tmp_path, capsys):
    path = tmp_path / "lista.csv"
    path.write_text("poliza,nombre\nAU1,José\n", encoding="utf-8")
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "faltan columnas obligatorias: recibo, apellido_paterno, monto, vencimiento" in err
    assert "No se importó nada" in err
    assert count_receipts(db) == 0


def test_full_over_ten_percent_exits_2_until_confirmed_with_yes(db, tmp_path, capsys):
    rows = [f"P{i},R{i},Ana,Ruiz,10.00,01/11/2021" for i in range(10)]
    assert main(["import", str(write(tmp_path, *rows))]) == 0
    partial = write(tmp_path, *rows[2:], name="parcial.csv")
    capsys.readouterr()

    assert main(["import", str(partial), "--full"]) == 2
    out = capsys.readouterr().out
    assert "No se importó nada" in out and "--yes" in out
    assert count_receipts(db, "settled_elsewhere") == 0

    assert main(["import", str(partial), "--full", "--yes"]) == 0
    assert "Liquidados fuera:      2" in capsys.readouterr().out
    assert count_receipts(db, "settled_elsewhere") == 2


def test_full_with_rejected_rows_says_nothing_was_settled(db, tmp_path, capsys):
    rows = [f"P{i},R{i},Ana,Ruiz,10.00,01/11/2021" for i in range(20)]
    assert main(["import", str(write(tmp_path, *rows))]) == 0
    bad = write(tmp_path, *rows[1:-1], "P19,R19,Ana,Ruiz,-1,01/11/2021", name="b.csv")
    assert main(["import", str(bad), "--full", "--yes"]) == 1
    assert "no se marcó ningún recibo como «Liquidado fuera»" in capsys.readouterr().out
    assert count_receipts(db, "settled_elsewhere") == 0


def test_command_line_entry_point_returns_the_exit_code(tmp_path):
    db = tmp_path / "cli.db"
    env = {**os.environ, "PAYLINK_DATABASE_URL": f"sqlite:///{db.as_posix()}",
           "PAYLINK_CONFIG": str(tmp_path / "none.toml"), "PYTHONIOENCODING": "utf-8"}
    path = write(tmp_path, "AU1,R1,Peña & Hijos,Ibáñez,75.17,07/10/2021",
                 "AU1,R2,Ana,Peña,abc,07/10/2021")
    proc = subprocess.run([sys.executable, "-m", "paylink_tui", "import", str(path)],
                          capture_output=True, text=True, encoding="utf-8", env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "línea 3, columna monto, valor «abc»" in proc.stdout
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
