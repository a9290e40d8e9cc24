"""The grace day (the link expired, its receipts hidden until D+5): one rule everywhere.

An expired link is not active, so its receipts may get a new link, by receipt numbers or by
policy alike; and a receipt stays hidden until the D+5 of every link that is not cancelled,
expired or not, also after another link of it is cancelled."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from paylink_tui.domain.dates import utc
from paylink_tui.services.links import cancel_link, generate_link
from paylink_tui.store.models import PaymentLink


def link_of(engine, reference: str) -> PaymentLink:
    with Session(engine) as s:
        return s.exec(select(PaymentLink).where(PaymentLink.reference == reference)).one()


def test_on_the_grace_day_a_policy_and_its_receipt_numbers_both_get_a_new_link(
    make_ctx, sandbox, seed, clock, get_receipt
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    seed(ctx.engine, "P-2", [("R-2", "10.00", "MXN")], now=clock())
    old_1 = generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    old_2 = generate_link(ctx, receipt_numbers=["R-2"], email="cliente@example.com")
    clock.set(link_of(ctx.engine, old_1.reference).expires_at + timedelta(hours=1))  # expired, still hidden
    assert utc(get_receipt(ctx.engine, "R-1").hidden_until) > utc(clock())

    by_policy = generate_link(ctx, policy_number="P-1", email="cliente@example.com")
    by_number = generate_link(ctx, receipt_numbers=["R-2"], email="cliente@example.com")

    assert by_policy.reference != old_1.reference and by_policy.receipt_numbers == ("R-1",)
    assert by_number.reference != old_2.reference and by_number.receipt_numbers == ("R-2",)


def test_cancelling_the_new_link_keeps_the_receipts_hidden_until_the_expired_links_day_five(
    make_ctx, sandbox, seed, clock, get_receipt
):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "75.17", "MXN")], now=clock())
    old = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    clock.set(link_of(ctx.engine, old.reference).expires_at + timedelta(hours=1))
    new = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")

    cancel_link(ctx, new.reference, agent="ana")

    hidden = get_receipt(ctx.engine, "R-1").hidden_until
    assert utc(hidden) == utc(link_of(ctx.engine, old.reference).hidden_until)
    assert utc(hidden) > utc(clock())  # a late payment for the old link may still arrive
