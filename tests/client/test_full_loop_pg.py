"""The whole team-mode loop, end to end, on PostgreSQL (issue 15).

The agency server (the demo runtime in team mode: the MIT sandbox, MIT's transaction query,
the SMTP maildrop and the agents' API) runs on loopback over a fresh PostgreSQL schema. An
agent signs in with `paylink-tui login` in a real pseudo-terminal (typing a one-time password
and a new one), then runs `paylink-tui` there, finds a client with `/`, makes the link with
`l` and Enter; the client pays it in headless Chromium; the payment toast reaches the TUI over
the server's event stream, and Historial shows the link "Pagada". The screens are read back
with pyte. The agent's machine holds no secret: only its session file.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
import unicodedata
from pathlib import Path

import pyte
import pytest
from sqlalchemy import select

from paylink_tui.demo.data import generate_rows
from paylink_tui.demo.runtime import DEMO_SEED, DemoRuntime
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.services import users
from paylink_tui.store.db import read_session
from paylink_tui.store.models import PaymentLink
from tests.conftest import require
from tests.test_first_frame_keys import HEIGHT, WIDTH, Terminal

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="the pseudo-terminal is POSIX-only"),
    pytest.mark.chromium,
    pytest.mark.postgres,
]

CHROMIUM = "/usr/bin/chromium"
RECEIPTS = 40
CODES = ("A001", "A002")
AGENT = "agente1"
NEW_PASSWORD = "una-contraseña-nueva-larga"
URL_RE = re.compile(r"http://127\.0\.0\.1:\d+/i/[A-Za-z0-9]+")


# Run in a new session: make the pseudo-terminal on stdin its controlling terminal, then exec
# the command (a small interpreter instead of preexec_fn, which is unsafe with the server's
# threads running in this process).
WITH_TERMINAL = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                 "os.execv(sys.argv[1], sys.argv[1:])")


class Session(Terminal):
    """Terminal's screen and keyboard over any argv, in a session of its own whose
    controlling terminal is the pseudo-terminal (so getpass reads the password there, with
    echo off, as it does for an agent)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        self.main, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WITH_TERMINAL, *argv], stdin=secondary, stdout=secondary,
            stderr=secondary, env=env, close_fds=True, start_new_session=True)
        os.close(secondary)
        self.screen = pyte.Screen(WIDTH, HEIGHT)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""


def paylink(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("paylink-tui")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "paylink_tui", *args]


def agent_env(home: Path) -> dict[str, str]:
    """The agent's laptop: no PAYLINK_* but the config file's place, every user dir in `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYLINK_", "XDG_"))}
    env.update(PAYLINK_CONFIG=str(home / "config" / "config.toml"), TERM="xterm-256color",
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_STATE_HOME=str(home / "state"))
    return env


def folded(text: str) -> str:
    """What an agent types: lower case, no accents."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower())
                   if not unicodedata.combining(c))


def demo_rows() -> list:  # type: ignore[type-arg]
    """The rows the runtime seeds (the same seed)."""
    return list(generate_rows(RECEIPTS, seed=DEMO_SEED, agent_codes=CODES))


def target_client() -> tuple[str, str]:
    """(holder, receipt) of a client of A001 with an email whose name no other policy's
    holder has, in plain letters: the search for that name finds their receipts alone."""
    rows = demo_rows()

    def holder(r) -> str:  # type: ignore[no-untyped-def]
        return " ".join(p for p in (r.first_name, r.last_name, r.second_last_name) if p)

    policies: dict[str, set[str]] = {}
    for r in rows:
        policies.setdefault(folded(holder(r)), set()).add(r.policy)
    for r in rows:
        name = holder(r)
        if (r.agent_code == "A001" and r.email and name.replace(" ", "").isalpha()
                and len(policies[folded(name)]) == 1):
            return name, r.receipt
    raise AssertionError("no client fits: the demo data changed")


