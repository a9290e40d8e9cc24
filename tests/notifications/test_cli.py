"""`paylink-tui review`, `db upgrade`, `serve --help` and `demo --no-tui`, run as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paylink_tui.cli import main
from paylink_tui.services import notifications as svc
from paylink_tui.store.db import HEAD_REVISION, current_revision, make_engine
from tests.notifications.support import (
    all_notifications,
    link_row,
    make_link,
    notification_xml,
    str_response,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env_for(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    def apply(url: str) -> None:
        monkeypatch.setenv("PAYLINK_DATABASE_URL", url)
        monkeypatch.setenv("PAYLINK_GATEWAY", "sandbox")
        monkeypatch.setenv("PAYLINK_AGENT", "supervisora")
        monkeypatch.setenv("PAYLINK_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("PAYLINK_SMTP_PORT", "1")
        monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "no-config.toml"))
        monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: Rich would abbreviate cells
    return apply


def test_review_lists_applies_and_dismisses(ctx, database_url, env_for, capsys):
    env_for(database_url)
    link = make_link(ctx)
    wrong = svc.receive_notification(ctx, str_response(notification_xml("MAL-ESCRITA")), deliver=False)
    other = svc.receive_notification(ctx, str_response(notification_xml("OTRA-AGENCIA")), deliver=False)

    assert main(["review", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["id"] for x in listed] == [wrong.notification_id, other.notification_id]
    assert listed[0]["reason"] == "unknown_reference"
    assert listed[0]["reason_label"] == "Referencia desconocida"
    assert listed[0]["amount"] == "75.17"

    assert main(["review"]) == 0
    table = capsys.readouterr().out
    assert "MAL-ESCRITA" in table and "Referencia desconocida" in table

    assert main(["review", "apply", str(wrong.notification_id), "--link", link.reference]) == 0
    assert f"aplicada a la liga {link.reference}" in capsys.readouterr().out
    assert link_row(ctx, link.reference).state == "paid"

    assert main(["review", "dismiss", str(other.notification_id), "--note", "De otra agencia"]) == 0
    assert main(["review"]) == 0
    assert "No hay notificaciones por revisar." in capsys.readouterr().out
    by_id = {n.id: n for n in all_notifications(ctx)}
    assert by_id[other.notification_id].note == "De otra agencia"
    assert by_id[other.notification_id].resolved_by == "supervisora"


def test_review_apply_to_unknown_link_fails_with_a_spanish_message(ctx, database_url, env_for, capsys):
    env_for(database_url)
    got = svc.receive_notification(ctx, str_response(notification_xml("NADA")), deliver=False)
    with pytest.raises(SystemExit) as exc:
        main(["review", "apply", str(got.notification_id), "--link", "NOEXISTE"])
    assert exc.value.code == 1
    assert "No existe una liga con la referencia NOEXISTE" in capsys.readouterr().err


def test_db_upgrade_creates_the_schema_and_says_so(tmp_path, env_for, capsys):
    url = f"sqlite:///{(tmp_path / 'nueva.db').as_posix()}"
    env_for(url)
    assert main(["db", "upgrade"]) == 0
    assert f"→ {HEAD_REVISION}" in capsys.readouterr().out
    engine = make_engine(url)
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()
    assert main(["db", "upgrade"]) == 0
    assert "ya estaba al día" in capsys.readouterr().out


def test_serve_without_gateway_setting_stops_with_a_clear_message(sqlite_url, env_for, monkeypatch, capsys):
    env_for(sqlite_url)
    monkeypatch.delenv("PAYLINK_GATEWAY")
    with pytest.raises(SystemExit) as exc:
        main(["serve"])
    assert exc.value.code == 2
    assert "PAYLINK_GATEWAY" in capsys.readouterr().err


def test_demo_no_tui_prints_its_addresses_and_serves_them(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "PAYLINK_CONFIG": str(tmp_path / "no-config.toml")}
    env.pop("PAYLINK_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "demo", "--no-tui"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl+C" in line:
                break
        out = "".join(lines)
        assert "Receptor de notificaciones" in out and "Servidor de correo (SMTP)" in out
        receiver = next(x.split()[-1] for x in lines if "Receptor de notificaciones" in x)
        base = receiver.rsplit("/mit/notificacion", 1)[0]
        assert httpx.get(f"{base}/salud", timeout=5).json()["database"] == "ok"
        assert httpx.get(f"{base}/", timeout=5).status_code == 200  # the sandbox's index
        assert (tmp_path / "data" / "paylink-tui" / "demo" / "demo.db").is_file()
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_behind_a_trusted_proxy_counts_each_client_and_lists_no_links(sqlite_url,
                                                                           tmp_path):
    """`serve --proxy-headers` as an operator runs it: the flag reaches uvicorn's worker, a
    client's failures are counted by its X-Forwarded-For, and the sandbox lists nothing."""
    from tests.helpers import closed_port

    port = closed_port()
    env = {**os.environ, "PAYLINK_DATABASE_URL": sqlite_url, "PAYLINK_GATEWAY": "sandbox",
           "PAYLINK_CONFIG": str(tmp_path / "no-config.toml"),
           "PAYLINK_NOTIFY_MAX_FAILURES": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "serve", "--port", str(port),
                             "--proxy-headers"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/salud", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("serve did not start")

        def post(client_address: str) -> int:
            return httpx.post(f"{base}/mit/notificacion", data={"strResponse": "AAAA" * 8},
                              headers={"X-Forwarded-For": client_address}, timeout=5).status_code

        assert [post("198.51.100.1") for _ in range(3)] == [400, 400, 429]
        assert post("198.51.100.2") == 400  # another client behind the same proxy
        assert httpx.get(f"{base}/", timeout=5).status_code == 404
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert "X-Forwarded-For de 127.0.0.1" in err
    assert "POSSIBLE ATTACK" in err and "198.51.100.1" in err
