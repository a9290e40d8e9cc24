"""An approval counts only once MIT confirms it (issue 11): with PAYLINK_MIT_QUERY_URL set, an
approved notification is stored at once, "confirming", and applied only after MIT's
transaction query lists the same reference, folio, amount, approved. Against the sandbox's
endpoint (which answers from the payments it really took) and against MIT's published answer;
on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from paylink_tui.backend.local import LocalBackend
from paylink_tui.cli.history_cmd import history_data
from paylink_tui.domain.labels import LINK
from paylink_tui.domain.status import LinkStatus
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.gateway.mit_query import fault_envelope
from paylink_tui.services import notifications as svc
from paylink_tui.services.context import AppContext
from paylink_tui.services.history import link_detail, list_links
from paylink_tui.services.notifications import confirm as confirm_step
from paylink_tui.services.notifications import receive as receive_step
from paylink_tui.store.db import make_engine
from tests.gateway.test_mit_query import MIT_SAMPLE, gateway_for, mit_envelope
from tests.helpers import ScriptedMIT, closed_port
from tests.notifications.support import (
    all_notifications,
    attempts,
    confirmations,
    events_told,
    link_row,
    make_link,
    notification_of,
    notification_xml,
    settings_for,
    str_response,
)

KEY = "5DCC67393750523CD165F17E1EFADD21"


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


def paid_policy(ctx, link) -> str:  # type: ignore[no-untyped-def]
    from paylink_tui.store.db import read_session
    from paylink_tui.store.models import Policy

    with read_session(ctx.engine) as s:
        return s.get(Policy, link.policy_id).number


def status_of(ctx, reference: str) -> str:
    [row] = list_links(ctx, references=[reference])
    return row.status


def ask_until_settled(ctx, clock) -> svc.ConfirmReport:  # type: ignore[no-untyped-def]
    """What MIT's repeated "not listed" answers lead to: each turn asked when it is due."""
    total = svc.ConfirmReport()
    for delay in (0, *confirm_step.NOT_LISTED_DELAYS):
        clock.advance(seconds=delay)
        got = svc.confirm_due(ctx)
        total.waiting += got.waiting
        total.not_confirmed += got.not_confirmed
        total.applied += got.applied
    return total


def test_an_approval_waits_confirming_until_mit_lists_it_then_it_is_applied(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    got = receive(ctx, notification_of(link, payment))

    assert (got.status, got.reason, got.email_ids) == ("confirming", None, ())
    assert link_row(ctx, link.reference).state == "active"
    assert attempts(ctx, link.id) == [] and confirmations(ctx) == []
    assert svc.list_review(ctx) == []  # not for a person: MIT is being asked
    assert status_of(ctx, link.reference) == "confirming"
    [row] = history_data(LocalBackend(ctx))["links"]  # `history --format json`
    assert (row["status"], row["payment"]) == ("confirming", None)
    assert LINK[LinkStatus(row["status"])] == "Pago recibido, confirmando con MIT"
    detail = link_detail(ctx, link.reference)
    assert detail.notifications[0].status == "confirming"
    # The agents hear that a payment arrived, not that it was approved.
    [event] = events_told(ctx)
    assert (event.kind, event.reference, event.policy) == (
        "payment_received", link.reference, paid_policy(ctx, link))

    report = svc.confirm_due(ctx)
    assert report.applied == 1
    paid = link_row(ctx, link.reference)
    assert (paid.state, paid.folio, paid.authorization) == ("paid", payment.folio, payment.auth)
    assert paid.paid_amount == link.amount
    [n] = all_notifications(ctx)
    assert (n.status, n.confirmed_at is not None, n.confirm_claimed_until) == (
        "applied", True, None)
    assert len(confirmations(ctx)) == 1 and len(attempts(ctx, link.id)) == 1
    assert svc.confirm_due(ctx).applied == 0  # nothing left to ask about
    assert [e.kind for e in events_told(ctx)] == ["payment_received", "payment_approved"]


def test_a_correctly_encrypted_approval_mit_never_took_is_not_applied_and_ends_in_review(
        confirming_ctx, mit, clock, caplog):
    """The forged approval of the security review: encrypted with the right key, for a real
    link and its exact amount. MIT never took it, so it never counts."""
    ctx = confirming_ctx
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference, folio="450723"))
    assert got.status == "confirming"

    with caplog.at_level(logging.ERROR):
        report = ask_until_settled(ctx, clock)

    assert (report.applied, report.waiting, report.not_confirmed) == (
        0, confirm_step.NOT_LISTED_LIMIT - 1, 1)
    assert link_row(ctx, link.reference).state == "active"
    assert attempts(ctx, link.id) == [] and confirmations(ctx) == []
    [item] = svc.list_review(ctx)
    assert (item.reason, item.applied) == ("not_confirmed", False)
    assert item.reason_label == "MIT no confirma este pago (posible notificación falsa)"
    assert "450723" in item.note and "6 consultas" in item.note
    assert any("NOT CONFIRMED BY MIT" in r.getMessage() for r in caplog.records)
    assert [(e.kind, e.data.get("reason")) for e in events_told(ctx)] == [
        ("payment_received", None), ("review_added", "not_confirmed")]
    # The link shows it: something about it is por revisar.
    [row] = list_links(ctx, references=[link.reference])
    assert row.status == "active" and row.needs_review
    # And it cannot be applied by hand without saying so explicitly.
    with pytest.raises(svc.NeedsConfirmation) as caught:
        svc.apply_review(ctx, item.id, reference=link.reference, agent="ana")
    assert "MIT no ha confirmado este pago" in caught.value.message


