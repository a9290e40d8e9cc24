"""Generating a link end to end: the sandbox over HTTP, the outbox, SMTP to a MailDrop,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from paylink_tui.domain.status import LinkState
from paylink_tui.services.links import (
    AlreadyLinked,
    GatewayNotConfiguredError,
    InvalidEmail,
    MixedReceipts,
    NotPending,
    ReceiptNotFound,
    generate_link,
    make_reference,
)
from paylink_tui.store.models import AuditEvent, EmailMessage, LinkReceipt, PaymentLink
from tests.helpers import closed_port


def links(engine) -> list[PaymentLink]:
    with Session(engine) as s:
        return list(s.exec(select(PaymentLink)).all())


def emails(engine) -> list[EmailMessage]:
    with Session(engine) as s:
        return list(s.exec(select(EmailMessage)).all())


def test_a_link_for_one_receipt_is_made_at_mit_stored_and_emailed(
    make_ctx, sandbox, mailbox, seed, get_receipt, clock
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1001", [("R-1", "75.17", "MXN")], now=clock())

    result = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert result.url == f"{sandbox.url}/i/{sandbox.links[0].id}"
    assert result.amount == Decimal("75.17") and result.currency == "MXN"
    assert result.policy_number == "AXA-1001" and result.receipt_numbers == ("R-1",)
    # Generated 07/10/2021 16:04 local: valid through the 10th, pending again the 12th.
    assert result.valid_through == date(2021, 10, 10)
    assert result.reappears_on == date(2021, 10, 12)
    assert result.expires_at == datetime(2021, 10, 11, 5, 0, tzinfo=timezone.utc)
    assert result.email_status == "sent" and result.email_error is None
    assert re.fullmatch(r"AXA-1001-211007-[A-Z2-7]{4}", result.reference)

    (stored,) = links(ctx.engine)
    assert stored.state == LinkState.ACTIVE.value
    assert stored.reference == result.reference and stored.url == result.url
    assert stored.agent == "ana" and stored.email == "cliente@example.com"
    assert stored.mit_link_id == result.url.rsplit("/", 1)[-1]
    r = get_receipt(ctx.engine, "R-1")
    assert r.hidden_until == stored.hidden_until == datetime(2021, 10, 12, 5, 0,
                                                             tzinfo=timezone.utc)

    # MIT got the reference, exact amount, fh_vigencia and the policy/receipts as extra data.
    (made,) = sandbox.links
    assert made.reference == result.reference and made.amount == Decimal("75.17")
    assert made.valid_through == date(2021, 10, 10)
    assert made.email == "cliente@example.com"
    assert dict(made.extra) == {"Póliza": "AXA-1001", "Recibos": "R-1"}

    (mail,) = mailbox.parsed()
    assert mail["To"] == "cliente@example.com"
    assert result.url in mail.get_body(("plain",)).get_content()
    (queued,) = emails(ctx.engine)
    assert queued.status == "sent" and queued.link_id == stored.id
    with Session(ctx.engine) as s:
        actions = [e.action for e in s.exec(select(AuditEvent)).all()]
    assert "link_generated" in actions


def test_a_policy_link_covers_all_its_pending_receipts_with_their_exact_sum(
    make_ctx, sandbox, seed, clock
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-2002", [
        ("R-1", "100.10", "MXN"), ("R-2", "200.20", "MXN"), ("R-3", "0.05", "MXN"),
        ("R-4", "50.00", "MXN", "paid"),
    ], now=clock())

    result = generate_link(ctx, policy_number="AXA-2002", email="cliente@example.com")

    assert result.amount == Decimal("300.35")
    assert result.receipt_numbers == ("R-1", "R-2", "R-3")
    (made,) = sandbox.links
    assert made.amount == Decimal("300.35")
    assert dict(made.extra)["Recibos"] == "R-1, R-2, R-3"
    with Session(ctx.engine) as s:
        assert len(s.exec(select(LinkReceipt)).all()) == 3


def test_many_receipts_are_listed_to_mit_cut_to_fifty_characters(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    numbers = [f"REC-000{i:02d}" for i in range(8)]
    seed(ctx.engine, "AXA-3003", [(n, "10.00", "MXN") for n in numbers], now=clock())

    generate_link(ctx, receipt_numbers=numbers, email="cliente@example.com")

    shown = dict(sandbox.links[0].extra)["Recibos"]
    assert len(shown) <= 50 and shown.endswith("…") and shown.startswith("REC-00000, ")


def test_a_receipt_with_an_active_link_cannot_get_a_second_one(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1001", [("R-1", "75.17", "MXN")], now=clock())
    generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    clock.advance(minutes=5)

    other = make_ctx(mit_gen_url=sandbox.gen_url, agent="beto")
    with pytest.raises(AlreadyLinked) as info:
        generate_link(other, receipt_numbers=["R-1"], email="otro@example.com")

    assert info.value.message == (
        "El recibo R-1 ya tiene una liga activa (de ana, generada el 07/10/2021 16:04, "
        "vence el domingo 10 de octubre de 2021)."
    )
    with pytest.raises(AlreadyLinked):
        generate_link(other, policy_number="AXA-1001", email="otro@example.com")
    assert len(links(ctx.engine)) == 1 and sandbox.counter.calls == 1


def test_after_expiry_a_receipt_can_get_a_new_link(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1001", [("R-1", "75.17", "MXN")], now=clock())
    first = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    clock.set(first.expires_at)  # local 00:00 of D+4: the link is expired

    second = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert second.reference != first.reference
    assert second.valid_through == date(2021, 10, 14)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"receipt_numbers": ["NOPE"]}, ReceiptNotFound, "No existe el recibo NOPE."),
        ({"receipt_numbers": ["R-PAID"]}, NotPending, "El recibo R-PAID ya está pagado."),
        ({"receipt_numbers": ["R-OUT"]}, NotPending, "fue liquidado fuera"),
        ({"receipt_numbers": ["R-1", "S-1"]}, MixedReceipts, "pólizas distintas (P-1 y P-2)"),
        ({"receipt_numbers": ["R-1", "R-USD"]}, MixedReceipts, "monedas distintas (MXN y USD)"),
        ({"policy_number": "P-1"}, MixedReceipts, "elija los recibos"),
        ({"policy_number": "P-9"}, ReceiptNotFound, "No existe la póliza P-9."),
    ],
)
def test_receipts_that_cannot_be_linked_are_refused_before_calling_mit(
    make_ctx, sandbox, seed, clock, kwargs, error, text
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "1.00", "MXN"), ("R-USD", "1.00", "USD"),
                             ("R-PAID", "1.00", "MXN", "paid"),
                             ("R-OUT", "1.00", "MXN", "settled_elsewhere")], now=clock())
    seed(ctx.engine, "P-2", [("S-1", "1.00", "MXN")], now=clock())

    with pytest.raises(error) as info:
        generate_link(ctx, email="cliente@example.com", **kwargs)

    assert text in info.value.message
    assert links(ctx.engine) == [] and sandbox.counter.calls == 0


@pytest.mark.parametrize("address", ["", "cliente", "cliente@", "a b@example.com",
                                     "x@@example.com", "cliente@example.com\r\nBcc: x@y.z"])
def test_an_invalid_email_is_refused_in_spanish(make_ctx, sandbox, seed, clock, address):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "1.00", "MXN")], now=clock())

    with pytest.raises(InvalidEmail) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email=address)

    assert "correo" in info.value.message
    assert links(ctx.engine) == [] and sandbox.counter.calls == 0


def test_without_a_gateway_setting_the_message_names_what_to_fill_in(make_ctx, seed, clock):
    ctx = make_ctx(gateway=None)
    seed(ctx.engine, "P-1", [("R-1", "1.00", "MXN")], now=clock())

    with pytest.raises(GatewayNotConfiguredError) as info:
        generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert "PAYLINK_GATEWAY" in info.value.message

    mit = make_ctx(gateway="mit", mit_gen_url="https://u.mitec.com.mx/gen")
    with pytest.raises(GatewayNotConfiguredError) as info:
        generate_link(mit, receipt_numbers=["R-1"], email="cliente@example.com")
    assert "PAYLINK_MIT_KEY" in info.value.message and "PAYLINK_MIT_DATA0" in info.value.message
    assert links(ctx.engine) == []


def test_an_smtp_failure_does_not_undo_the_link(make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=closed_port())
    seed(ctx.engine, "P-1", [("R-1", "1.00", "MXN")], now=clock())

    result = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    assert result.email_status == "failed" and result.email_error
    (stored,) = links(ctx.engine)
    assert stored.state == LinkState.ACTIVE.value
    (queued,) = emails(ctx.engine)
    assert queued.status == "failed" and queued.attempts == 1
    assert mailbox.messages() == []


def test_a_long_email_address_is_kept_but_not_sent_to_mit(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "1.00", "MXN")], now=clock())
    address = "nombre.muy.largo.de.la.clienta.con.apellidos@empresa-ejemplo.com.mx"

    result = generate_link(ctx, receipt_numbers=["R-1"], email=address)

    assert result.email == address and sandbox.links[0].email == ""


def test_references_are_readable_mit_safe_and_at_most_forty_characters():
    day = date(2021, 10, 7)
    assert re.fullmatch(r"AXA-123-211007-[A-Z2-7]{4}", make_reference("axa 123", day))
    long_ref = make_reference("PÓLIZA/" + "9" * 60, day)
    assert len(long_ref) <= 40 and re.fullmatch(r"[A-Z0-9-]+", long_ref)
    assert long_ref.startswith("POLIZA-999") and long_ref.endswith(long_ref[-4:])
    assert re.fullmatch(r"POL-211007-[A-Z2-7]{4}", make_reference("///", day))
    assert len({make_reference("P", day) for _ in range(200)}) > 190
