"""`paylink-tui sandbox`: the parser it registers and the server it runs."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

import httpx
from pydantic import SecretStr

from paylink_tui.cli.sandbox_cmd import add_parser, build_app, run
from paylink_tui.config import Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers())
    return p


def test_defaults_are_loopback_and_port_8765():
    args = parser().parse_args(["sandbox"])
    assert (args.host, args.port, args.handler) == ("127.0.0.1", 8765, run)


def test_settings_override_the_public_credentials_and_set_company_and_zone():
    app = build_app(Settings(company="GNP", timezone="America/Tijuana",
                             sandbox_notify_url="http://127.0.0.1:9/n", mit_user="USUARIO99",
                             mit_password=SecretStr("otra")))
    sandbox = app.state.sandbox
    assert (sandbox.company, sandbox.tz, sandbox.state.notify_url) == (
        "GNP", "America/Tijuana", "http://127.0.0.1:9/n")
    assert sandbox.users == {"USUARIO99"} and sandbox.password == "otra"


def test_the_command_serves_the_sandbox_until_stopped(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PAYLINK_CONFIG": str(tmp_path / "none.toml"),
           "PAYLINK_COMPANY": "AXA"}
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "sandbox", "--port", str(port)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/salud", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.1)
        assert resp.text == "ok"
        assert "Centro de Pagos" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/gen" in err


def test_a_port_in_use_is_reported_in_spanish(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "none.toml"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = run(parser().parse_args(["sandbox", "--port", str(port)]))
    assert code == 1
    assert f"No se pudo iniciar el sandbox en 127.0.0.1:{port}" in capsys.readouterr().err