def test_mit_listing_the_folio_later_confirms_it_on_a_later_turn(confirming_ctx, mit, clock):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    sandbox = mit.app.state.sandbox.state.by_reference[link.reference]
    listed = sandbox.payments[:]
    sandbox.payments.clear()  # MIT has not listed it yet
    receive(ctx, notification_of(link, payment))
    assert svc.confirm_due(ctx).waiting == 1
    assert svc.confirm_due(ctx).waiting == 0  # its next turn is 30 s away
    sandbox.payments.extend(listed)
    clock.advance(seconds=30)
    assert svc.confirm_due(ctx).applied == 1
    assert link_row(ctx, link.reference).state == "paid"


def test_a_different_amount_than_mit_charged_goes_to_review_at_once(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)  # $ 75.17
    payment = mit.take(link, amount=Decimal("7.50"))  # the client paid $ 7.50 at MIT
    receive(ctx, notification_of(link, payment))  # ...and the notification says $ 75.17
    report = svc.confirm_due(ctx)
    assert (report.applied, report.not_confirmed) == (0, 1)
    [item] = svc.list_review(ctx)
    assert item.reason == "not_confirmed"
    assert "$ 7.50 MXN" in item.note and "$ 75.17 MXN" in item.note
    assert link_row(ctx, link.reference).state == "active"


def test_a_different_folio_than_mit_lists_is_never_confirmed(confirming_ctx, mit, clock):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    receive(ctx, notification_of(link, payment, folio="1" + payment.folio))
    report = ask_until_settled(ctx, clock)
    assert (report.applied, report.not_confirmed) == (0, 1)
    assert link_row(ctx, link.reference).state == "active"


def test_a_denial_at_mit_notified_as_an_approval_goes_to_review(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    denied = mit.take(link, card="4000 0000 0000 0002")
    receive(ctx, notification_of(link, denied, response="approved", auth="123456"))
    assert svc.confirm_due(ctx).not_confirmed == 1
    [item] = svc.list_review(ctx)
    assert "rechazada" in item.note


def test_folio_with_leading_zeros_is_the_same_operation(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)  # MIT's query lists it zero-padded to nine digits
    receive(ctx, notification_of(link, payment, folio=payment.folio.rjust(9, "0")))
    assert svc.confirm_due(ctx).applied == 1


def test_a_denial_needs_no_confirmation_and_is_recorded_at_once(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference, response="denied", folio="9001"))
    assert got.status == "applied"
    assert [a.result for a in attempts(ctx, link.id)] == ["denied"]


