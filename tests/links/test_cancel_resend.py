"""Cancelling a link (ours alone) and resending the same link, also to a corrected address."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from paylink_tui.domain.status import LinkState
from paylink_tui.services.links import (
    InvalidEmail,
    LinkNotFound,
    LinkStateError,
    cancel_link,
    generate_link,
    resend_link_email,
)
from paylink_tui.store.models import AuditEvent, EmailMessage, PaymentLink


def the_link(engine) -> PaymentLink:
    with Session(engine) as s:
        return s.exec(select(PaymentLink)).one()


def test_cancelling_returns_the_receipts_to_the_pending_list_now(
    make_ctx, sandbox, seed, clock, get_receipt
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN"), ("R-2", "5.00", "MXN")], now=clock())
    made = generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    clock.advance(hours=2)

    cancel_link(ctx, made.reference, agent="beto")

    link = the_link(ctx.engine)
    assert link.state == LinkState.CANCELLED.value
    assert link.cancelled_by == "beto" and link.cancelled_at == clock()
    assert get_receipt(ctx.engine, "R-1").hidden_until is None
    assert get_receipt(ctx.engine, "R-2").hidden_until is None
    with Session(ctx.engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "link_cancelled")).one()
    assert event.agent == "beto" and event.subject == made.reference
    # The receipts can get a new link at once.
    again = generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    assert again.reference != made.reference


def test_only_active_or_unconfirmed_links_can_be_cancelled(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    cancel_link(ctx, made.reference, agent="ana")

    with pytest.raises(LinkStateError) as info:
        cancel_link(ctx, made.reference, agent="ana")
    assert info.value.message == f"No se puede cancelar la liga {made.reference}: ya está cancelada."
    with pytest.raises(LinkNotFound):
        cancel_link(ctx, "NO-EXISTE", agent="ana")


def test_resending_to_a_corrected_address_sends_the_same_link_there(
    make_ctx, sandbox, seed, clock, mailbox
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@exmaple.com")

    result = resend_link_email(ctx, made.reference, to="cliente@example.com")

    assert result.to == "cliente@example.com" and result.email_status == "sent"
    first, second = mailbox.parsed()
    assert first["To"] == "cliente@exmaple.com" and second["To"] == "cliente@example.com"
    assert made.url in second.get_body(("plain",)).get_content()
    assert the_link(ctx.engine).email == "cliente@example.com"
    assert len(sandbox.links) == 1  # the same link, not a new one


def test_resending_without_an_address_repeats_the_email(make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    result = resend_link_email(ctx, made.reference)

    assert result.email_status == "sent"
    assert [m["To"] for m in mailbox.parsed()] == ["cliente@example.com"] * 2
    with Session(ctx.engine) as s:
        assert len(s.exec(select(EmailMessage)).all()) == 2


def test_a_cancelled_or_expired_link_is_not_resent(make_ctx, sandbox, seed, clock):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    with pytest.raises(InvalidEmail):
        resend_link_email(ctx, made.reference, to="sin-arroba")
    clock.set(made.expires_at)
    with pytest.raises(LinkStateError) as info:
        resend_link_email(ctx, made.reference)
    assert "venció el domingo 10 de octubre de 2021" in info.value.message
    cancel_link(ctx, made.reference, agent="ana")
    with pytest.raises(LinkStateError):
        resend_link_email(ctx, made.reference)


def test_queued_link_email_is_not_delivered_once_the_link_is_cancelled(
    make_ctx, sandbox, seed, clock, mailbox
):
    from paylink_tui.services.outbox import deliver_due

    # The mail server is down when the link is made: the email stays queued.
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=1)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    made = generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    assert made.email_status != "sent"
    cancel_link(ctx, made.reference, agent="ana")

    clock.advance(hours=2)
    working = make_ctx(mit_gen_url=sandbox.gen_url)
    report = deliver_due(working)
    assert report.sent == 0
    assert mailbox.parsed() == []


def test_queued_link_email_goes_out_when_the_server_comes_back(make_ctx, sandbox, seed, clock, mailbox):
    from paylink_tui.services.outbox import deliver_due

    ctx = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=1)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    clock.advance(hours=2)
    assert deliver_due(make_ctx(mit_gen_url=sandbox.gen_url)).sent == 1
    assert len(mailbox.parsed()) == 1
