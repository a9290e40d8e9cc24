"""The portfolio rule in every use case (team mode), on SQLite and PostgreSQL: an agent sees,
links and exports only the receipts of their agent codes; another agent's receipt or link is
"not found", exactly as one that does not exist (also a link reference guessed from another
agent's policy number); receipts without a code are the supervisors'. Roles: the review
queue and cancelling another agent's link need supervisor; import needs administrador."""

from __future__ import annotations

import pytest

from paylink_tui.domain.errors import (
    Forbidden,
    LinkNotFound,
    ReceiptNotFound,
)
from paylink_tui.services import batch, events, history, link_advice, links, receipts, reminders
from tests.team.conftest import agent, supervisor

pytestmark = pytest.mark.postgres

ROWS = [("AU1", "R1", "A1"), ("AU1", "R2", "A1"), ("AU2", "R3", "B2"), ("AU3", "R4", None)]


@pytest.fixture
def agency(make_ctx, sandbox, import_portfolio):
    admin = make_ctx(mit_gen_url=sandbox.gen_url)
    import_portfolio(admin, ROWS)
    return {
        "admin": admin,
        "ana": admin.for_principal(agent("ana", "A1")),
        "beto": admin.for_principal(agent("beto", "B2")),
        "todo": admin.for_principal(agent("toni", "*")),
        "sara": admin.for_principal(supervisor()),
    }


def _ids(ctx, number):
    with ctx.engine.connect() as conn:
        from sqlalchemy import text

        return conn.execute(text("SELECT id FROM receipt WHERE number = :n"),
                            {"n": number}).scalar_one()


def _pending(ctx, search=""):
    return sorted(r.receipt for r in receipts.pending_page(ctx, search=search).rows)


def test_the_pending_list_its_totals_search_and_export_hold_the_portfolio_only(agency):
    assert _pending(agency["admin"]) == ["R1", "R2", "R3", "R4"]  # one-agent mode: all
    assert _pending(agency["sara"]) == ["R1", "R2", "R3", "R4"]
    assert _pending(agency["ana"]) == ["R1", "R2"]
    assert _pending(agency["beto"]) == ["R3"]
    assert _pending(agency["todo"]) == ["R1", "R2", "R3"]  # "*": every code, not code-less
    assert _pending(agency["ana"], "au2") == [] and _pending(agency["beto"], "au2") == ["R3"]
    assert _pending(agency["ana"], "peña") == ["R1", "R2"]
    assert receipts.pending_totals(agency["ana"]).count == 2
    assert receipts.pending_totals(agency["beto"], search="au1").count == 0
    assert str(receipts.pending_totals(agency["beto"]).amounts["MXN"]) == "75.17"
    assert sorted(r.receipt for r in receipts.iter_pending(agency["beto"])) == ["R3"]
    none = agency["admin"].for_principal(agent("nadie"))  # no code at all: nothing
    assert _pending(none) == [] and receipts.pending_totals(none).count == 0


def test_receipt_detail_of_another_portfolio_is_not_found(agency):
    r3 = _ids(agency["admin"], "R3")
    assert receipts.receipt_detail(agency["beto"], r3) is not None
    assert receipts.receipt_detail(agency["ana"], r3) is None
    assert receipts.receipt_detail(agency["ana"], 999_999) is None  # the same answer
    assert receipts.receipt_detail(agency["todo"], _ids(agency["admin"], "R4")) is None
    assert receipts.receipt_detail(agency["sara"], _ids(agency["admin"], "R4")) is not None


def test_generating_or_previewing_for_another_portfolio_is_not_found(agency, sandbox):
    for call in (
        lambda c, **kw: links.generate_link(c, email="cliente@example.com", **kw),
        lambda c, **kw: link_advice.link_preview(c, **kw),
    ):
        with pytest.raises(ReceiptNotFound) as theirs:
            call(agency["ana"], receipt_numbers=["R3"])
        with pytest.raises(ReceiptNotFound) as unknown:
            call(agency["ana"], receipt_numbers=["R9"])
        assert theirs.value.message == unknown.value.message.replace("R9", "R3")
        with pytest.raises(ReceiptNotFound) as theirs:
            call(agency["ana"], policy_number="AU2")
        with pytest.raises(ReceiptNotFound) as unknown:
            call(agency["ana"], policy_number="AU9")
        assert theirs.value.message == unknown.value.message.replace("AU9", "AU2")
    assert sandbox.counter.calls == 0
    made = links.generate_link(agency["ana"], receipt_numbers=["R1"], email="c@example.com")
    assert made.receipt_numbers == ("R1",)


