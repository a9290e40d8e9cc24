"""Reconciliation (issue 16): the payments whose notification never arrived, found with MIT's
transaction query and fed through the same store-then-apply path, with the same exactly-once
identity (operation number = folio). Against the sandbox's endpoint and MIT's published
answer; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import pytest

from paylink_tui.cli import main
from paylink_tui.gateway.crypto import decrypt, encrypt
from paylink_tui.gateway.mit_query import fault_envelope
from paylink_tui.services import notifications as svc
from paylink_tui.services import reconcile as rec
from tests.gateway.test_mit_query import MIT_SAMPLE, gateway_for, mit_envelope
from tests.helpers import ScriptedMIT
from tests.notifications.support import (
    all_notifications,
    attempts,
    confirmations,
    link_row,
    make_link,
    notification_of,
    notification_xml,
    str_response,
)

KEY = "5DCC67393750523CD165F17E1EFADD21"
EMPTY = "<transacciones></transacciones><transaccionesCautM></transaccionesCautM>"


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


def asked(scripted: ScriptedMIT) -> list[tuple[str, str]]:
    """(reference, dd/mm/yyyy) of every query MIT received, decrypted."""
    out = []
    for _, body in scripted.requests:
        call = ET.fromstring(body).find("{http://schemas.xmlsoap.org/soap/envelope/}Body/"
                                        "{http://wstrans.cpagos}transacciones")
        fragment = decrypt(call.find("{http://wstrans.cpagos}in1").text, KEY)
        out.append((re.search("<reference>(.*)</reference>", fragment).group(1),
                    re.search("<date>(.*)</date>", fragment).group(1)))
    return out


@pytest.fixture
def scripted(ctx, serve):  # type: ignore[no-untyped-def]
    mit = ScriptedMIT()
    mit.answer(mit_envelope(encrypt(EMPTY, KEY)))
    ctx.gateway = gateway_for(serve(mit.app()).url)
    yield mit
    ctx.gateway.close()


def test_found_by_reconcile_first_then_notified_is_one_payment_and_one_email(confirming_ctx,
                                                                            mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)  # our server was down: the notification never came
    report = rec.reconcile(ctx)
    assert report.answered and report.links == 1
    [found] = report.found
    assert (found.operation, found.status, found.duplicate) == (payment.folio, "applied", False)
    paid = link_row(ctx, link.reference)
    assert (paid.state, paid.folio, paid.authorization) == ("paid", payment.folio, payment.auth)
    # Then MIT's notification arrives after all: the same payment, nothing changes.
    late = receive(ctx, notification_of(link, payment))
    assert late.duplicate and late.status == "applied"
    assert svc.confirm_due(ctx).applied == 0
    assert len(all_notifications(ctx)) == 1
    assert len(attempts(ctx, link.id)) == 1 and len(confirmations(ctx)) == 1
    [n] = all_notifications(ctx)
    assert n.source == "reconcile" and n.confirmed_at is not None


def test_notified_first_then_found_changes_nothing(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    receive(ctx, notification_of(link, payment))
    assert svc.confirm_due(ctx).applied == 1
    report = rec.reconcile(ctx)
    assert report.links == 0  # paid: nothing to ask about
    assert rec.reconcile(ctx, day=date(2021, 10, 7)).found == []
    assert len(all_notifications(ctx)) == 1 and len(confirmations(ctx)) == 1


def test_a_denial_notified_first_then_found_changes_nothing(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)  # still payable after a denial: reconcile asks about it
    denied = mit.take(link, card="4000 0000 0000 0002")
    receive(ctx, notification_of(link, denied))
    [found] = rec.reconcile(ctx).found
    assert (found.operation, found.duplicate, found.status) == (denied.folio, True, "applied")
    assert len(all_notifications(ctx)) == 1 and len(attempts(ctx, link.id)) == 1
    assert link_row(ctx, link.reference).state == "active"


def test_an_approval_waiting_for_confirmation_is_confirmed_by_what_reconcile_finds(
        confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    payment = mit.take(link)
    receive(ctx, notification_of(link, payment))  # stored, waiting; not asked about yet
    [found] = rec.reconcile(ctx).found
    assert (found.duplicate, found.confirmed_waiting, found.status) == (True, True, "applied")
    assert link_row(ctx, link.reference).state == "paid"
    assert svc.confirm_due(ctx).applied == 0  # nothing left waiting
    assert len(attempts(ctx, link.id)) == 1 and len(confirmations(ctx)) == 1


def test_a_denied_transaction_is_recorded_and_the_link_stays_active(confirming_ctx, mit):
    ctx = confirming_ctx
    link = make_link(ctx)
    mit.take(link, card="4000 0000 0000 0002")
    [found] = rec.reconcile(ctx).found
    assert (found.response, found.status) == ("denied", "applied")
    assert link_row(ctx, link.reference).state == "active"
    [attempt] = attempts(ctx, link.id)
    assert attempt.result == "denied" and attempt.cd_error


def test_a_transaction_for_an_unknown_reference_is_kept_for_review(ctx, scripted):
    make_link(ctx)
    stranger = MIT_SAMPLE.replace("<nu_operaion>000450723", "<nu_operaion>000450799")
    scripted.answer(mit_envelope(encrypt(stranger, KEY)))
    report = rec.reconcile(ctx)
    [found] = report.found
    assert (found.reference, found.status, found.reason) == (
        "REF-18092014-021", "review", "unknown_reference")
    [item] = svc.list_review(ctx)
    assert item.folio == "450799"


def test_mits_published_answer_pays_our_link_once_whatever_the_zeros(ctx, scripted, clock):
    clock.set(datetime(2014, 9, 18, 15, 0, tzinfo=timezone.utc))
    link = make_link(ctx, reference="REF-18092014-021", amounts=("10.05",))
    scripted.answer(mit_envelope(encrypt(MIT_SAMPLE, KEY)))
    clock.set(datetime(2014, 9, 19, 15, 0, tzinfo=timezone.utc))
    [found] = rec.reconcile(ctx).found
    assert (found.operation, found.status) == ("450723", "applied")
    paid = link_row(ctx, link.reference)
    assert (paid.state, paid.folio, paid.authorization) == ("paid", "450723", "551445")
    # MIT's notification, its folio written with the zeros: the same payment, not a second
    # approval (which would be reviewed as a possible double charge).
    receive(ctx, notification_xml(link.reference, folio="000450723", amount="10.05",
                                  date="18/09/14", time="14:29:00", auth="551445"))
    svc.confirm_due(ctx)
    late = all_notifications(ctx)[-1]
    assert (late.folio, late.status, late.review_reason) == ("000450723", "applied", None)
    assert "mismo pago" in late.note
    assert link_row(ctx, link.reference).folio == "450723"
    assert svc.list_review(ctx) == [] and len(confirmations(ctx)) == 1
    assert len(attempts(ctx, link.id)) == 1


@pytest.mark.parametrize("answer,status", [
    (mit_envelope(encrypt(EMPTY, KEY)), 200),
])
def test_an_empty_answer_finds_nothing_and_is_not_a_failure(ctx, scripted, answer, status):
    make_link(ctx)
    scripted.answer(answer, status)
    report = rec.reconcile(ctx)
    assert report.answered and report.found == [] and report.queries == 1


@pytest.mark.parametrize("answer,status", [
    (fault_envelope("soap:Client", "Usuario inválido"), 500),
    ("no es SOAP", 200),
    ("", 200),
])
def test_a_fault_garbage_or_an_empty_body_is_a_failure_to_ask(ctx, scripted, answer, status):
    link = make_link(ctx)
    scripted.answer(answer, status)
    report = rec.reconcile(ctx)
    assert not report.answered and report.failed == 1 and report.errors
    assert link_row(ctx, link.reference).state == "active"


def test_refunds_and_automatic_charges_are_not_fed(ctx, scripted):
    link = make_link(ctx)
    refund = MIT_SAMPLE.replace("REF-18092014-021", link.reference).replace(
        "10.05", "75.17").replace("VENTA", "DEVOLUCION")
    scripted.answer(mit_envelope(encrypt(refund, KEY)))
    report = rec.reconcile(ctx)
    assert (report.found, report.ignored) == ([], 1)
    assert link_row(ctx, link.reference).state == "active"


def test_which_links_are_asked_about_and_on_which_days(ctx, scripted, clock):
    """Generated 07/10 (valid through 10/10, grace day 11/10): every day from 07/10 to today."""
    active = make_link(ctx)
    cancelled = make_link(ctx, state="cancelled")
    unconfirmed = make_link(ctx, state="unconfirmed")
    paid = make_link(ctx, state="paid")
    creating = make_link(ctx, state="creating")
    clock.advance(days=2)  # 09/10 local
    rec.reconcile(ctx)
    days_asked = {ref: sorted(d for r, d in asked(scripted) if r == ref)
                  for ref in (active.reference, cancelled.reference, unconfirmed.reference,
                              paid.reference, creating.reference)}
    assert days_asked[active.reference] == ["07/10/2021", "08/10/2021", "09/10/2021"]
    assert days_asked[cancelled.reference] == days_asked[active.reference]
    assert days_asked[unconfirmed.reference] == days_asked[active.reference]
    assert days_asked[paid.reference] == days_asked[creating.reference] == []
    # On the grace day (11/10): asked through the last valid day; from 12/10, no longer.
    scripted.requests.clear()
    clock.advance(days=2)
    rec.reconcile(ctx)
    assert sorted(d for r, d in asked(scripted) if r == active.reference) == [
        "07/10/2021", "08/10/2021", "09/10/2021", "10/10/2021"]
    scripted.requests.clear()
    clock.advance(days=1)
    assert rec.reconcile(ctx).links == 0
    # --fecha: the links that could have been paid that day, that day only.
    scripted.requests.clear()
    report = rec.reconcile(ctx, day=date(2021, 10, 8))
    assert report.links == 3
    assert {d for _, d in asked(scripted)} == {"08/10/2021"}


def test_serve_reconciles_links_about_to_lapse_once_per_interval(ctx, scripted, clock):
    interval = timedelta(minutes=30)
    fresh = make_link(ctx)  # last valid day 10/10: not yet
    unconfirmed = make_link(ctx, state="unconfirmed")
    assert {a.reference for a in rec.claim_due(ctx, interval=interval)} == {
        unconfirmed.reference}
    assert rec.claim_due(ctx, interval=interval) == []  # claimed for the interval
    clock.advance(days=3)  # 10/10: the last valid day of both
    report = rec.reconcile_due(ctx, interval=interval)
    assert (report.links, report.queries) == (2, 8)  # 07/10 to 10/10, each
    assert {r for r, _ in asked(scripted)} == {fresh.reference, unconfirmed.reference}
    assert rec.claim_due(ctx, interval=interval) == []
    clock.advance(minutes=31)
    assert {a.reference for a in rec.claim_due(ctx, interval=interval)} == {
        fresh.reference, unconfirmed.reference}


def test_a_link_whose_query_failed_is_asked_again_after_a_few_minutes(ctx, scripted, clock):
    interval = timedelta(minutes=30)
    link = make_link(ctx, state="unconfirmed")
    scripted.answer("garbage")
    assert rec.reconcile_due(ctx, interval=interval).failed == 1
    assert rec.claim_due(ctx, interval=interval) == []
    clock.advance(minutes=6)
    [again] = rec.claim_due(ctx, interval=interval)
    assert again.reference == link.reference


async def test_the_serve_loop_finds_a_payment_by_itself(confirming_ctx, mit, clock):
    from paylink_tui.web.loops import reconcile_loop

    ctx = confirming_ctx
    link = make_link(ctx)
    mit.take(link)
    clock.advance(days=3)  # its last valid day
    task = asyncio.create_task(reconcile_loop(ctx, 30, first_delay=0, every=0.05))
    try:
        for _ in range(200):
            if await asyncio.to_thread(lambda: link_row(ctx, link.reference).state) == "paid":
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert link_row(ctx, link.reference).state == "paid"
    assert len(confirmations(ctx)) == 1


def test_without_a_query_url_reconcile_says_which_setting_is_missing(ctx):
    from paylink_tui.gateway.errors import GatewayNotConfigured

    with pytest.raises(GatewayNotConfigured) as caught:
        rec.reconcile(ctx)
    assert "PAYLINK_MIT_QUERY_URL" in caught.value.message


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def env_for(monkeypatch):  # type: ignore[no-untyped-def]
    def apply(url: str, **extra: str) -> None:
        values = {"PAYLINK_DATABASE_URL": url, "PAYLINK_GATEWAY": "sandbox",
                  "PAYLINK_AGENT": "supervisora", "PAYLINK_SMTP_HOST": "127.0.0.1",
                  "PAYLINK_SMTP_PORT": "1", "COLUMNS": "250", **extra}
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return apply


def test_reconcile_command_prints_what_it_found_and_applied(ctx, database_url, mit, env_for,
                                                            capsys, clock):
    env_for(database_url, PAYLINK_MIT_GEN_URL=f"{mit.url}/gen",
            PAYLINK_MIT_QUERY_URL=mit.query_url)
    clock.set(datetime.now(timezone.utc))  # the command runs on the real clock
    link = make_link(ctx)
    payment = mit.take(link)
    assert main(["reconcile"]) == 0
    out = capsys.readouterr().out
    assert link.reference in out and payment.folio in out and "Aplicada" in out
    assert "Se consultaron 1 liga(s) en 1 consulta(s) a MIT" in out
    assert "1 aplicada(s)" in out
    assert link_row(ctx, link.reference).state == "paid"
    assert main(["reconcile", "--fecha", "07/10/2021"]) == 0
    assert "Se consultaron 0 liga(s) del 07/10/2021" in capsys.readouterr().out
    assert len(confirmations(ctx)) == 1


def test_reconcile_command_fails_clearly_when_mit_cannot_be_asked(ctx, database_url, env_for,
                                                                 capsys, clock):
    from tests.helpers import closed_port

    env_for(database_url, PAYLINK_MIT_QUERY_URL=f"http://127.0.0.1:{closed_port()}/x")
    clock.set(datetime.now(timezone.utc))
    make_link(ctx)
    assert main(["reconcile"]) == 1
    err = capsys.readouterr().err
    assert "MIT no respondió 1 de 1 consulta(s)" in err and "Traceback" not in err


def test_reconcile_command_without_a_query_url_names_the_setting(ctx, database_url, env_for,
                                                                capsys):
    env_for(database_url)
    with pytest.raises(SystemExit) as exc:
        main(["reconcile"])
    assert exc.value.code == 2
    assert "PAYLINK_MIT_QUERY_URL" in capsys.readouterr().err