def pay_in_chromium(url: str) -> str:
    """The client pays on the link's page (the sandbox's, as MIT's) and reads the result."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_context(locale="es-MX").new_page()
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_label("Nombre", exact=True).fill("Ana")
            page.get_by_label("Apellido Paterno").fill("Peña")
            page.get_by_label("Apellido Materno").fill("Ruiz")
            page.get_by_label("Número de tarjeta").fill("4111 1111 1111 1111")
            page.get_by_label("Expira (MM/AA)").fill("12/39")
            page.get_by_label("CVV").fill("123")
            page.get_by_label("Acepto Términos y condiciones").check()
            page.get_by_role("button", name=re.compile(r"^PAGAR ")).click()
            return page.locator("#estado").inner_text()
        finally:
            browser.close()


def test_sign_in_link_pay_in_chromium_toast_and_history_pagada(pg_url: str, tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed")
    holder, receipt = target_client()
    runtime = DemoRuntime(tmp_path / "servidor", receipts=RECEIPTS, team=True, agent_codes=CODES,
                          database_url=pg_url, deliver_interval=0.2, confirm_interval=0.2)
    with runtime:
        assert runtime.ctx is not None and runtime.ctx.engine.dialect.name == "postgresql"
        one_time = users.add_user(runtime.ctx, AGENT, role="agente", codes="A001")
        home = tmp_path / "agente"
        env = agent_env(home)

        login = Session(paylink("login", runtime.base_url, "--usuario", AGENT), env)
        try:
            assert login.wait_for(lambda: f"Contraseña de {AGENT}:" in login.text()), login.text()
            login.type(one_time + "\r")
            assert login.wait_for(lambda: "Contraseña nueva:" in login.text()), login.text()
            login.type(NEW_PASSWORD + "\r")
            assert login.wait_for(lambda: "Repita la contraseña nueva:" in login.text()), login.text()
            login.type(NEW_PASSWORD + "\r")
            assert login.wait_for(lambda: login.proc.poll() is not None, timeout=30), login.text()
            assert login.proc.returncode == 0, login.text()
            assert f"Sesión iniciada en {runtime.base_url} como {AGENT}" in login.text()
            assert one_time.encode() not in login.raw and NEW_PASSWORD.encode() not in login.raw
        finally:
            login.close()

        term = Session(paylink(), env)
        try:
            # The server's rows (A001's portfolio), then the search, as the agent types it.
            mine = {r.receipt for r in demo_rows() if r.agent_code == "A001"}
            assert term.wait_for(lambda: any(n in term.text() for n in mine), timeout=60), term.text()
            term.type("/")
            term.type(folded(holder))
            term.type("\r")  # the first result
            term.type("l")
            assert term.wait_for(lambda: f"Contratante {holder}" in term.text()), term.text()
            term.type("\r")  # Generar liga
            assert term.wait_for(lambda: "Liga generada" in term.text(), timeout=60), term.text()
            assert receipt in term.text()  # the confirmation names the receipt
            [url] = URL_RE.findall(term.text())
            with read_session(runtime.ctx.engine) as s:
                reference = s.execute(select(PaymentLink.reference)
                                      .where(PaymentLink.url == url)).scalar_one()
            assert reference in term.text()
            term.type("\x1b")  # the confirmation closes

            assert pay_in_chromium(url) == "Aprobado"
            # MIT's notification, confirmed with its transaction query, then the event stream.
            assert term.wait_for(lambda: "Pago aprobado" in term.text(), timeout=60), term.text()
            assert "Pago recibido" in term.text()

            term.type("h")

            def paid_row() -> bool:
                return any(reference in line and "Pagada" in line for line in term.screen.display)

            assert term.wait_for(paid_row, timeout=30), term.text()
            assert "Traceback" not in term.text()
            term.type("q")  # Salir, from Historial too
            assert term.wait_for(lambda: term.proc.poll() is not None, timeout=30), term.text()
            assert term.proc.returncode == 0
        finally:
            term.close()

    # The agent's machine: the session file and nothing secret in anything the app wrote.
    written = [p for p in home.rglob("*") if p.is_file()]
    assert home / "config" / "sesion.json" in written
    secrets = (sd.SANDBOX_KEY, sd.SANDBOX_PASSWORD, sd.SANDBOX_DATA0, one_time, NEW_PASSWORD)
    for path in written:
        content = path.read_bytes().decode("utf-8", errors="replace")
        assert not [s for s in secrets if s in content], path