@pytest.mark.parametrize("answer", ["down", "fault", "garbage", "empty", "undecryptable"])
def test_when_mit_cannot_be_asked_the_approval_waits_never_lost_never_applied(
        ctx, serve, clock, answer):
    """MIT down, a SOAP fault, garbage, an empty body, a key that does not fit: asked again
    a minute later, for as long as it takes — never sent to review for it, never applied."""
    scripted = ScriptedMIT()
    url = serve(scripted.app()).url if answer != "down" else f"http://127.0.0.1:{closed_port()}"
    scripted.answer({
        "down": "", "fault": fault_envelope("soap:Server", "Error interno"),
        "garbage": "<html>Mantenimiento</html>", "empty": "",
        "undecryptable": mit_envelope(encrypt(MIT_SAMPLE, "00112233445566778899AABBCCDDEEFF")),
    }[answer], status=500 if answer == "fault" else 200)
    ctx.gateway = gateway_for(url, timeout=2.0)
    link = make_link(ctx)
    receive(ctx, notification_xml(link.reference, folio="450723"))
    for _ in range(confirm_step.NOT_LISTED_LIMIT + 3):
        report = svc.confirm_due(ctx)
        assert (report.unreachable, report.not_confirmed, report.applied) == (1, 0, 0)
        assert report.errors and "más tarde" in report.errors[0]
        assert svc.confirm_due(ctx).unreachable == 0  # its next turn is a minute away
        clock.advance(seconds=60)
    [n] = all_notifications(ctx)
    assert (n.status, n.confirm_attempts) == ("confirming", 0)
    assert n.confirm_error and "MIT" in n.confirm_error
    assert link_detail(ctx, link.reference).notifications[0].confirm_error == n.confirm_error
    assert link_row(ctx, link.reference).state == "active"
    # MIT answers again, and lists it (its published answer, re-encrypted): applied.
    ctx.gateway.close()
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE.replace("REF-18092014-021", link.reference)
                                         .replace("10.05", "75.17"), KEY)))
    if answer == "down":
        ctx.gateway = gateway_for(serve(scripted.app()).url)
    else:
        ctx.gateway = gateway_for(url)
    assert svc.confirm_due(ctx).applied == 1
    assert link_row(ctx, link.reference).state == "paid"
    ctx.gateway.close()


@pytest.fixture
def published(ctx, serve, clock):  # type: ignore[no-untyped-def]
    """MIT answering exactly its published sample (re-encrypted with the sandbox key), and
    our link for it: REF-18092014-021, $ 10.05, generated that morning."""
    scripted = ScriptedMIT()
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE, KEY)))
    ctx.gateway = gateway_for(serve(scripted.app()).url)
    clock.set(datetime(2014, 9, 18, 15, 0, tzinfo=timezone.utc))  # 10:00 local
    link = make_link(ctx, reference="REF-18092014-021", amounts=("10.05",))
    clock.set(datetime(2014, 9, 18, 19, 30, tzinfo=timezone.utc))
    yield link
    ctx.gateway.close()


def published_notification(**changes: str) -> str:
    values = {"folio": "450723", "amount": "10.05", "auth": "551445"}
    values.update(changes)
    return notification_xml("REF-18092014-021", date="18/09/14", time="14:29:00", **values)


def test_mits_published_answer_confirms_the_matching_notification(ctx, published):
    receive(ctx, published_notification())
    assert svc.confirm_due(ctx).applied == 1
    assert link_row(ctx, published.reference).state == "paid"


@pytest.mark.parametrize("change,outcome", [
    ({"amount": "10.06"}, "not_confirmed"),  # another amount than MIT charged
    ({"folio": "450724"}, "waiting"),  # a folio MIT does not list
])
def test_mits_published_answer_does_not_confirm_another_amount_or_folio(ctx, published, change,
                                                                      outcome):
    receive(ctx, published_notification(**change))
    report = svc.confirm_due(ctx)
    assert report.applied == 0
    assert getattr(report, outcome) == 1
    assert link_row(ctx, published.reference).state == "active"


