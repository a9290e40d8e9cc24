"""Oldest first and the lapse warning: a link that leaves out older pending receipts of its
policy and currency says which ones (before it is made: the dialog's preview; after: the
result and the `link` command), and one that can be paid after the policy lapses says so."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from paylink_tui.services.link_advice import link_preview
from paylink_tui.services.links import (
    MixedReceipts,
    NotPending,
    ReceiptNotFound,
    cancel_link,
    generate_link,
)
from tests.helpers import command_env, link_command

THREE = [("R-1", "100.00", "MXN"), ("R-2", "200.00", "MXN"), ("R-3", "300.00", "MXN")]


def test_a_later_receipt_linked_alone_names_the_older_ones_left_out(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", THREE, now=clock())

    link = generate_link(ctx, receipt_numbers=["R-3"], email="cliente@example.com")

    assert [r.receipt for r in link.older_pending] == ["R-1", "R-2"]
    assert link.older_warning == (
        "Quedan fuera 2 recibos anteriores pendientes de la póliza AXA-1: R-1 (vence "
        "01/10/2021, $ 100.00 MXN) y R-2 (vence 02/10/2021, $ 200.00 MXN). La aseguradora "
        "aplica los pagos en orden: el pago de un recibo posterior con uno anterior sin pagar "
        "puede ser rechazado.")
    assert link.older_warning in link.warnings
    assert link.holder == "Ana Peña Gómez"


def test_the_oldest_receipts_linked_leave_nothing_older_out(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", THREE, now=clock())
    link = generate_link(ctx, receipt_numbers=["R-1", "R-2"], email="cliente@example.com")
    assert link.older_pending == () and link.older_warning is None
    # R-2 is newer than R-1 but R-1 is in: only receipts due before the newest one count.
    second = generate_link(ctx, receipt_numbers=["R-3"], email="cliente@example.com")
    assert second.older_pending == ()  # have their own live link


def test_another_currency_and_paid_receipts_are_not_older_ones(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", [("R-1", "10.00", "USD"), ("R-2", "20.00", "MXN", "paid"),
                               ("R-3", "30.00", "MXN")], now=clock())
    link = generate_link(ctx, receipt_numbers=["R-3"], email="cliente@example.com")
    assert link.older_pending == ()


def test_an_older_receipt_freed_by_a_cancelled_link_is_named_again(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", THREE, now=clock())
    first = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link_preview(ctx, receipt_numbers=["R-3"]).older_pending[0].receipt == "R-2"
    cancel_link(ctx, first.reference, agent="ana")
    assert [r.receipt for r in link_preview(ctx, receipt_numbers=["R-3"]).older_pending] == ["R-1", "R-2"]


def test_the_preview_offers_to_include_the_older_receipts(make_ctx, sandbox, seed, clock, engine):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", THREE, now=clock(), phone="55 1234 5678")

    preview = link_preview(ctx, receipt_numbers=["R-3"])

    assert [r.receipt for r in preview.receipts] == ["R-3"]
    assert preview.amount_text == "$ 300.00 MXN" and preview.policy == "AXA-1"
    assert preview.email == "ana@example.com" and preview.holder == "Ana Peña Gómez"
    assert preview.valid_through == date(2021, 10, 10) and preview.whatsapp
    assert [r.receipt for r in preview.older_pending] == ["R-1", "R-2"]
    assert preview.with_older == ("R-1", "R-2", "R-3")
    assert sandbox.counter.calls == 0  # nothing made, nothing reserved
    link = generate_link(ctx, receipt_numbers=list(preview.with_older), email="cliente@example.com")
    assert link.older_warning is None and link.amount_text == "$ 600.00 MXN"


def test_a_policy_preview_takes_every_free_pending_receipt(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", THREE, now=clock())
    generate_link(ctx, receipt_numbers=["R-2"], email="cliente@example.com")
    preview = link_preview(ctx, policy_number="AXA-1")
    assert [r.receipt for r in preview.receipts] == ["R-1", "R-3"]
    assert preview.older_pending == ()


def test_the_preview_refuses_what_generating_would_refuse(make_ctx, seed, clock):
    ctx = make_ctx()
    seed(ctx.engine, "AXA-1", [("R-1", "1.00", "MXN"), ("R-2", "2.00", "USD"), ("R-3", "3.00", "MXN", "paid")],
         now=clock())
    with pytest.raises(ReceiptNotFound, match="No existe el recibo R-9"):
        link_preview(ctx, receipt_numbers=["R-9"])
    with pytest.raises(MixedReceipts, match="monedas distintas"):
        link_preview(ctx, receipt_numbers=["R-1", "R-2"])
    with pytest.raises(MixedReceipts, match="MXN y USD"):
        link_preview(ctx, policy_number="AXA-1")
    with pytest.raises(NotPending, match="ya está pagado"):
        link_preview(ctx, receipt_numbers=["R-3"])
    with pytest.raises(ReceiptNotFound, match="No existe la póliza"):
        link_preview(ctx, policy_number="NADA")


# -- the lapse ---------------------------------------------------------------------------------


def test_a_link_payable_after_the_lapse_is_warned_before_and_after(make_ctx, sandbox, seed, clock):
    # Generated 07/10/2021 (valid through the 10th). Due 05/10 with 3 grace days: lapses 08/10 12:00.
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, grace_days=3)
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN", "pending", date(2021, 10, 5))], now=clock())

    preview = link_preview(ctx, receipt_numbers=["R-1"])
    assert preview.lapses_at == datetime(2021, 10, 8, 17, 0, tzinfo=timezone.utc)
    assert preview.lapse_warning is not None
    assert "cesa el viernes 8 de octubre de 2021 a las 12:00" in preview.lapse_warning
    assert "hasta el domingo 10 de octubre de 2021" in preview.lapse_warning

    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link.lapse_warning == preview.lapse_warning and link.lapses_at == preview.lapses_at


def test_no_lapse_warning_when_the_link_expires_before_the_lapse(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)  # 30 days: R-1 (due 01/10) lapses 31/10
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock())
    assert link_preview(ctx, receipt_numbers=["R-1"]).lapse_warning is None
    assert generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com").warnings == ()


def test_the_link_command_prints_the_warnings_and_exits_zero(database_url, real_time_sandbox, mailbox,
                                                             seed, engine, tmp_path):
    seed(engine, "AXA-1", THREE, now=datetime.now(timezone.utc))  # due in 2021: lapsed long ago
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))
    proc = link_command("R-3", "--email", "cliente@example.com", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert ("Aviso: Quedan fuera 2 recibos anteriores pendientes de la póliza AXA-1: R-1 (vence "
            "01/10/2021, $ 100.00 MXN) y R-2 (vence 02/10/2021, $ 200.00 MXN). La aseguradora "
            "aplica los pagos en orden: el pago de un recibo posterior con uno anterior sin pagar "
            "puede ser rechazado.") in lines
    assert any(line.startswith("Aviso: La póliza cesó el martes 2 de noviembre de 2021 a las 12:00")
               for line in lines)
    assert not any(line.startswith("WhatsApp:") for line in lines)  # no phone on file