def test_another_agents_link_is_not_found_for_every_link_use_case(agency, clock):
    made = links.generate_link(agency["beto"], receipt_numbers=["R3"], email="c@example.com",
                               agent="beto")
    ref = made.reference
    ana = agency["ana"]
    assert history.link_detail(ana, ref) is None
    assert history.link_detail(agency["beto"], ref) is not None
    assert [r.reference for r in history.list_links(agency["beto"])] == [ref]
    assert history.list_links(ana) == [] and history.list_links(ana, search=ref) == []
    for call in (lambda: links.cancel_link(ana, ref, agent="ana"),
                 lambda: links.retry_link(ana, ref, agent="ana"),
                 lambda: links.resend_link_email(ana, ref, agent="ana"),
                 lambda: reminders.set_reminders(ana, ref, enabled=False, agent="ana")):
        with pytest.raises(LinkNotFound) as caught:
            call()
        assert caught.value.message == f"No existe una liga con la referencia {ref}."
    # The reference is made from the other agent's policy number, so it can be guessed: the
    # real one, known or guessed, is answered exactly as one that does not exist.
    assert ref.startswith("AU2-")
    with pytest.raises(LinkNotFound) as unknown:
        links.cancel_link(ana, ref + "X", agent="ana")
    assert unknown.value.message == f"No existe una liga con la referencia {ref}X."
    # The summary counts the portfolio's links only.
    assert history.summary(ana).sent_today == 0
    assert history.summary(agency["beto"]).sent_today == 1
    assert history.summary(agency["sara"]).sent_today == 1


def test_batch_and_its_search_hold_the_portfolio_only(agency):
    plan = batch.batch_preview(agency["ana"], receipt_numbers=["R1", "R3", "R4"])
    assert [link.policy for link in plan.links] == ["AU1"]
    skipped = {s.receipt: s.reason for s in plan.skipped}
    assert skipped == {"R3": batch.SKIP_NOT_FOUND, "R4": batch.SKIP_NOT_FOUND}
    assert [link.policy for link in batch.batch_preview(agency["beto"], search="peña").links] \
        == ["AU2"]


def test_events_of_another_portfolio_are_not_read_and_the_cursor_moves_past_them(agency):
    start = events.current_cursor(agency["admin"])
    links.generate_link(agency["beto"], receipt_numbers=["R3"], email="c@example.com")
    found, cursor = events.read(agency["ana"], start)
    assert found == [] and int(cursor) > int(start)  # skipped over, not re-read
    found, _ = events.read(agency["beto"], start)
    assert [e.policy for e in found] == ["AU2"]
    links.generate_link(agency["ana"], receipt_numbers=["R1"], email="c@example.com")
    found, _ = events.read(agency["ana"], cursor)
    assert [e.policy for e in found] == ["AU1"]


def test_cancelling_another_agents_link_of_the_same_portfolio_needs_a_supervisor(agency):
    shared = agency["admin"].for_principal(agent("alba", "A1"))
    made = links.generate_link(agency["ana"], receipt_numbers=["R1"], email="c@example.com",
                               agent="ana")
    with pytest.raises(Forbidden):
        links.cancel_link(shared, made.reference, agent="alba")
    links.cancel_link(agency["sara"], made.reference, agent="sara")
    row = history.link_detail(agency["sara"], made.reference)
    assert row.link.status == "cancelled"
    from sqlalchemy import text

    with agency["admin"].engine.connect() as conn:
        assert conn.execute(text("SELECT cancelled_by FROM payment_link")).scalar_one() == "sara"
        assert conn.execute(text("SELECT agent FROM audit_event WHERE action = "
                                 "'link_cancelled'")).scalar_one() == "sara"


def test_the_review_queue_is_a_supervisors_and_import_an_administradors(agency, tmp_path):
    from paylink_tui.services import notifications
    from paylink_tui.services.importing import import_file

    for who in ("ana", "todo"):
        with pytest.raises(Forbidden):
            notifications.list_review(agency[who])
        with pytest.raises(Forbidden):
            notifications.dismiss_review(agency[who], 1, note="x", agent=who)
        with pytest.raises(Forbidden):
            notifications.apply_review(agency[who], 1, reference="X", agent=who)
    assert notifications.list_review(agency["sara"]) == []
    assert notifications.list_review(agency["admin"]) == []
    path = tmp_path / "x.csv"
    path.write_text("poliza,recibo,nombre,apellido_paterno,monto,vencimiento\n"
                    "AU7,R7,Ana,Ruiz,5.00,01/01/2024\n", encoding="utf-8")
    for who in ("ana", "sara"):
        with pytest.raises(Forbidden):
            import_file(agency[who], path)
    with pytest.raises(Forbidden):
        from paylink_tui.backend.local import LocalBackend

        LocalBackend(agency["sara"]).import_file(path)
    assert _pending(agency["sara"], "au7") == []


def test_reconcile_asks_about_the_portfolios_links_only(agency):
    from paylink_tui.services.reconcile import _PL, OPEN_STATES, _select

    links.generate_link(agency["beto"], receipt_numbers=["R3"], email="c@example.com")
    links.generate_link(agency["ana"], receipt_numbers=["R1"], email="c@example.com")
    open_ = _PL.c.state.in_(OPEN_STATES)
    assert [x.reference.startswith("AU2") for x in _select(agency["beto"], open_)] == [True]
    assert len(_select(agency["sara"], open_)) == 2


def test_the_audit_trail_carries_the_signed_in_user(agency):
    from sqlalchemy import text

    from paylink_tui.backend.local import LocalBackend

    LocalBackend(agency["ana"]).generate_link(receipt_numbers=["R1"], email="c@example.com")
    with agency["admin"].engine.connect() as conn:
        who = conn.execute(text("SELECT agent FROM payment_link")).scalar_one()
        audited = set(conn.execute(text(
            "SELECT agent FROM audit_event WHERE action = 'link_generated'")).scalars())
    assert who == "ana" and audited == {"ana"}
    assert LocalBackend(agency["ana"]).identity().user == "ana"
