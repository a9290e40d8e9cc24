"""The whole loop on real parts, on SQLite and PostgreSQL: import a CSV -> generate a link
through the sandbox over HTTP -> the client pays on the sandbox's page -> MIT's notification
reaches our receiver -> the link is paid in the history -> the confirmation email arrives on a
loopback SMTP server. Also the demo runtime, which wires the same parts by itself."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paylink_tui.demo.data import generate_rows, write_csv
from paylink_tui.services.history import list_links
from paylink_tui.services.importing import import_file
from paylink_tui.services.links import generate_link
from tests.notifications.support import (
    CARD_FORM,
    all_notifications,
    pay_on_sandbox,
    read_eml,
    receiver_and_sandbox,
    wait_for,
)


def test_import_link_pay_notify_paid_and_confirmation_email(database_url: str, tmp_path: Path):
    with receiver_and_sandbox(database_url, tmp_path / "correos") as (ctx, server, maildrop):
        settings = ctx.settings
        csv_path = tmp_path / "pendientes.csv"
        rows = list(generate_rows(6, seed=11))
        write_csv(csv_path, rows)
        report = import_file(ctx, csv_path)
        assert report.exit_code == 0

        receipt = rows[0].receipt
        link = generate_link(ctx, receipt_numbers=[receipt], email="cliente@example.com")
        assert link.url.startswith(f"{server.url}/i/")
        assert link.email_status == "sent"
        assert len(maildrop.messages()) == 1  # the link email

        result = pay_on_sandbox(link.url, CARD_FORM)
        assert result.status_code == 200 and "Aprobado" in result.text
        assert server.app.state.sandbox.wait_idle_sync(15)

        [row] = wait_for(lambda: [r for r in list_links(ctx, references=[link.reference])
                                  if r.status == "paid"])
        assert row.authorization and row.folio
        assert row.card_mask == "411111XXXXXX1111"
        assert row.amount == link.amount
        [n] = all_notifications(ctx)
        assert (n.status, n.reference) == ("applied", link.reference)
        assert "4111111111111111" not in n.raw_xml

        messages = wait_for(lambda: len(maildrop.messages()) >= 2 and maildrop.messages())
        confirmation = read_eml(messages[-1])
        assert confirmation["To"] == "cliente@example.com"
        assert settings.notice_sender in confirmation["From"]
        body = confirmation.get_body(preferencelist=("plain",)).get_content()
        assert row.authorization in body
        assert link.reference in body
        assert "4111111111111111" not in messages[-1].read_text(errors="replace")


def test_demo_runtime_seeds_once_and_a_payment_on_its_sandbox_becomes_paid_with_email(tmp_path: Path):
    from paylink_tui.demo.runtime import DemoRuntime

    with DemoRuntime(tmp_path / "demo", receipts=20, deliver_interval=0.3) as rt:
        assert rt.seeded == 20
        assert rt.ctx is not None
        health = httpx.get(f"{rt.base_url}/salud", timeout=5)
        assert health.json() == {"status": "ok", "database": "ok"}
        receipt = next(iter(generate_rows(20, seed=7))).receipt
        link = generate_link(rt.ctx, receipt_numbers=[receipt], email="demo@example.com")
        assert link.url.startswith(f"{rt.base_url}/i/")
        pay_on_sandbox(link.url, CARD_FORM)
        assert rt.sandbox.wait_idle_sync(15)
        wait_for(lambda: [r for r in list_links(rt.ctx, references=[link.reference])
                          if r.status == "paid"])
        # The demo confirms every approval with the sandbox's transaction query first.
        [n] = all_notifications(rt.ctx)
        assert (n.status, n.confirmed_at is not None) == ("applied", True)
        files = wait_for(lambda: len(rt.mail_files()) >= 2 and rt.mail_files())
        assert any("demo@example.com" in read_eml(f)["To"] for f in files)
    # Started again on the same folder: the data is kept, not seeded twice.
    with DemoRuntime(tmp_path / "demo", receipts=20) as again:
        assert again.seeded == 0
        assert [r.status for r in list_links(again.ctx, references=[link.reference])] == ["paid"]


def test_the_demo_runtime_on_a_database_given_seeds_that_one(database_url: str, tmp_path: Path):
    from paylink_tui.demo.runtime import DemoRuntime

    with DemoRuntime(tmp_path / "demo", receipts=8, database_url=database_url) as rt:
        assert rt.database_url == database_url
        assert rt.seeded == 8
        assert httpx.get(f"{rt.base_url}/salud", timeout=5).json()["database"] == "ok"
        receipt = next(iter(generate_rows(8, seed=7))).receipt
        link = generate_link(rt.ctx, receipt_numbers=[receipt], email="demo@example.com")
        assert link.url.startswith(f"{rt.base_url}/i/")
    assert not (tmp_path / "demo" / "demo.db").exists()


@pytest.mark.parametrize("card,attempt", [("4000 0000 0000 0002", "denied")])
def test_declined_card_on_sandbox_is_recorded_and_link_stays_active(sqlite_url, tmp_path, card, attempt):
    from paylink_tui.demo.runtime import DemoRuntime

    with DemoRuntime(tmp_path / "demo", receipts=5, deliver_interval=0.3) as rt:
        receipt = next(iter(generate_rows(5, seed=7))).receipt
        link = generate_link(rt.ctx, receipt_numbers=[receipt], email="demo@example.com")
        resp = pay_on_sandbox(link.url, {**CARD_FORM, "tarjeta": card})
        assert resp.status_code == 200
        assert rt.sandbox.wait_idle_sync(15)
        [row] = wait_for(lambda: [r for r in list_links(rt.ctx, references=[link.reference])
                                  if r.last_attempt is not None])
        assert row.last_attempt.result == attempt
        assert row.status == "active"


def test_a_restarted_demo_keeps_its_address_and_the_links_it_sent(tmp_path: Path):
    """Links sent before a restart still open at the same address and pay; a paid one says so."""
    from paylink_tui.demo.runtime import DemoRuntime

    with DemoRuntime(tmp_path / "demo", receipts=20, deliver_interval=0.3) as rt:
        first, second = [r.receipt for r in generate_rows(20, seed=7)][:2]
        paid = generate_link(rt.ctx, receipt_numbers=[first], email="demo@example.com")
        waiting = generate_link(rt.ctx, receipt_numbers=[second], email="demo@example.com")
        pay_on_sandbox(paid.url, CARD_FORM)
        assert rt.sandbox.wait_idle_sync(15)
        wait_for(lambda: [r for r in list_links(rt.ctx, references=[paid.reference]) if r.status == "paid"])
        address = rt.base_url
    with DemoRuntime(tmp_path / "demo", receipts=20, deliver_interval=0.3) as again:
        assert again.base_url == address  # the links carry it
        page = httpx.get(waiting.url, timeout=5)
        assert page.status_code == 200 and waiting.reference in page.text
        assert "ya fue pagada" in httpx.get(paid.url, timeout=5).text
        pay_on_sandbox(waiting.url, CARD_FORM)
        assert again.sandbox.wait_idle_sync(15)
        wait_for(lambda: [r for r in list_links(again.ctx, references=[waiting.reference])
                          if r.status == "paid"])


def test_a_demo_whose_port_is_taken_moves_its_links_to_the_new_address(tmp_path: Path):
    import socket

    from paylink_tui.demo.runtime import DemoRuntime

    with DemoRuntime(tmp_path / "demo", receipts=5, deliver_interval=0.3) as rt:
        receipt = next(iter(generate_rows(5, seed=7))).receipt
        link = generate_link(rt.ctx, receipt_numbers=[receipt], email="demo@example.com")
        old_port = int(rt.base_url.rsplit(":", 1)[1])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
    squatter.bind(("127.0.0.1", old_port))
    squatter.listen()
    try:
        with DemoRuntime(tmp_path / "demo", receipts=5, deliver_interval=0.3) as again:
            assert again.base_url != rt.base_url
            [row] = list_links(again.ctx, references=[link.reference])
            assert row.url == f"{again.base_url}/i/{link.url.rsplit('/', 1)[1]}"
            page = httpx.get(row.url, timeout=5)
            assert page.status_code == 200 and link.reference in page.text
    finally:
        squatter.close()
