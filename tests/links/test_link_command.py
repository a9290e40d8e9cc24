"""`paylink-tui link` as a separate process: its output, its failures, and the race of
eight agents pressing the key at the same moment for one receipt."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from paylink_tui.store.db import make_engine
from paylink_tui.store.models import EmailMessage, PaymentLink
from tests.helpers import closed_port, command_env, link_command


@pytest.fixture
def db(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_the_command_prints_the_reference_url_and_valid_until_date(
    database_url, db, real_time_sandbox, mailbox, seed, tmp_path
):
    seed(db, "AXA-1001", [("R-1", "75.17", "MXN"), ("R-2", "24.83", "MXN")],
         now=datetime.now(timezone.utc))
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))

    proc = link_command("--policy", "AXA-1001", "--email", "cliente@example.com", env=env)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    with Session(db) as s:
        link = s.exec(select(PaymentLink)).one()
    assert f"Referencia: {link.reference}" in out
    assert f"Liga: {link.url}" in out
    assert "Monto: $ 100.00 MXN" in out
    assert "Vigente hasta el " in out and " de 20" in out
    assert "Correo: Enviado a cliente@example.com" in out
    assert len(mailbox.messages()) == 1


def test_the_command_fails_in_spanish_without_a_gateway(database_url, db, seed, tmp_path):
    seed(db, "AXA-1001", [("R-1", "75.17", "MXN")], now=datetime.now(timezone.utc))

    proc = link_command("R-1", "--email", "cliente@example.com",
                        env=command_env(database_url, tmp_path))
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 1
    assert "PAYLINK_GATEWAY" in err and "la pasarela de pago no está configurada" in err
    assert out == ""


def test_the_command_reports_mit_down_and_stores_nothing(database_url, db, seed, tmp_path):
    seed(db, "AXA-1001", [("R-1", "75.17", "MXN")], now=datetime.now(timezone.utc))
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=f"http://127.0.0.1:{closed_port()}/gen")

    proc = link_command("R-1", "--email", "cliente@example.com", env=env)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 1
    assert "No se pudo conectar con MIT" in err
    with Session(db) as s:
        assert s.exec(select(PaymentLink)).all() == []


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((), "indique uno o más recibos"),
        (("R-1",), "falta --email"),
        (("R-1", "--policy", "P", "--email", "a@b.mx"), "no ambos"),
    ],
)
def test_the_command_explains_bad_arguments(sqlite_url, tmp_path, args, text):
    proc = link_command(*args, env=command_env(sqlite_url, tmp_path))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and text in err


def test_eight_agents_at_once_make_one_link_and_one_mit_call(
    database_url, db, real_time_sandbox, mailbox, seed, tmp_path
):
    seed(db, "AXA-1001", [("R-1", "75.17", "MXN")], now=datetime.now(timezone.utc))
    # MIT takes a moment to answer, as it does: the others arrive while the claim is open.
    real_time_sandbox.counter.delay_first, real_time_sandbox.counter.delay_seconds = 1, 0.5
    base = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                       PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                       PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))

    procs = [
        link_command("R-1", "--email", f"cliente{i}@example.com",
                     env={**base, "PAYLINK_AGENT": f"agente{i}"})
        for i in range(8)
    ]
    results = [(p, *p.communicate(timeout=120)) for p in procs]

    winners = [r for r in results if r[0].returncode == 0]
    losers = [r for r in results if r[0].returncode != 0]
    assert len(winners) == 1, [r[2] for r in results]
    for proc, _out, err in losers:
        assert proc.returncode == 1, err
        assert "El recibo R-1 ya tiene una liga activa" in err, err
    assert real_time_sandbox.counter.calls == 1
    assert len(real_time_sandbox.links) == 1
    with Session(db) as s:
        (link,) = s.exec(select(PaymentLink)).all()
        assert link.state == "active"
        assert len(s.exec(select(EmailMessage)).all()) == 1
    assert f"Referencia: {link.reference}" in winners[0][1]


def test_a_timeout_exits_3_and_running_again_completes_the_same_link(
    sqlite_url, real_time_sandbox, mailbox, seed, tmp_path
):
    engine = make_engine(sqlite_url)
    seed(engine, "AXA-1001", [("R-1", "75.17", "MXN")], now=datetime.now(timezone.utc))
    real_time_sandbox.counter.delay_first, real_time_sandbox.counter.delay_seconds = 1, 3.0
    env = command_env(sqlite_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url, PAYLINK_MIT_TIMEOUT="1",
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))

    first = link_command("R-1", "--email", "cliente@example.com", env=env)
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 3, first_err
    assert "MIT no respondió a tiempo; no sabemos si la liga se creó." in first_err

    second = link_command("R-1", "--email", "cliente@example.com", env=env)
    out, err = second.communicate(timeout=60)

    assert second.returncode == 0, err
    with Session(engine) as s:
        (link,) = s.exec(select(PaymentLink)).all()
    engine.dispose()
    assert link.state == "active" and f"({link.reference})" in first_err
    assert f"Referencia: {link.reference}" in out
    assert real_time_sandbox.counter.calls == 2 and len(real_time_sandbox.links) == 1
    assert len(mailbox.messages()) == 1
