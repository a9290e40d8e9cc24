"""A payment never waits on an email, and money is never applied silently (issue 12 §2):
- a confirmation that cannot be built (an address the mail step refuses) no longer makes the
  receiver answer 503 with the payment unapplied: the payment is applied, the email is kept
  as failed with its reason, and the agent is told;
- applying a held payment by hand to a link of another amount, or at an impossible time,
  needs an explicit confirmation naming both sides, and what is recorded and emailed is
  what MIT charged. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from paylink_tui.cli import main
from paylink_tui.services import notifications as svc
from paylink_tui.services.history import link_detail
from paylink_tui.store.db import read_session
from paylink_tui.store.models import AuditEvent
from paylink_tui.web.app import NOTIFY_PATH, create_app
from tests.notifications.support import (
    all_notifications,
    confirmations,
    events_told,
    link_row,
    make_link,
    notification_xml,
    receipts_of,
    str_response,
)

BAD = "muñoz@gmail.com"


def receive(ctx, xml: str) -> svc.Received:
    return svc.receive_notification(ctx, str_response(xml), deliver=False)


async def test_a_confirmation_that_cannot_be_built_never_holds_the_payment(ctx):
    link = make_link(ctx, email=BAD)
    app = create_app(ctx, deliver_interval=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://receptor") as client:
        resp = await client.post(NOTIFY_PATH, data={"strResponse": str_response(
            notification_xml(link.reference))})
    assert resp.status_code == 200  # was 503, "MIT will retry", and the link stayed Activa
    assert link_row(ctx, link.reference).state == "paid"
    assert [r.status for r in receipts_of(ctx, link.id)] == ["paid"]
    [email] = confirmations(ctx)
    assert (email.status, email.to_addr) == ("failed", BAD)
    assert "«ñ»" in email.last_error and BAD in email.last_error
    [n] = all_notifications(ctx)
    assert n.status == "applied" and "no se pudo enviar" in n.note
    # Visible with the link, and told with the payment.
    [shown] = link_detail(ctx, link.reference).emails
    assert shown.status == "failed" and shown.last_error == email.last_error
    [event] = events_told(ctx)
    assert (event.kind, event.data["email_problem"]) == ("payment_approved", email.last_error)
    with read_session(ctx.engine) as s:
        assert s.exec(select(AuditEvent).where(
            AuditEvent.action == "confirmation_failed")).first() is not None


def test_the_failed_confirmation_is_not_retried_before_the_longest_backoff(ctx, mailbox):
    from paylink_tui.services import outbox

    ctx.settings = ctx.settings.model_copy(update={"smtp_port": mailbox.port})
    link = make_link(ctx, email=BAD)
    receive(ctx, notification_xml(link.reference))
    assert outbox.deliver_due(ctx).sent == 0
    assert mailbox.messages() == []


def test_a_sender_setting_the_mail_step_refuses_does_not_hold_payments_either(ctx):
    ctx.settings = ctx.settings.model_copy(update={"notice_sender": "notificaciones"})
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference))
    assert got.status == "applied"
    assert link_row(ctx, link.reference).state == "paid"
    [email] = confirmations(ctx)
    assert email.status == "failed" and "notificaciones" in email.last_error


def test_a_template_that_does_not_render_does_not_hold_the_payment(ctx, tmp_path):
    (tmp_path / "confirmation.txt").write_text("{{ no_cierra ", encoding="utf-8")
    ctx.settings = ctx.settings.model_copy(update={"templates_dir": tmp_path})
    link = make_link(ctx)
    got = receive(ctx, notification_xml(link.reference))
    assert got.status == "applied"
    assert link_row(ctx, link.reference).state == "paid"
    assert confirmations(ctx) == []
    [event] = events_told(ctx)
    assert event.kind == "payment_approved" and event.data["email_problem"]


def test_applying_by_hand_to_a_link_with_a_bad_address_applies_and_says_what_to_do(ctx):
    link = make_link(ctx, email=BAD)
    held = receive(ctx, notification_xml("MAL-ESCRITA"))
    got = svc.apply_review(ctx, held.notification_id, reference=link.reference, agent="ana")
    assert link_row(ctx, link.reference).state == "paid"
    assert got.email_problem and "«ñ»" in got.email_problem
    told = svc.applied_message(held.notification_id, link.reference, got.status,
                               got.email_problem)
    assert "no se pudo enviar" in told and "Avísele por otro medio" in told
    assert "InvalidAddress" not in told and "Error" not in told


# -- applying by hand: a different amount or an impossible time ----------------------------------


def test_another_amount_is_refused_naming_both_then_applied_as_mit_charged(ctx):
    link = make_link(ctx, amounts=("905.98",))
    held = receive(ctx, notification_xml("DA-MAL", amount="1500.00"))
    with pytest.raises(svc.NeedsConfirmation) as caught:
        svc.apply_review(ctx, held.notification_id, reference=link.reference, agent="ana")
    assert "MIT cobró $ 1,500.00 MXN y la liga es por $ 905.98 MXN" in caught.value.message
    assert link_row(ctx, link.reference).state == "active"  # nothing changed
    got = svc.apply_review(ctx, held.notification_id, reference=link.reference, agent="ana",
                           accept_differences=True)
    assert got.status == "resolved"
    paid = link_row(ctx, link.reference)
    assert (paid.state, paid.amount, paid.paid_amount) == (
        "paid", Decimal("905.98"), Decimal("1500.00"))
    [email] = confirmations(ctx)
    assert "1,500.00" in email.body_text and "905.98" not in email.body_text
    with read_session(ctx.engine) as s:
        [event] = s.exec(select(AuditEvent).where(AuditEvent.action == "review_applied")).all()
    assert event.agent == "ana" and "aceptó" in event.detail and "1,500.00" in event.detail


@pytest.mark.parametrize("taken,words", [
    (datetime(2021, 10, 5, 15, 0, tzinfo=timezone.utc), "antes de que existiera la liga"),
    (datetime(2021, 10, 11, 15, 0, tzinfo=timezone.utc), "después de que la liga venciera"),
])
def test_an_impossible_time_needs_a_confirmation_naming_both_times(ctx, taken, words):
    link = make_link(ctx)  # 07/10/2021 16:04 local, valid through 10/10
    held = receive(ctx, notification_xml("OTRA-REF", taken_at=taken))
    with pytest.raises(svc.NeedsConfirmation) as caught:
        svc.apply_review(ctx, held.notification_id, reference=link.reference, agent="ana")
    assert words in caught.value.message
    assert ("07/10/2021 16:04" in caught.value.message
            or "domingo 10 de octubre de 2021" in caught.value.message)
    svc.apply_review(ctx, held.notification_id, reference=link.reference, agent="ana",
                     accept_differences=True)
    assert link_row(ctx, link.reference).state == "paid"


def test_a_payment_taken_before_the_link_existed_is_kept_for_review_on_arrival(ctx):
    link = make_link(ctx)
    got = receive(ctx, notification_xml(
        link.reference, taken_at=datetime(2021, 10, 6, 15, 0, tzinfo=timezone.utc)))
    assert (got.status, got.reason) == ("review", "taken_before_link")
    assert link_row(ctx, link.reference).state == "active"
    # A few minutes of difference between MIT's clock and ours is not "impossible".
    other = make_link(ctx)
    close = receive(ctx, notification_xml(
        other.reference, taken_at=datetime(2021, 10, 7, 21, 1, 0, tzinfo=timezone.utc)))
    assert close.status == "applied"


@pytest.fixture
def env_for(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    def apply(url: str) -> None:
        for name, value in {"PAYLINK_DATABASE_URL": url, "PAYLINK_GATEWAY": "sandbox",
                            "PAYLINK_AGENT": "supervisora", "PAYLINK_SMTP_HOST": "127.0.0.1",
                            "PAYLINK_SMTP_PORT": "1", "COLUMNS": "250"}.items():
            monkeypatch.setenv(name, value)
    return apply


def test_review_apply_command_refuses_another_amount_unless_told(ctx, database_url, env_for,
                                                                capsys):
    env_for(database_url)
    link = make_link(ctx, amounts=("905.98",))
    held = receive(ctx, notification_xml("DA-MAL", amount="1500.00"))
    with pytest.raises(SystemExit) as exc:
        main(["review", "apply", str(held.notification_id), "--link", link.reference])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "$ 1,500.00 MXN" in err and "$ 905.98 MXN" in err and "--aceptar-diferencia" in err
    assert link_row(ctx, link.reference).state == "active"
    assert main(["review", "apply", str(held.notification_id), "--link", link.reference,
                 "--aceptar-diferencia"]) == 0
    assert f"aplicada a la liga {link.reference}" in capsys.readouterr().out
    assert main(["history", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["links"]
    assert (row["amount"], row["payment"]["amount"]) == ("905.98", "1500.00")
