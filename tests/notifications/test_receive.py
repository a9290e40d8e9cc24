"""receive_notification: stored exactly once, applied only when everything matches, otherwise
kept for review with its reason. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlmodel import select

from paylink_tui.services import notifications as svc
from paylink_tui.services.notifications import apply as apply_step
from paylink_tui.services.notifications import receive as receive_step
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import AuditEvent, PaymentLink
from tests.notifications.support import (
    all_notifications,
    attempts,
    confirmations,
    link_row,
    make_link,
    notification_xml,
    receipts_of,
    str_response,
)

# The insurer's example: generated 07/10/2021 16:04:56 local, valid through 10/10/2021.
LAST_VALID_2359 = datetime(2021, 10, 11, 4, 59, 0, tzinfo=timezone.utc)  # 10/10 23:59 local
NEXT_MORNING = datetime(2021, 10, 11, 14, 0, 0, tzinfo=timezone.utc)  # 11/10 09:00 local
AFTER_EXPIRY = datetime(2021, 10, 11, 5, 0, 1, tzinfo=timezone.utc)  # 11/10 00:00:01 local


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


def test_approved_payment_marks_link_and_receipts_paid_and_queues_one_confirmation(ctx):
    link = make_link(ctx, amounts=("50.00", "25.17"))
    got = receive(ctx, notification_xml(link.reference, amount="75.17", folio="100633640472806"))

    assert (got.status, got.reason, got.duplicate) == ("applied", None, False)
    paid = link_row(ctx, link.reference)
    assert paid.state == "paid"
    assert (paid.folio, paid.authorization) == ("100633640472806", "426426")
    assert paid.card_mask == "411111XXXXXX1111"
    assert paid.card_type == "CREDITO/BANCO MIT/Visa"
    # Taken 07/10/21 16:04:56 in Mexico City (UTC-5) -> 21:04:56 UTC.
    assert paid.paid_at == datetime(2021, 10, 7, 21, 4, 56, tzinfo=timezone.utc)
    assert [r.status for r in receipts_of(ctx, link.id)] == ["paid", "paid"]
    [attempt] = attempts(ctx, link.id)
    assert (attempt.result, attempt.authorization) == ("approved", "426426")
    [email] = confirmations(ctx)
    assert email.link_id == link.id and list(got.email_ids) == [email.id]
    [n] = all_notifications(ctx)
    assert (n.status, n.link_id, n.amount) == ("applied", link.id, Decimal("75.17"))
    assert "<CENTEROFPAYMENTS>" in n.raw_xml


def test_same_notification_twice_is_a_duplicate_that_changes_nothing(ctx):
    link = make_link(ctx)
    xml = notification_xml(link.reference, folio="555000111")
    first = receive(ctx, xml)
    ctx.clock.advance(minutes=5)
    second = svc.receive_notification(ctx, str_response(xml), deliver=False)  # new IV, same content

    assert first.duplicate is False and second.duplicate is True
    assert second.notification_id == first.notification_id
    assert second.email_ids == ()
    assert len(all_notifications(ctx)) == 1
    assert len(attempts(ctx, link.id)) == 1
    assert len(confirmations(ctx)) == 1


def test_denial_keeps_link_active_then_approval_with_another_card_pays_it(ctx):
    link = make_link(ctx)
    denied = receive(ctx, notification_xml(link.reference, response="denied", folio="9001"))
    assert (denied.status, denied.reason) == ("applied", None)
    assert link_row(ctx, link.reference).state == "active"
    [attempt] = attempts(ctx, link.id)
    assert (attempt.result, attempt.cd_error, attempt.nb_error) == (
        "denied", "11", "Tarjeta declinada hoy")
    assert confirmations(ctx) == []

    approved = receive(ctx, notification_xml(link.reference, folio="9002"))
    assert approved.status == "applied"
    assert link_row(ctx, link.reference).state == "paid"
    assert [a.result for a in attempts(ctx, link.id)] == ["denied", "approved"]


def test_error_response_is_recorded_as_an_error_attempt(ctx):
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference, response="error", folio="9003"))
    assert got.status == "applied"
    assert [a.result for a in attempts(ctx, link.id)] == ["error"]
    assert link_row(ctx, link.reference).state == "active"


def test_second_approval_with_another_folio_is_kept_for_review_loudly(ctx, caplog):
    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, folio="7001", auth="111111"))
    with caplog.at_level(logging.WARNING, logger="paylink_tui.services.notifications"):
        second = receive(ctx, notification_xml(link.reference, folio="7002", auth="222222"))

    assert (second.status, second.reason, second.duplicate) == ("review", "second_approval", False)
    paid = link_row(ctx, link.reference)
    assert (paid.folio, paid.authorization) == ("7001", "111111")  # the first one stands
    assert len(confirmations(ctx)) == 1
    assert any("SECOND APPROVAL" in r.getMessage() and link.reference in r.getMessage()
               for r in caplog.records)
    [item] = svc.list_review(ctx)
    assert item.folio == "7002" and "doble cargo" in item.reason_label
    assert "7001" in (item.note or "")


def test_payment_taken_2359_on_last_valid_day_and_notified_next_morning_is_applied(ctx, clock):
    link = make_link(ctx)
    clock.set(NEXT_MORNING)  # the link has expired by now
    got = receive(ctx, notification_xml(link.reference, taken_at=LAST_VALID_2359))
    assert (got.status, got.reason) == ("applied", None)
    assert link_row(ctx, link.reference).state == "paid"
    assert link_row(ctx, link.reference).paid_at == LAST_VALID_2359


def test_payment_taken_after_valid_until_is_kept_for_review_not_applied(ctx, clock):
    link = make_link(ctx)
    clock.set(NEXT_MORNING)
    got = receive(ctx, notification_xml(link.reference, taken_at=AFTER_EXPIRY))
    assert (got.status, got.reason) == ("review", "late_payment")
    assert link_row(ctx, link.reference).state == "active"
    assert [r.status for r in receipts_of(ctx, link.id)] == ["pending"]
    assert confirmations(ctx) == []


def test_unknown_reference_is_kept_for_review(ctx):
    got = receive(ctx, notification_xml("NOEXISTE123"))
    assert (got.status, got.reason) == ("review", "unknown_reference")
    [n] = all_notifications(ctx)
    assert n.link_id is None and n.reference == "NOEXISTE123"
    assert attempts(ctx) == []


def test_amount_mismatch_is_kept_for_review_and_link_stays_active(ctx):
    link = make_link(ctx, amounts=("75.17",))
    got = receive(ctx, notification_xml(link.reference, amount="75.18"))
    assert (got.status, got.reason) == ("review", "amount_mismatch")
    assert link_row(ctx, link.reference).state == "active"
    [item] = svc.list_review(ctx)
    assert "$ 75.18 MXN" in (item.note or "") and "$ 75.17 MXN" in (item.note or "")


@pytest.mark.parametrize("missing", ["auth", "foliocpagos", "amount", "date", "response"])
def test_approval_missing_required_fields_is_kept_for_review(ctx, missing):
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference, **{missing: ""}))
    assert (got.status, got.reason) == ("review", "missing_fields")
    assert link_row(ctx, link.reference).state == "active"


def test_payment_for_a_link_we_cancelled_is_applied_and_flagged(ctx):
    link = make_link(ctx, state="cancelled")
    got = receive(ctx, notification_xml(link.reference))
    assert (got.status, got.reason) == ("review", "cancelled_link")
    assert link_row(ctx, link.reference).state == "paid"
    assert [r.status for r in receipts_of(ctx, link.id)] == ["paid"]
    assert len(confirmations(ctx)) == 1
    [item] = svc.list_review(ctx)
    assert item.applied is True


def test_late_notification_for_receipts_with_a_newer_link_applies_and_flags_the_newer_link(ctx, clock):
    old = make_link(ctx)
    rids = [r.id for r in receipts_of(ctx, old.id)]
    clock.advance(days=5)
    newer = make_link(ctx, receipts=rids)
    got = receive(ctx, notification_xml(old.reference, taken_at=LAST_VALID_2359))
    assert (got.status, got.reason) == ("review", "newer_link")
    assert link_row(ctx, old.reference).state == "paid"
    [item] = svc.list_review(ctx)
    assert newer.reference in (item.note or "")
    with read_session(ctx.engine) as s:
        flagged = s.exec(select(AuditEvent).where(AuditEvent.action == "link_flagged")).all()
    assert [e.subject for e in flagged] == [f"liga {newer.reference}"]


def test_full_card_number_in_a_notification_is_never_stored(ctx):
    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, cc_mask="4111111111111111",
                                  cc_number="4111111111111111"))
    [n] = all_notifications(ctx)
    assert "4111111111111111" not in n.raw_xml
    assert n.card_mask == "XXXXXX1111"
    assert link_row(ctx, link.reference).card_mask == "XXXXXX1111"


@pytest.mark.parametrize("body", [
    "esto no es base64 ¿verdad?",
    "",
])
def test_bodies_that_are_not_ours_are_rejected_and_nothing_is_stored(ctx, body):
    with pytest.raises(svc.Rejected):
        svc.receive_notification(ctx, body)
    assert all_notifications(ctx) == []


def test_tampered_truncated_and_wrong_key_bodies_are_rejected(ctx):
    link = make_link(ctx)
    good = str_response(notification_xml(link.reference))
    tampered = good[:30] + ("A" if good[30] != "A" else "B") + good[31:]
    truncated = good[: len(good) // 2]
    wrong_key = str_response(notification_xml(link.reference), key="00112233445566778899AABBCCDDEEFF")
    not_xml = str_response("hola mundo")
    not_ours = str_response("<P_RESPONSE><cd_response>success</cd_response></P_RESPONSE>")
    for body in (tampered, truncated, wrong_key, not_xml, not_ours):
        with pytest.raises(svc.Rejected):
            svc.receive_notification(ctx, body)
    assert all_notifications(ctx) == []
    assert link_row(ctx, link.reference).state == "active"


def test_apply_review_applies_a_checked_notification_to_the_given_link(ctx):
    link = make_link(ctx, amounts=("75.17",))
    got = receive(ctx, notification_xml("MAL-ESCRITA", amount="75.17"))
    assert got.reason == "unknown_reference"

    done = svc.apply_review(ctx, got.notification_id, reference=link.reference, agent="supervisora")
    assert done.status == "resolved"
    assert link_row(ctx, link.reference).state == "paid"
    assert len(confirmations(ctx)) == 1
    assert svc.list_review(ctx) == []
    [n] = all_notifications(ctx)
    assert (n.status, n.resolved_by, n.link_id) == ("resolved", "supervisora", link.id)
    with read_session(ctx.engine) as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "review_applied")).one()
    with pytest.raises(svc.ReviewError, match="no está por revisar"):
        svc.apply_review(ctx, got.notification_id, reference=link.reference, agent="x")


def test_apply_review_refuses_a_second_payment_on_a_paid_link(ctx):
    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, folio="8001"))
    second = receive(ctx, notification_xml(link.reference, folio="8002"))
    with pytest.raises(svc.ReviewError, match="ya está pagada"):
        svc.apply_review(ctx, second.notification_id, reference=link.reference, agent="ana")


def test_dismiss_review_resolves_with_a_note_and_audits(ctx):
    got = receive(ctx, notification_xml("DESCONOCIDA"))
    with pytest.raises(svc.ReviewError, match="nota"):
        svc.dismiss_review(ctx, got.notification_id, note="  ", agent="ana")
    svc.dismiss_review(ctx, got.notification_id, note="Pago de otra agencia", agent="ana")
    [n] = all_notifications(ctx)
    assert (n.status, n.note, n.resolved_by) == ("resolved", "Pago de otra agencia", "ana")
    assert svc.list_review(ctx) == []
    with pytest.raises(svc.ReviewError, match="No existe"):
        svc.dismiss_review(ctx, 999_999, note="x", agent="ana")


def test_stored_notification_whose_apply_failed_stays_for_review_and_a_retry_finishes_it(ctx, monkeypatch):
    link = make_link(ctx)
    xml = notification_xml(link.reference, folio="6001")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(apply_step, "_decide", broken)
    got = receive(ctx, xml)
    assert (got.status, got.reason) == ("review", None)
    [item] = svc.list_review(ctx)
    assert item.reason is None and item.reason_label == "Recibida, aún sin aplicar"
    monkeypatch.undo()

    retry = receive(ctx, xml)  # MIT retries: recognised, and the apply step finishes
    assert (retry.duplicate, retry.status) == (True, "applied")
    assert link_row(ctx, link.reference).state == "paid"
    assert len(confirmations(ctx)) == 1


def test_links_table_untouched_by_rejected_body(ctx):
    make_link(ctx)
    with write_session(ctx.engine) as s:
        before = [(x.state, x.updated_at) for x in s.exec(select(PaymentLink))]
    with pytest.raises(svc.Rejected):
        svc.receive_notification(ctx, "%%%%")
    with read_session(ctx.engine) as s:
        assert [(x.state, x.updated_at) for x in s.exec(select(PaymentLink))] == before


def test_receive_many_applies_a_batch_in_order_with_each_outcome(ctx):
    links = [make_link(ctx) for _ in range(3)]
    approved = [str_response(notification_xml(x.reference, folio=f"81{i}"))
                for i, x in enumerate(links)]
    unknown = str_response(notification_xml("NOEXISTE", folio="8199"))
    got = svc.receive_many(ctx, [approved[2], "%%%%", approved[0], unknown, approved[2],
                                 approved[1]])

    assert isinstance(got[1], svc.Rejected)
    outcomes = [(r.status, r.reason, r.duplicate) for r in got if isinstance(r, svc.Received)]
    assert outcomes == [("applied", None, False), ("applied", None, False),
                        ("review", "unknown_reference", False),
                        ("applied", None, True),  # the same notification twice in one batch
                        ("applied", None, False)]
    assert got[4].notification_id == got[0].notification_id and got[4].email_ids == ()
    for link in links:
        assert link_row(ctx, link.reference).state == "paid"
        assert len(attempts(ctx, link.id)) == 1
    assert len(all_notifications(ctx)) == 4
    assert len(confirmations(ctx)) == 3


def test_receive_many_with_one_failing_apply_keeps_the_others_and_stores_that_one(ctx, monkeypatch):
    good, bad = make_link(ctx), make_link(ctx)
    real_decide = apply_step._decide

    def decide(session, ctx_, n, now):
        if n.reference == bad.reference:
            raise RuntimeError("boom")
        return real_decide(session, ctx_, n, now)

    monkeypatch.setattr(apply_step, "_decide", decide)
    got = svc.receive_many(ctx, [str_response(notification_xml(good.reference)),
                                 str_response(notification_xml(bad.reference))])

    assert [(r.status, r.reason) for r in got] == [("applied", None), ("review", None)]
    assert link_row(ctx, good.reference).state == "paid"
    assert link_row(ctx, bad.reference).state == "active"
    assert sorted(n.reference for n in all_notifications(ctx)) == sorted(
        [good.reference, bad.reference])
    assert len(confirmations(ctx)) == 1


def test_receive_many_that_cannot_store_one_reports_its_error_and_keeps_the_rest(ctx, monkeypatch):
    good, bad = make_link(ctx), make_link(ctx)
    real_insert = receive_step._insert

    def insert(session, ctx_, values):
        if values["reference"] == bad.reference:
            raise OSError("disco lleno")
        return real_insert(session, ctx_, values)

    monkeypatch.setattr(receive_step, "_insert", insert)
    got = svc.receive_many(ctx, [str_response(notification_xml(bad.reference)),
                                 str_response(notification_xml(good.reference))])

    assert isinstance(got[0], OSError)
    assert (got[1].status, got[1].duplicate) == ("applied", False)
    assert [n.reference for n in all_notifications(ctx)] == [good.reference]


def test_a_declined_payment_reads_as_recorded_not_applied_in_the_link_s_history(ctx):
    from paylink_tui.services.history import link_detail

    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, response="denied", folio="9101"))
    receive(ctx, notification_xml(link.reference, folio="9102"))
    texts = [ev.text for ev in link_detail(ctx, link.reference).timeline if "Notificación" in ev.text]
    assert texts[0].startswith("Notificación de MIT: Rechazado") and texts[0].endswith("— Registrada")
    assert texts[1].startswith("Notificación de MIT: Aprobado") and texts[1].endswith("— Aplicada")
