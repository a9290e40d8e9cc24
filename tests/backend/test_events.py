"""The event log: every committed change is read once, in commit order, on both engines;
a transaction that commits late is never skipped by a reader's cursor."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from paylink_tui.services import events
from paylink_tui.services.context import AppContext
from paylink_tui.services.notifications import receive_notification
from paylink_tui.store.db import make_engine, write_session
from tests.notifications.support import make_link, notification_xml, settings_for, str_response


@pytest.fixture
def ctx(database_url: str, clock) -> Iterator[AppContext]:
    engine = make_engine(database_url)
    context = AppContext(settings=settings_for(database_url), engine=engine, clock=clock)
    yield context
    engine.dispose()


def _add(ctx: AppContext, kind: str, reference: str) -> None:
    with write_session(ctx.engine) as session:
        events.record(session, at=ctx.now(), kind=kind, reference=reference)


def test_a_reader_starts_at_now_and_then_gets_each_event_once_in_order(ctx):
    _add(ctx, events.LINK_CHANGED, "BEFORE")
    found, cursor = events.read(ctx, None)
    assert found == []  # nothing is replayed to a reader that just started
    _add(ctx, events.LINK_CHANGED, "A")
    _add(ctx, events.PAYMENT_DENIED, "B")
    found, cursor = events.read(ctx, cursor)
    assert [(e.kind, e.reference) for e in found] == [
        (events.LINK_CHANGED, "A"), (events.PAYMENT_DENIED, "B")]
    again, same = events.read(ctx, cursor)
    assert again == [] and same == cursor
    _add(ctx, events.REVIEW_ADDED, "C")
    found, _ = events.read(ctx, cursor)
    assert [e.reference for e in found] == ["C"]


def test_a_garbled_cursor_starts_from_now_instead_of_failing(ctx):
    _add(ctx, events.LINK_CHANGED, "OLD")
    found, cursor = events.read(ctx, "not-a-cursor")
    assert found == [] and cursor
    _add(ctx, events.LINK_CHANGED, "NEW")
    assert [e.reference for e in events.read(ctx, cursor)[0]] == ["NEW"]


def test_an_event_whose_transaction_commits_late_is_not_skipped(ctx):
    """Transaction A writes its event and stays open; B writes one meanwhile. A reader that
    got past B must still get A: the log's ids become visible in id order. On SQLite writers
    cannot overlap (BEGIN IMMEDIATE); on PostgreSQL B's event waits for A's commit."""
    _, cursor = events.read(ctx, None)
    a_wrote, release_a = threading.Event(), threading.Event()

    def slow_a() -> None:
        with write_session(ctx.engine) as session:
            events.record(session, at=ctx.now(), kind=events.LINK_CHANGED, reference="A")
            a_wrote.set()
            release_a.wait(10)

    def b() -> None:
        _add(ctx, events.LINK_CHANGED, "B")

    first = threading.Thread(target=slow_a)
    first.start()
    assert a_wrote.wait(10)
    second = threading.Thread(target=b)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # B waits for A instead of committing first
    found, cursor = events.read(ctx, cursor)
    assert found == []
    release_a.set()
    first.join(10)
    second.join(10)
    found, cursor = events.read(ctx, cursor)
    assert [e.reference for e in found] == ["A", "B"]
    with ctx.engine.connect() as conn:
        ids = conn.execute(text("SELECT reference FROM event ORDER BY id")).scalars().all()
    assert ids == ["A", "B"]


def test_payments_denials_and_reviews_are_told_as_they_are_applied(ctx):
    _, cursor = events.read(ctx, None)
    paid = make_link(ctx, amounts=("75.17",))
    denied = make_link(ctx, amounts=("20.00",))
    receive_notification(ctx, str_response(notification_xml(paid.reference, amount="75.17")))
    receive_notification(ctx, str_response(notification_xml(
        denied.reference, amount="20.00", response="denied", auth="", cd_error="11",
        nb_error="Tarjeta declinada")))
    receive_notification(ctx, str_response(notification_xml("NOBODY-123", amount="5.00")))
    found, _ = events.read(ctx, cursor)
    got = [(e.kind, e.reference) for e in found]
    assert got == [
        (events.PAYMENT_APPROVED, paid.reference),
        (events.PAYMENT_DENIED, denied.reference),
        (events.REVIEW_ADDED, "NOBODY-123"),
    ]
    approved, refused, review = found
    assert approved.data["authorization"] == "426426" and approved.policy
    assert refused.data["nb_error"] == "Tarjeta declinada" and refused.data["cd_error"] == "11"
    assert review.data["reason"] == "unknown_reference"
