"""Payments that must not be applied silently: a second charge for receipts already paid
(through this link or another), and MIT's own confirmation instead of ours."""

from __future__ import annotations

import pytest

from paylink_tui.services import notifications as svc
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications import receive as receive_step
from paylink_tui.store.db import make_engine
from tests.notifications.support import (
    cancelled_then_newer,
    confirmations,
    link_row,
    make_link,
    notification_xml,
    receipts_of,
    settings_for,
    str_response,
)


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


def test_second_approval_with_a_different_amount_is_flagged_as_double_charge(ctx):
    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, folio="7001", auth="111111"))
    second = receive(ctx, notification_xml(link.reference, folio="7002", amount="99.00"))
    assert (second.status, second.reason) == ("review", "second_approval")
    assert link_row(ctx, link.reference).folio == "7001"


def test_payment_for_receipts_already_paid_through_another_link_is_kept_for_review(ctx, clock):
    old, newer = cancelled_then_newer(ctx, clock)
    first = receive(ctx, notification_xml(old.reference, folio="8001"))
    assert first.status == "review"  # applied to the cancelled link, flagged
    second = receive(ctx, notification_xml(newer.reference, folio="8002"))
    assert (second.status, second.reason) == ("review", "second_approval")
    assert link_row(ctx, newer.reference).state != "paid"
    assert len(confirmations(ctx)) == 1
    item = next(i for i in svc.list_review(ctx) if i.folio == "8002")
    assert item.applied is False
    assert "doble cargo" in (item.note or "").lower()


def test_with_mit_notifying_the_payer_we_queue_no_confirmation(database_url, clock):
    engine = make_engine(database_url)
    try:
        ctx = AppContext(settings=settings_for(database_url, mit_notify_payer=1),
                         engine=engine, clock=clock)
        link = make_link(ctx)
        got = receive(ctx, notification_xml(link.reference))
        assert got.status == "applied"
        assert link_row(ctx, link.reference).state == "paid"
        assert confirmations(ctx) == []
    finally:
        engine.dispose()




def _flagged(ctx) -> list[str]:
    from sqlmodel import select

    from paylink_tui.store.db import read_session
    from paylink_tui.store.models import AuditEvent

    with read_session(ctx.engine) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == "link_flagged")).all()
    return [e.subject for e in rows]


def test_paying_a_cancelled_link_flags_the_newer_link_of_its_receipts(ctx, clock):
    old, newer = cancelled_then_newer(ctx, clock)
    got = receive(ctx, notification_xml(old.reference))
    assert (got.status, got.reason) == ("review", "cancelled_link")
    assert _flagged(ctx) == [f"liga {newer.reference}"]
    [item] = svc.list_review(ctx)
    assert newer.reference in (item.note or "")


def test_a_cancelled_newer_link_not_yet_expired_is_still_flagged(ctx, clock):
    old = make_link(ctx)
    rids = [r.id for r in receipts_of(ctx, old.id)]
    clock.advance(days=1)
    newer = make_link(ctx, receipts=rids, state="cancelled")
    got = receive(ctx, notification_xml(old.reference))
    assert (got.status, got.reason) == ("review", "newer_link")
    assert _flagged(ctx) == [f"liga {newer.reference}"]


def test_a_notification_stored_but_not_applied_asks_mit_to_resend(ctx, monkeypatch):
    link = make_link(ctx)

    def boom(*args, **kwargs):
        raise RuntimeError("apply failed")

    monkeypatch.setattr(receive_step, "_receive_in", boom)
    monkeypatch.setattr(receive_step, "_apply", boom)
    got = receive(ctx, notification_xml(link.reference, folio="9001"))
    assert got.pending is True
    monkeypatch.undo()
    again = receive(ctx, notification_xml(link.reference, folio="9001"))
    assert link_row(ctx, link.reference).state == "paid"
    assert again.pending is False


def test_full_card_number_in_cdata_or_spaced_tags_is_never_stored():
    xml = ("<CENTEROFPAYMENTS><cc_number><![CDATA[4111111111111111]]></cc_number>"
           "<cc_mask >4111 1111 1111 1111</cc_mask ></CENTEROFPAYMENTS>")
    out = svc.scrub_raw_xml(xml)
    assert "4111111111111111" not in out.replace(" ", "")
    assert "1111" in out


def test_a_newer_link_is_not_resent_after_the_old_one_was_paid_late(ctx, clock):
    # Review finding 10: the old, cancelled link was paid late; sending the newer one again
    # could charge the client twice.
    from paylink_tui.services.links import LinkStateError, resend_link_email

    old, newer = cancelled_then_newer(ctx, clock)
    receive(ctx, notification_xml(old.reference))
    with pytest.raises(LinkStateError, match="ya está pagado. Cancele esta liga"):
        resend_link_email(ctx, newer.reference)


def test_a_newer_link_is_not_resent_while_a_payment_for_its_receipts_awaits_review(ctx, clock):
    # The old link's payment came with another amount: held for review, receipts unpaid, and
    # the client has paid something already.
    from paylink_tui.services.links import LinkStateError, resend_link_email

    old, newer = cancelled_then_newer(ctx, clock)
    got = receive(ctx, notification_xml(old.reference, amount="99.00"))
    assert got.status == "review"
    with pytest.raises(LinkStateError, match=f"pago por revisar de la liga {old.reference}"):
        resend_link_email(ctx, newer.reference)
    [item] = svc.list_review(ctx)
    svc.dismiss_review(ctx, item.id, note="reembolsado", agent="beto")
    resent = resend_link_email(ctx, newer.reference)  # resolved: the link may go again
    assert resent.reference == newer.reference


def test_a_link_whose_receipts_were_paid_otherwise_is_not_resent(ctx, clock):
    from sqlalchemy import update

    from paylink_tui.services.links import LinkStateError, resend_link_email
    from paylink_tui.store.models import Receipt

    link = make_link(ctx, amounts=("75.17", "10.00"))
    [first, _second] = receipts_of(ctx, link.id)
    with ctx.engine.begin() as conn:
        conn.execute(update(Receipt.__table__).where(Receipt.__table__.c.id == first.id)
                     .values(status="paid"))
    with pytest.raises(LinkStateError, match=f"{first.number} ya está pagado. Cancele esta liga"):
        resend_link_email(ctx, link.reference)
