"""The commands over the agency server: login/logout/whoami, the session file (0600, the
only place the token is, and no secret anywhere else in the agent's config and data dirs),
PAYLINK_SERVER's rules, and `pending`/`history`/`link`/`review`/`import` giving the same exit
codes and messages as on the local database."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest

from paylink_tui.backend.client_session import load_session, session_path
from paylink_tui.cli import main
from tests.api.conftest import PASSWORD, Team


def run(capsys, argv: list[str], stdin: str | None = None, monkeypatch=None):  # type: ignore[no-untyped-def]
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = main(argv)
    except SystemExit as exc:  # the commands' fail(): a message and exit 2
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def login(capsys, monkeypatch, team: Team, user: str = "ana") -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, ["login", team.url, "--usuario", user, "--password-stdin"],
                         stdin=PASSWORD + "\n", monkeypatch=monkeypatch)
    assert code == 0, err
    assert f"como {user}" in out


def test_login_whoami_logout(team: Team, capsys, monkeypatch, tmp_path: Path) -> None:
    login(capsys, monkeypatch, team)
    path = session_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = load_session().token
    assert len(token) >= 43
    code, out, err = run(capsys, ["whoami"])
    assert code == 0, err
    assert "ana" in out and "agente" in out and "A001" in out and team.url in out
    assert token not in out + err
    code, out, _ = run(capsys, ["logout"])
    assert code == 0 and "Sesión cerrada" in out
    assert load_session() is None  # the file is gone: the one-agent mode again...
    monkeypatch.setenv("PAYLINK_SERVER", team.url)  # ...unless a setting names the server
    code, _, err = run(capsys, ["pending"])
    assert code == 2 and f"paylink-tui login {team.url}" in err and "Traceback" not in err


def test_after_login_no_secret_is_on_the_agents_machine_but_the_token_file(
        team: Team, capsys, monkeypatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("PAYLINK_CONFIG")
    login(capsys, monkeypatch, team)
    for argv in (["pending", "--format", "json"], ["history"], ["whoami"]):
        code, _, err = run(capsys, argv)
        assert code == 0, (argv, err)
    token = load_session().token
    files = [p for p in home.rglob("*") if p.is_file()]
    assert session_path() in files
    secrets = {"token": token, "password": PASSWORD}
    for p in files:
        data = p.read_bytes()
        for name, secret in secrets.items():
            if p == session_path() and name == "token":
                continue
            assert secret.encode() not in data, f"{name} in {p}"
    assert not any(p.suffix == ".db" for p in files)  # no database on the agent's machine


def test_a_one_time_password_is_changed_at_login(team: Team, capsys, monkeypatch) -> None:
    from paylink_tui.services import users

    otp = users.add_user(team.ctx, "nora", role="agente", codes="A001")
    code, _, err = run(capsys, ["login", team.url, "--usuario", "nora", "--password-stdin"],
                       stdin=otp + "\n", monkeypatch=monkeypatch)
    assert code == 2 and "temporal" in err
    code, out, err = run(capsys, ["login", team.url, "--usuario", "nora", "--password-stdin"],
                         stdin=otp + "\nuna-contraseña-nueva-1\n", monkeypatch=monkeypatch)
    assert code == 0, err
    code, _, err = run(capsys, ["login", team.url, "--usuario", "nora", "--password-stdin"],
                       stdin="mala-contraseña\n", monkeypatch=monkeypatch)
    assert code == 2 and "incorrectos" in err


def test_http_is_refused_but_on_loopback(capsys, monkeypatch) -> None:
    code, _, err = run(capsys, ["login", "http://pagos.agencia.mx", "--usuario", "ana",
                                "--password-stdin"], stdin="x\n", monkeypatch=monkeypatch)
    assert code == 2 and "https://" in err and "legibles" in err
    monkeypatch.setenv("PAYLINK_SERVER", "http://10.1.2.3:8080")
    code, _, err = run(capsys, ["pending"])
    assert code == 2 and "PAYLINK_SERVER" in err and "https://" in err


def test_local_settings_are_ignored_with_one_warning(team: Team, capsys, monkeypatch) -> None:
    login(capsys, monkeypatch, team)
    monkeypatch.setenv("PAYLINK_SERVER", team.url)
    monkeypatch.setenv("PAYLINK_DATABASE_URL", "sqlite:////nonexistent/x.db")
    monkeypatch.setenv("PAYLINK_MIT_KEY", "0123456789ABCDEF0123456789ABCDEF")
    monkeypatch.setenv("PAYLINK_SMTP_HOST", "mail.example.com")
    import paylink_tui.backend.factory as factory

    monkeypatch.setattr(factory, "_warned", False)
    code, out, err = run(capsys, ["pending", "--format", "json"])
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("Aviso")]
    assert len(warnings) == 1
    assert "PAYLINK_DATABASE_URL" in warnings[0] and "PAYLINK_MIT_KEY" in warnings[0]
    assert "0123456789ABCDEF" not in err  # names the setting, never its value


def _local_env(monkeypatch, team: Team) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PAYLINK_SERVER", raising=False)
    try:
        session_path().unlink()
    except FileNotFoundError:
        pass
    monkeypatch.setenv("PAYLINK_DATABASE_URL", team.ctx.settings.database_url)
    monkeypatch.setenv("PAYLINK_TIMEZONE", team.ctx.settings.timezone)
    monkeypatch.setenv("PAYLINK_GATEWAY", "sandbox")
    monkeypatch.setenv("PAYLINK_MIT_GEN_URL", team.ctx.settings.mit_gen_url or "")


SAME_COMMANDS = [
    ["pending", "--format", "json"],
    ["pending", "--search", "PA-100", "--format", "csv"],
    ["history", "--format", "json"],
    ["link", "NO-EXISTE", "--email", "c@example.com"],
    ["link", "PA-100-1", "--email", "no-es-un-correo"],
    ["review"],
    ["review", "apply", "999", "--link", "NOPE"],
]


@pytest.mark.parametrize("argv", SAME_COMMANDS, ids=lambda a: " ".join(a))
def test_commands_say_the_same_over_the_server(team: Team, capsys, monkeypatch, argv) -> None:
    """As the administrador (every code: the whole book, as the one-agent mode sees it)."""
    login(capsys, monkeypatch, team, "admin")
    remote = run(capsys, argv)
    _local_env(monkeypatch, team)
    local = run(capsys, argv)
    assert remote[0] == local[0]
    assert remote[1] == local[1]
    assert remote[2].replace("Error: ", "") == local[2].replace("Error: ", "")


def test_import_over_the_server_and_its_refusals(team: Team, capsys, monkeypatch,
                                                 tmp_path: Path) -> None:
    bad = tmp_path / "vacio.csv"
    bad.write_text("", encoding="utf-8")
    login(capsys, monkeypatch, team, "admin")
    remote = run(capsys, ["import", str(bad)])
    _local_env(monkeypatch, team)
    local = run(capsys, ["import", str(bad)])
    assert remote[0] == local[0] != 0
    assert remote[2] == local[2]
    login(capsys, monkeypatch, team, "ana")  # an agent may not import
    code, _, err = run(capsys, ["import", str(bad)])
    assert code == 2 and "administrador" in err


def test_a_link_over_the_server(team: Team, capsys, monkeypatch) -> None:
    login(capsys, monkeypatch, team, "ana")
    code, out, err = run(capsys, ["link", "PA-200-1", "--email", "cliente@example.com"])
    assert code == 0, err
    code, out, err = run(capsys, ["history", "--format", "json"])
    assert code == 0 and "PA-200" in out
    code, _, err = run(capsys, ["link", "PB-100-1", "--email", "c@example.com"])
    assert code != 0 and "PB-100-1" in err  # beto's receipt: not found for ana


def test_the_token_never_appears_in_the_log(team: Team, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    login(capsys, monkeypatch, team)
    token = load_session().token
    run(capsys, ["pending"])
    for p in tmp_path.rglob("*.log"):
        assert token not in p.read_text(encoding="utf-8", errors="replace")
    assert os.environ.get("PAYLINK_SERVER") is None


def test_link_all_over_the_server_stops_on_ctrl_c_and_counts_the_links_under_way(
        team: Team, tmp_path: Path) -> None:
    """Ctrl+C while four links are at MIT: the server finishes them, and the command reports
    them as made (not as "not tried"), the other four as not tried; exit 130."""
    import signal
    import subprocess
    import time

    from sqlmodel import select

    from paylink_tui.backend.client_session import StoredSession, save_session
    from paylink_tui.store.db import read_session
    from paylink_tui.store.models import PaymentLink
    from tests.api.conftest import set_code
    from tests.helpers import ROOT
    from tests.links.conftest import seed_policy

    for n in range(6):  # with PA-100 and PA-200: 8 links for ana
        seed_policy(team.ctx.engine, f"PA-3{n:02d}", [(f"PA-3{n:02d}-1", "10.00", "MXN")],
                    now=team.ctx.clock(), email="c@example.com")
        set_code(team.ctx.engine, f"PA-3{n:02d}", "A001")
    save_session(StoredSession(server=team.url, user="ana", token=team.sign_in("ana")),
                 tmp_path / "sesion.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update(PAYLINK_CONFIG=str(tmp_path / "none.toml"), COLUMNS="100")
    team.gen.delay_first, team.gen.delay_seconds = 100, 1.5  # MIT answers after 1.5 s
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "link", "--all", "--yes"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, encoding="utf-8")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and team.gen.calls < 4:
        time.sleep(0.05)
    assert team.gen.calls == 4  # at most 4 MIT calls at a time
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    with read_session(team.ctx.engine) as s:
        made = len(s.exec(select(PaymentLink)).all())
    assert made == 4 and team.gen.calls == 4
    assert "Ligas generadas: 4" in out, out
    assert "Detenida: 4 ligas no se intentaron" in out, out
    assert "Traceback" not in err
