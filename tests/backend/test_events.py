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
    """Transaction A writes its event first (lower id) but commits after B: a reader that saw
    B must still get A. On SQLite writers cannot overlap (BEGIN IMMEDIATE); on PostgreSQL the
    reader waits for A's transaction to end before reading past it."""
    _, cursor = events.read(ctx, None)
    if ctx.engine.dialect.name == "sqlite":
        _add(ctx, events.LINK_CHANGED, "A")
        _add(ctx, events.LINK_CHANGED, "B")
        assert [e.reference for e in events.read(ctx, cursor)[0]] == ["A", "B"]
        return
    a_wrote, release_a = threading.Event(), threading.Event()

    def slow_a() -> None:
        with write_session(ctx.engine) as session:
            events.record(session, at=ctx.now(), kind=events.LINK_CHANGED, reference="A")
            session.flush()
            a_wrote.set()
            release_a.wait(10)

    worker = threading.Thread(target=slow_a)
    worker.start()
    assert a_wrote.wait(10)
    _add(ctx, events.LINK_CHANGED, "B")  # B commits while A is still open
    seen: list[str] = []
    found, cursor = events.read(ctx, cursor)
    seen += [e.reference for e in found]
    assert "B" not in seen  # held back behind the open transaction
    release_a.set()
    worker.join(10)
    found, cursor = events.read(ctx, cursor)
    seen += [e.reference for e in found]
    assert sorted(seen) == ["A", "B"]
    with ctx.engine.connect() as conn:
        ids = conn.execute(text("SELECT reference, id FROM event ORDER BY id")).all()
    assert [r for r, _ in ids] == ["A", "B"]  # A's id is the lower one: the case in point


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
