"""`GET /api/v1/eventos` across two `serve` processes on one database: what one process's
use cases commit reaches the streams of the other; each agent hears only their portfolio;
reconnecting with Last-Event-ID misses nothing and repeats nothing."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from paylink_tui.backend.routes import EVENTS_PATH, SESSION_PATH
from tests.api.conftest import PASSWORD, Team
from tests.helpers import closed_port


@dataclass
class Stream:
    """An SSE reader in a thread: every message as (event, id, data) on `messages`."""

    url: str
    token: str
    last_id: str | None = None
    messages: queue.Queue = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        self.client = httpx.Client(base_url=self.url, headers=headers,
                                   timeout=httpx.Timeout(10.0, read=60.0))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with self.client.stream("GET", EVENTS_PATH) as got:
                if got.status_code != 200:
                    self.messages.put(("http", str(got.status_code), got.read().decode()))
                    return
                event, ident, data = "message", None, []
                for line in got.iter_lines():
                    if line == "":
                        if data or ident:
                            self.messages.put((event, ident, "\n".join(data)))
                        event, ident, data = "message", None, []
                    elif line.startswith(":"):
                        continue
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if name == "event":
                            event = value
                        elif name == "id":
                            ident = value
                        elif name == "data":
                            data.append(value)
        except Exception:  # closed by the test
            pass

    def next(self, timeout: float = 15.0) -> tuple[str, str | None, str]:
        return self.messages.get(timeout=timeout)

    def until(self, predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(message)
            if predicate(message):
                return seen
        raise AssertionError(f"not heard within {timeout} s; heard {seen}")

    def drain(self, wait: float) -> list[tuple[str, str | None, str]]:
        time.sleep(wait)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get_nowait())
        return out

    def close(self) -> None:
        self.client.close()


def start_serve_process(team: Team, tmp_path: Path, mail_port: int) -> tuple[subprocess.Popen, str]:
    """A second `serve` process (uvicorn, the app factory `serve` uses) on the same database."""
    port = closed_port()
    s = team.ctx.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update({"PAYLINK_DATABASE_URL": s.database_url, "PAYLINK_GATEWAY": "sandbox",
                "PAYLINK_MIT_GEN_URL": s.mit_gen_url or "", "PAYLINK_AGENT": "servidor",
                "PAYLINK_SMTP_HOST": "127.0.0.1", "PAYLINK_SMTP_PORT": str(mail_port),
                "PAYLINK_SERVE_TEAM": "1", "PAYLINK_CONFIG": str(tmp_path / "none.toml"),
                "PAYLINK_SANDBOX_NOTIFY_URL": f"http://127.0.0.1:{port}/mit/notificacion"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "paylink_tui.web.app:app_from_settings", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/salud", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the second serve did not start")


def _sign_in(url: str, user: str) -> str:
    got = httpx.post(f"{url}{SESSION_PATH}", json={"user": user, "password": PASSWORD},
                     timeout=30)
    assert got.status_code == 200, got.text
    return got.json()["token"]


def _link(team: Team, user: str, receipt: str) -> str:
    got = team.as_user(user).post("/api/v1/ligas", json={"receipt_numbers": [receipt],
                                                          "email": "c@example.com"})
    assert got.status_code == 200, got.text
    return got.json()["reference"]


def _policy_of(message: tuple[str, str | None, str]) -> str | None:
    import json

    event, _, data = message
    return json.loads(data).get("policy") if event == "link_changed" else None


@pytest.fixture
def second_serve(team: Team, tmp_path: Path, mailbox):  # type: ignore[no-untyped-def]
    proc, url = start_serve_process(team, tmp_path, mailbox.port)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_each_agent_hears_only_their_portfolio_from_another_process(team: Team,
                                                                     second_serve: str) -> None:
    ana = Stream(second_serve, _sign_in(second_serve, "ana"))  # on the other process
    beto = Stream(team.url, team.token("beto"))  # on this one
    sofia = Stream(second_serve, _sign_in(second_serve, "sofia"))
    try:
        for stream in (ana, beto, sofia):
            event, ident, _ = stream.next()
            assert event == "ready" and ident is not None and ident.isdigit()
        _link(team, "ana", "PA-200-1")  # committed by this process
        _link(team, "beto", "PB-200-1")
        heard_ana = ana.until(lambda m: _policy_of(m) == "PA-200")
        heard_beto = beto.until(lambda m: _policy_of(m) == "PB-200")
        heard_sofia = sofia.until(lambda m: _policy_of(m) == "PB-200")
        assert "PA-200" in {_policy_of(m) for m in heard_sofia}  # a supervisor hears all
        later_ana = heard_ana + ana.drain(1.5)
        later_beto = heard_beto + beto.drain(0.1)
        assert {_policy_of(m) for m in later_ana} == {"PA-200"}
        assert {_policy_of(m) for m in later_beto} == {"PB-200"}
    finally:
        for stream in (ana, beto, sofia):
            stream.close()


def test_reconnecting_with_last_event_id_misses_nothing(team: Team, second_serve: str) -> None:
    token = _sign_in(second_serve, "ana")
    first = Stream(second_serve, token)
    try:
        assert first.next()[0] == "ready"
        reference = _link(team, "ana", "PA-200-1")
        heard = first.until(lambda m: _policy_of(m) == "PA-200")
        last_id = heard[-1][1]
    finally:
        first.close()
    # While nobody listens: one event of ana's, one of beto's, and ana's again.
    assert team.as_user("ana").post(f"/api/v1/ligas/{reference}/cancelacion").status_code == 200
    _link(team, "beto", "PB-200-1")
    _link(team, "ana", "PA-100-1")
    again = Stream(second_serve, token, last_id=last_id)
    try:
        assert again.next()[0] == "ready"
        got = again.until(lambda m: _policy_of(m) == "PA-100")
        got += again.drain(1.0)
        policies = [_policy_of(m) for m in got]
        assert policies[0] == "PA-200"  # the cancellation, first: nothing missed
        assert "PB-200" not in policies
        ids = [int(m[1]) for m in got if m[1]]
        assert ids == sorted(set(ids)) and min(ids) > int(last_id)  # nothing repeated
    finally:
        again.close()