def test_the_same_notification_again_while_confirming_changes_nothing(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    first = receive(ctx, notification_of(link, payment))
    again = receive(ctx, notification_of(link, payment))
    assert (again.duplicate, again.status) == (True, "confirming")
    assert again.notification_id == first.notification_id
    svc.confirm_due(ctx)
    svc.confirm_due(ctx)
    assert len(attempts(ctx, link.id)) == 1 and len(confirmations(ctx)) == 1


def test_when_applying_fails_the_stored_alone_notification_is_still_held(confirming_ctx, mit,
                                                                        monkeypatch):
    """The fallback (store alone, then apply) must hold it too: never applied unconfirmed."""
    ctx = confirming_ctx
    link = make_link(ctx)

    def boom(*args, **kwargs):
        raise RuntimeError("apply failed")

    monkeypatch.setattr(receive_step, "_receive_in", boom)
    got = receive(ctx, notification_xml(link.reference, folio="450723"))
    assert got.status == "confirming"
    assert link_row(ctx, link.reference).state == "active"


def test_two_processes_confirming_at_once_apply_the_payment_once(database_url, clock, mit):
    contexts = []
    for _ in range(2):
        context = AppContext(settings=settings_for(database_url, mit_query_url=mit.query_url),
                             engine=make_engine(database_url), clock=clock)
        context.gateway = mit.gateway()
        contexts.append(context)
    links = [make_link(contexts[0]) for _ in range(6)]
    for link in links:
        receive(contexts[0], notification_of(link, mit.take(link)))
    start = threading.Barrier(2)
    reports: list[svc.ConfirmReport] = []

    def run(context: AppContext) -> None:
        start.wait(10)
        reports.append(svc.confirm_due(context, limit=3, deliver=False))
        reports.append(svc.confirm_due(context, limit=3, deliver=False))

    threads = [threading.Thread(target=run, args=(c,)) for c in contexts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.applied for r in reports) == len(links)
    for link in links:
        assert link_row(contexts[0], link.reference).state == "paid"
        assert len(attempts(contexts[0], link.id)) == 1
    assert len(confirmations(contexts[0])) == len(links)
    for context in contexts:
        context.gateway.close()
        context.engine.dispose()


MIT_ENV = {"PAYLINK_GATEWAY": "mit", "PAYLINK_MIT_GEN_URL": "https://u.mitec.com.mx/gen",
           "PAYLINK_MIT_DATA0": "SNDBX123", "PAYLINK_MIT_KEY": KEY,
           "PAYLINK_MIT_ID_COMPANY": "SNBX", "PAYLINK_MIT_ID_BRANCH": "01SNBXBRNCH",
           "PAYLINK_MIT_USER": "SNBXUSR0123", "PAYLINK_MIT_PASSWORD": "SECRETO"}


@pytest.mark.parametrize("query_url,warned", [
    (None, True), ("https://ssl.e-pago.com.mx/pgs/services/xmltransacciones", False)])
def test_serve_with_the_real_mit_says_what_running_without_the_query_costs(
        sqlite_url, monkeypatch, capsys, query_url, warned):
    import uvicorn

    from paylink_tui.cli import main

    for name, value in {**MIT_ENV, "PAYLINK_DATABASE_URL": sqlite_url}.items():
        monkeypatch.setenv(name, value)
    # `serve` logs to the stderr of the moment (this test's capture): not beyond this test.
    monkeypatch.setattr(logging.getLogger("paylink_tui"), "handlers", [])
    if query_url:
        monkeypatch.setenv("PAYLINK_MIT_QUERY_URL", query_url)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    assert main(["serve"]) == 0
    err = capsys.readouterr().err
    assert ("sin PAYLINK_MIT_QUERY_URL" in err and "pago falso" in err) is warned


def test_serve_refuses_a_plain_http_query_url_naming_it(sqlite_url, monkeypatch, capsys):
    from paylink_tui.cli import main

    for name, value in {**MIT_ENV, "PAYLINK_DATABASE_URL": sqlite_url,
                        "PAYLINK_MIT_QUERY_URL": "http://vip.e-pago.com.mx/x"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(logging.getLogger("paylink_tui"), "handlers", [])
    with pytest.raises(SystemExit) as exc:
        main(["serve"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "PAYLINK_MIT_QUERY_URL" in err and "https://" in err and KEY not in err
