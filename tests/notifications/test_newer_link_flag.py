"""A payment for an older link whose receipts already have a newer link flags that newer link
in Historial (domain.md) while the review is unresolved. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from paylink_tui.services import history
from paylink_tui.services import notifications as svc
from tests.notifications.support import (
    cancelled_then_newer,
    make_link,
    notification_xml,
    receipts_of,
    str_response,
)

# The insurer's example: generated 07/10/2021 16:04:56 local, valid through 10/10/2021.
LAST_VALID_2359 = datetime(2021, 10, 11, 4, 59, 0, tzinfo=timezone.utc)  # 10/10 23:59 local


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


def row(ctx, reference: str) -> history.LinkRow:
    [found] = history.list_links(ctx, references=[reference])
    return found


def flagged_by(ctx, reference: str) -> list[tuple[str, bool]]:
    return [(f.older_reference, f.applied) for f in row(ctx, reference).flags]


def test_paying_a_cancelled_link_flags_its_newer_link_until_the_review_is_dismissed(ctx, clock):
    old, newer = cancelled_then_newer(ctx, clock)
    assert (row(ctx, newer.reference).review_count, flagged_by(ctx, newer.reference)) == (0, [])

    got = receive(ctx, notification_xml(old.reference))
    assert (got.status, got.reason) == ("review", "cancelled_link")

    flagged = row(ctx, newer.reference)
    assert (flagged.review_count, flagged.needs_review) == (0, True)  # its own: none
    # `history --format json`: each link's own reviews, and what flags it, apart.
    from paylink_tui.backend.local import LocalBackend
    from paylink_tui.cli.history_cmd import history_data

    exported = {item["reference"]: item for item in history_data(LocalBackend(ctx))["links"]}
    assert (exported[newer.reference]["review_count"], exported[newer.reference]["flagged_by"]) \
        == (0, [old.reference])
    assert (exported[old.reference]["review_count"], exported[old.reference]["flagged_by"]) == (1, [])
    assert flagged_by(ctx, newer.reference) == [(old.reference, True)]
    assert flagged.open_at_mit is True  # the client can still pay it at MIT
    # The paid link shows its own review, and is flagged by nothing.
    assert (row(ctx, old.reference).review_count, row(ctx, old.reference).flags) == (1, ())
    # The detail carries the flag and tells it in the link's story.
    detail = history.link_detail(ctx, newer.reference)
    assert detail is not None
    assert [f.older_reference for f in detail.link.flags] == [old.reference]
    assert any(ev.text == "Marcada para revisión: sus recibos se pagaron con la liga anterior "
                          f"{old.reference}" for ev in detail.timeline)

    [item] = svc.list_review(ctx)
    svc.dismiss_review(ctx, item.id, note="Se canceló la liga nueva", agent="beto")
    resolved = row(ctx, newer.reference)
    assert (resolved.review_count, resolved.flags) == (0, ())
    assert history.link_detail(ctx, newer.reference).link.flags == ()  # type: ignore[union-attr]


def test_a_late_notification_flags_the_newer_link_of_the_reappeared_receipts(ctx, clock):
    old = make_link(ctx)
    rids = [r.id for r in receipts_of(ctx, old.id)]
    clock.advance(days=5)  # the receipts are pending again; the agent sent a new link
    newer = make_link(ctx, receipts=rids)
    got = receive(ctx, notification_xml(old.reference, taken_at=LAST_VALID_2359))
    assert (got.status, got.reason) == ("review", "newer_link")
    assert flagged_by(ctx, newer.reference) == [(old.reference, True)]
    assert row(ctx, newer.reference).needs_review


def test_a_payment_of_the_older_link_held_for_review_keeps_the_newer_link_flagged(ctx, clock):
    old, newer = cancelled_then_newer(ctx, clock)
    got = receive(ctx, notification_xml(old.reference, amount="99.00"))
    assert (got.status, got.reason) == ("review", "amount_mismatch")
    # Not applied: the receipts are not paid, but the client paid something for them.
    assert flagged_by(ctx, newer.reference) == [(old.reference, False)]
    [item] = svc.list_review(ctx)
    applied = svc.apply_review(ctx, item.id, reference=old.reference, agent="beto",
                               accept_differences=True)  # $ 99.00 charged for a $ 75.17 link
    # Applied by hand, the receipts are paid, and the newer link can still be charged at
    # MIT: a double charge waiting to happen. It stays flagged, as on arrival (review
    # finding: the flag once vanished here).
    assert (applied.status, applied.reason) == ("review", "newer_link")
    assert flagged_by(ctx, newer.reference) == [(old.reference, True)]
    assert row(ctx, newer.reference).needs_review
    [still] = svc.list_review(ctx)
    assert newer.reference in (still.note or "")
    svc.dismiss_review(ctx, still.id, note="Se canceló la liga nueva y se avisó al cliente.",
                       agent="beto")
    assert flagged_by(ctx, newer.reference) == []
    assert not row(ctx, newer.reference).needs_review


def test_applying_a_held_payment_without_a_newer_link_resolves_it(ctx, clock):
    old = make_link(ctx)
    receive(ctx, notification_xml(old.reference, amount="99.00"))
    [item] = svc.list_review(ctx)
    applied = svc.apply_review(ctx, item.id, reference=old.reference, agent="beto",
                               accept_differences=True)
    assert applied.status == "resolved"
    assert svc.list_review(ctx) == []


def test_only_newer_links_that_mit_could_still_charge_are_flagged(ctx, clock):
    old = make_link(ctx, state="cancelled")  # 07/10, valid through 10/10
    rids = [r.id for r in receipts_of(ctx, old.id)]
    clock.advance(days=1)
    expired_cancelled = make_link(ctx, receipts=rids, state="cancelled")  # through 11/10
    older_than_paid = make_link(ctx, receipts=rids, created_at=old.created_at.replace(hour=1))
    unrelated = make_link(ctx)
    clock.advance(days=4)  # 12/10 local: the cancelled newer link expired yesterday
    live = make_link(ctx, receipts=rids)
    # Taken on 10/10 (in time for the old link), arriving on the 12th.
    got = receive(ctx, notification_xml(old.reference, taken_at=LAST_VALID_2359))
    assert (got.status, got.reason) == ("review", "cancelled_link")
    assert flagged_by(ctx, live.reference) == [(old.reference, True)]
    for other in (expired_cancelled, older_than_paid, unrelated):
        assert (row(ctx, other.reference).review_count, row(ctx, other.reference).flags) == (0, ())
    # The same links that the payment itself flagged when it arrived.
    [item] = svc.list_review(ctx)
    assert live.reference in (item.note or "")
    assert expired_cancelled.reference not in (item.note or "")


def test_history_pages_read_the_flags_of_all_their_links_at_once(ctx, clock):
    from sqlalchemy import event

    old, newer = cancelled_then_newer(ctx, clock)
    receive(ctx, notification_xml(old.reference))

    def statements(count_links: int) -> int:
        for _ in range(count_links):
            make_link(ctx)
        seen: list[str] = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(ctx.engine, "before_cursor_execute", count)
        try:
            rows = history.list_links(ctx)
        finally:
            event.remove(ctx.engine, "before_cursor_execute", count)
        assert [r.needs_review for r in rows if r.reference == newer.reference] == [True]
        return len(seen)

    assert statements(1) == statements(10)
