"""The command line as a whole: every documented command is there and dispatches."""

import subprocess
import sys

import pytest

from paylink_tui.cli import build_parser

COMMANDS = ["demo", "import", "pending", "link", "history", "review", "serve", "sandbox", "db"]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_documented_command_has_a_handler(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert name in sub.choices
    assert sub.choices[name].get_default("handler") is not None


def test_help_and_version_are_in_spanish_and_work():
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "uso: paylink-tui" in out.stdout and "opciones:" in out.stdout
    for name in COMMANDS:
        assert name in out.stdout
    version = subprocess.run([sys.executable, "-m", "paylink_tui", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("paylink-tui ")


def test_unknown_option_is_refused_in_spanish():
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "argumentos no reconocidos: --bogus" in out.stderr


def test_invalid_setting_is_one_spanish_line(tmp_path):
    import os

    env = {**os.environ, "PAYLINK_SMTP_PORT": "veinticinco",
           "PAYLINK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "pending"], capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert out.stderr.strip() == "Error: Configuración inválida: PAYLINK_SMTP_PORT: debe ser un número entero."
    assert "Traceback" not in out.stderr


def test_csv_output_neutralises_formulas(tmp_path):
    import os

    from paylink_tui.store.db import make_engine, upgrade
    from tests.helpers import seed

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed(engine, [dict(policy="P-1", receipt="R-1", first="=HYPERLINK(\"x\")", last="+1", second="@a")])
    engine.dispose()
    env = {**os.environ, "PAYLINK_DATABASE_URL": url}
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", "--format", "csv"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[1]
    assert "'=HYPERLINK" in line and ",'+1," in line and ",'@a," in line
