"""The outbox on both engines: queued in the caller's transaction, delivered at least once
to a real SMTP server on loopback, retried with backoff, resent on demand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select

from paylink_tui.mail.errors import HeaderInjection, InvalidAddress
from paylink_tui.mail.server import MailDrop
from paylink_tui.mail.transport import SmtpTransport
from paylink_tui.services.outbox import (
    backoff_delay,
    deliver_due,
    email_status_label,
    queue_confirmation_email,
    queue_link_email,
    resend,
)
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import EmailMessage, PaymentLink

from .conftest import RefuseRecipient, free_port, parse_eml, parts, seed_link

pytestmark = pytest.mark.postgres


def queue_link(ctx, **seed) -> int:
    with write_session(ctx.engine) as session:
        link = seed_link(session, ctx.now(), **seed)
        row = queue_link_email(session, ctx, link, ctx.now())
        return row.id


def load(ctx, email_id: int) -> EmailMessage:
    with read_session(ctx.engine) as session:
        row = session.get(EmailMessage, email_id)
    assert row is not None
    return row


def all_rows(ctx) -> list[EmailMessage]:
    with read_session(ctx.engine) as session:
        return list(session.exec(select(EmailMessage).order_by(EmailMessage.id)).all())


def test_queue_link_email_stores_a_rendered_queued_message(make_ctx, clock):
    ctx = make_ctx(free_port())
    row = load(ctx, queue_link(ctx, amounts=("75.17", "24.83")))
    assert row.kind == "link" and row.status == "queued" and row.attempts == 0
    assert row.to_addr == "jose.pena@cliente.example.mx"
    assert row.from_addr == "pagopoliza@mitec.com.mx" and row.from_name == "AXA"
    assert row.reply_to == "juan.perez@agentes.example.mx"
    assert row.subject == "Liga de pago de su póliza 123456"
    assert row.message_id.startswith("<") and row.message_id.endswith("@mitec.com.mx>")
    assert row.next_attempt_at == clock.now and row.created_at == clock.now
    assert row.link_id is not None
    # Generated 07/10/2021 local: valid through Sunday 10/10/2021.
    for body in (row.body_text, row.body_html):
        assert "José Peña Núñez" in body
        assert "domingo 10 de octubre de 2021" in body
        assert "123456-01" in body and "123456-02" in body
        assert "$ 75.17 MXN" in body and "$ 100.00 MXN" in body
    assert email_status_label(row.status) == "En cola"


def test_an_email_queued_in_a_rolled_back_transaction_does_not_exist(make_ctx):
    ctx = make_ctx(free_port())
    with pytest.raises(RuntimeError), write_session(ctx.engine) as session:
        link = seed_link(session, ctx.now())
        queue_link_email(session, ctx, link, ctx.now())
        raise RuntimeError("the link could not be saved")
    assert all_rows(ctx) == []


def test_a_bad_client_address_or_header_is_refused_before_anything_is_queued(make_ctx):
    ctx = make_ctx(free_port())
    with pytest.raises(InvalidAddress), write_session(ctx.engine) as session:
        link = seed_link(session, ctx.now(), email_addr="jose.pena.example.mx")
        queue_link_email(session, ctx, link, ctx.now())
    bad = make_ctx(free_port(), company="AXA\r\nBcc: victim@example.com")
    with pytest.raises(HeaderInjection), write_session(bad.engine) as session:
        link = seed_link(session, bad.now())
        queue_link_email(session, bad, link, bad.now())
    assert all_rows(ctx) == []


def test_deliver_due_sends_the_link_email_once_and_marks_it_sent(make_ctx, mail_drop, clock):
    ctx = make_ctx(mail_drop.port)
    email_id = queue_link(ctx)
    report = deliver_due(ctx)
    assert (report.sent, report.failed, report.errors) == (1, 0, [])
    row = load(ctx, email_id)
    assert row.status == "sent" and row.sent_at == clock.now and row.claimed_until is None
    assert email_status_label(row.status) == "Enviado"

    [eml] = mail_drop.messages()
    got = parse_eml(eml)
    assert got["Message-ID"] == row.message_id
    assert got["Subject"] == "Liga de pago de su póliza 123456"
    assert got["From"].addresses[0].display_name == "AXA"
    assert got["From"].addresses[0].addr_spec == "pagopoliza@mitec.com.mx"
    assert got["Reply-To"].addresses[0].addr_spec == "juan.perez@agentes.example.mx"
    text, html = parts(got)
    url = "https://sandbox.example.mx/pago?ref=100633640472806&x=1"
    assert url in text and url.replace("&", "&amp;") in html
    assert "Estimado(a) José Peña Núñez" in text and "José Peña Núñez" in html
    assert "domingo 10 de octubre de 2021" in text and "domingo 10 de octubre de 2021" in html
    assert ">Liga de pago</a>" in html

    # Nothing is due any more: a second run sends nothing.
    assert deliver_due(ctx).sent == 0
    assert len(mail_drop.messages()) == 1


def test_the_confirmation_carries_the_payment_details(make_ctx, mail_drop, clock):
    ctx = make_ctx(mail_drop.port)
    with write_session(ctx.engine) as session:
        link = seed_link(session, ctx.now())
        link.state = "paid"
        link.paid_at = dt.datetime(2021, 10, 7, 21, 4, 56, tzinfo=dt.timezone.utc)
        link.authorization = "426426"
        link.folio = "F-99"
        link.card_mask = "411111******1111"
        session.add(link)
        email_id = queue_confirmation_email(session, ctx, link, ctx.now()).id
    assert deliver_due(ctx, ids=[email_id]).sent == 1
    got = parse_eml(mail_drop.messages()[0])
    assert got["From"].addresses[0].addr_spec == "notificaciones@mitec.com.mx"
    text, html = parts(got)
    for part in (text, html):
        for needle in ("Aprobado", "AXA", "100633640472806", "07/10/21 16:04:56", "426426",
                       "$ 75.17 MXN", "411111******1111"):
            assert needle in part


def test_with_the_server_down_then_up_exactly_one_message_arrives(make_ctx, clock, tmp_path):
    port = free_port()
    ctx = make_ctx(port)
    email_id = queue_link(ctx)

    report = deliver_due(ctx)
    assert (report.sent, report.failed) == (0, 1)
    assert "conexión rechazada" in report.errors[0]
    row = load(ctx, email_id)
    assert row.status == "failed" and row.attempts == 1
    assert email_status_label(row.status) == "Error de envío (reintentando)"
    assert "conexión rechazada" in row.last_error
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=30)
    assert row.claimed_until is None

    with MailDrop(tmp_path / "drop", port=port) as drop:
        # Not due yet: nothing is tried even though the server is back.
        assert deliver_due(ctx).sent == 0
        assert drop.messages() == []
        clock.advance(seconds=30)
        assert deliver_due(ctx).sent == 1
        assert deliver_due(ctx).sent == 0
        clock.advance(hours=2)
        assert deliver_due(ctx).sent == 0
        [eml] = drop.messages()
    row = load(ctx, email_id)
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None
    assert parse_eml(eml)["Message-ID"] == row.message_id


def test_failures_back_off_30s_1m_2m_5m_10m_30m_then_hourly(make_ctx, clock):
    ctx = make_ctx(free_port())
    email_id = queue_link(ctx)
    waits = []
    for _ in range(8):
        assert deliver_due(ctx).failed == 1
        row = load(ctx, email_id)
        waits.append(int((row.next_attempt_at - clock.now).total_seconds()))
        clock.set(row.next_attempt_at)
    assert waits == [30, 60, 120, 300, 600, 1800, 3600, 3600]
    assert load(ctx, email_id).attempts == 8
    assert backoff_delay(20) == dt.timedelta(hours=1)


def test_a_refused_recipient_stays_visible_as_failed_and_waits_an_hour(make_ctx, clock, tmp_path):
    with MailDrop(tmp_path / "drop", handler=RefuseRecipient()) as drop:
        ctx = make_ctx(drop.port)
        email_id = queue_link(ctx)
        report = deliver_due(ctx)
    assert report.failed == 1
    row = load(ctx, email_id)
    assert row.status == "failed"
    assert "rechazó al destinatario jose.pena@cliente.example.mx" in row.last_error
    assert row.next_attempt_at == clock.now + dt.timedelta(hours=1)


def test_deliver_due_with_ids_sends_only_those(make_ctx, mail_drop):
    ctx = make_ctx(mail_drop.port)
    first = queue_link(ctx)
    second = queue_link(ctx, policy_number="777", reference="200000000000001",
                        email_addr="otra@cliente.example.mx")
    assert deliver_due(ctx, ids=[second]).sent == 1
    assert load(ctx, first).status == "queued"
    assert load(ctx, second).status == "sent"
    assert deliver_due(ctx, limit=10).sent == 1
    assert len(mail_drop.messages()) == 2


class Hook:
    """A transport around the real one that runs `before` / `after` the real send."""

    def __init__(self, inner, before=None, after=None) -> None:
        self.inner, self.before, self.after = inner, before, after
        self.calls = 0

    def send(self, msg) -> None:
        self.calls += 1
        if self.before:
            self.before()
        self.inner.send(msg)
        if self.after:
            self.after()


def test_a_row_being_sent_by_one_process_is_not_sent_by_another(make_ctx, mail_drop):
    ctx = make_ctx(mail_drop.port)
    other = make_ctx(mail_drop.port)  # another process on the same database
    queue_link(ctx)
    others: list = []
    ctx.mail_transport = Hook(SmtpTransport.from_settings(ctx.settings),
                              before=lambda: others.append(deliver_due(other)))
    assert deliver_due(ctx).sent == 1
    assert [(r.sent, r.failed) for r in others] == [(0, 0)]
    assert len(mail_drop.messages()) == 1


def test_two_processes_delivering_at_once_send_each_message_exactly_once(make_ctx, mail_drop):
    import threading

    ctx = make_ctx(mail_drop.port)
    ids = [queue_link(ctx, policy_number=f"P{i}", reference=f"30000000000000{i}") for i in range(8)]
    workers = [make_ctx(mail_drop.port) for _ in range(3)]
    reports: list = []
    errors: list = []

    def run(w) -> None:
        try:
            while True:  # each worker takes small batches until nothing is left
                r = deliver_due(w, limit=2)
                reports.append(r)
                if r.sent == 0 and r.failed == 0:
                    return
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(r.sent for r in reports) == 8 and sum(r.failed for r in reports) == 0
    got = sorted(parse_eml(p)["Message-ID"] for p in mail_drop.messages())
    assert got == sorted(load(ctx, i).message_id for i in ids)


def die() -> None:
    raise KeyboardInterrupt  # not an Exception: the process is going away


def test_a_process_killed_before_sending_loses_nothing(make_ctx, mail_drop, clock):
    ctx = make_ctx(mail_drop.port)
    email_id = queue_link(ctx)
    ctx.mail_transport = Hook(SmtpTransport.from_settings(ctx.settings), before=die)
    with pytest.raises(KeyboardInterrupt):
        deliver_due(ctx)
    assert mail_drop.messages() == []

    survivor = make_ctx(mail_drop.port)  # the next process
    assert deliver_due(survivor).sent == 0  # the dead claim still holds for a while
    clock.advance(minutes=2)
    assert deliver_due(survivor).sent == 1
    assert len(mail_drop.messages()) == 1
    assert load(ctx, email_id).status == "sent"


def test_a_process_killed_after_the_server_accepted_repeats_with_the_same_message_id(
    make_ctx, mail_drop, clock
):
    ctx = make_ctx(mail_drop.port)
    email_id = queue_link(ctx)
    ctx.mail_transport = Hook(SmtpTransport.from_settings(ctx.settings), after=die)
    with pytest.raises(KeyboardInterrupt):
        deliver_due(ctx)
    assert len(mail_drop.messages()) == 1
    assert load(ctx, email_id).status == "queued"  # the outcome was never recorded

    survivor = make_ctx(mail_drop.port)
    clock.advance(minutes=2)
    assert deliver_due(survivor).sent == 1
    first, second = (parse_eml(p) for p in mail_drop.messages())
    assert first["Message-ID"] == second["Message-ID"] == load(ctx, email_id).message_id
    assert first["Date"] == second["Date"]


def test_a_process_killed_mid_round_has_recorded_the_messages_sent_before(make_ctx, mail_drop):
    ctx = make_ctx(mail_drop.port)
    ids = [queue_link(ctx, policy_number=f"K{i}", reference=f"40000000000000{i}") for i in range(3)]
    sends = 0

    def third_dies() -> None:
        nonlocal sends
        sends += 1
        if sends == 3:
            die()

    ctx.mail_transport = Hook(SmtpTransport.from_settings(ctx.settings), after=third_dies)
    with pytest.raises(KeyboardInterrupt):
        deliver_due(ctx)
    assert len(mail_drop.messages()) == 3
    # Sent in one round, recorded together: the two before the crash are "sent" once.
    assert [(load(ctx, i).status, load(ctx, i).attempts) for i in ids] == [
        ("sent", 1), ("sent", 1), ("queued", 0)]


def test_resend_to_another_address_is_a_new_message_sent_now(make_ctx, mail_drop):
    ctx = make_ctx(mail_drop.port)
    email_id = queue_link(ctx)
    deliver_due(ctx)
    original = load(ctx, email_id)

    copy = resend(ctx, email_id, to="Jose.Otra@Correo.example.mx")
    assert copy.id != original.id
    assert copy.status == "sent"
    assert copy.to_addr == "Jose.Otra@correo.example.mx"
    assert copy.message_id != original.message_id
    assert (copy.subject, copy.body_text, copy.body_html, copy.link_id, copy.kind) == (
        original.subject, original.body_text, original.body_html, original.link_id, original.kind)
    assert load(ctx, email_id).to_addr == "jose.pena@cliente.example.mx"  # untouched
    first, second = (parse_eml(p) for p in mail_drop.messages())
    assert second["To"].addresses[0].addr_spec == "Jose.Otra@correo.example.mx"
    assert second["Message-ID"] == copy.message_id
    assert parts(first) == parts(second)


def test_resend_of_a_sent_message_to_the_same_address_gets_a_new_message_id(make_ctx, mail_drop):
    ctx = make_ctx(mail_drop.port)
    email_id = queue_link(ctx)
    deliver_due(ctx)
    copy = resend(ctx, email_id)
    assert copy.id != email_id and copy.message_id != load(ctx, email_id).message_id
    assert len(mail_drop.messages()) == 2


def test_resend_of_a_failing_message_retries_it_now(make_ctx, clock, tmp_path):
    port = free_port()
    ctx = make_ctx(port)
    email_id = queue_link(ctx)
    deliver_due(ctx)
    assert load(ctx, email_id).status == "failed"
    with MailDrop(tmp_path / "drop", port=port) as drop:
        # No waiting for the backoff; the same address typed again is not a new message.
        row = resend(ctx, email_id, to="JOSE.PENA@cliente.example.mx")
        [eml] = drop.messages()
    assert row.id == email_id and row.status == "sent"
    assert parse_eml(eml)["Message-ID"] == row.message_id
    assert len(all_rows(ctx)) == 1


def test_resend_to_an_invalid_address_is_refused_and_queues_nothing(make_ctx):
    ctx = make_ctx(free_port())
    email_id = queue_link(ctx)
    with pytest.raises(InvalidAddress):
        resend(ctx, email_id, to="jose@")
    assert [r.id for r in all_rows(ctx)] == [email_id]


def test_an_operator_template_is_used_for_queued_emails(make_ctx, tmp_path: Path):
    (tmp_path / "link_subject.txt").write_text("Pague su póliza {{ policy_number }} hoy\n",
                                               encoding="utf-8")
    ctx = make_ctx(free_port(), templates_dir=tmp_path)
    assert load(ctx, queue_link(ctx)).subject == "Pague su póliza 123456 hoy"


def test_a_link_without_url_cannot_be_emailed(make_ctx):
    from paylink_tui.mail.errors import MailError

    ctx = make_ctx(free_port())
    with pytest.raises(MailError) as err, write_session(ctx.engine) as session:
        link: PaymentLink = seed_link(session, ctx.now())
        link.url = None
        queue_link_email(session, ctx, link, ctx.now())
    assert "URL" in err.value.message


def test_a_message_whose_lease_lapsed_during_a_slow_batch_is_left_to_the_new_claimer(
    make_ctx, mail_drop, clock
):
    # One round claims two messages; the first send is so slow that the lease of the whole
    # batch runs out and another process takes the second message and sends it. The first
    # process must then skip it instead of sending it a second time.
    ctx = make_ctx(mail_drop.port)
    other = make_ctx(mail_drop.port)
    first = queue_link(ctx, policy_number="S1", reference="500000000000001")
    second = queue_link(ctx, policy_number="S2", reference="500000000000002")
    others: list = []

    def slow_first_send() -> None:
        if hook.calls == 1:
            clock.advance(minutes=10)  # longer than any lease
            others.append(deliver_due(other, ids=[second]))

    hook = Hook(SmtpTransport.from_settings(ctx.settings), before=slow_first_send)
    ctx.mail_transport = hook

    report = deliver_due(ctx)

    assert (report.sent, report.failed) == (1, 0) and hook.calls == 1
    assert [r.sent for r in others] == [1]
    assert [(load(ctx, i).status, load(ctx, i).attempts) for i in (first, second)] == [
        ("sent", 1), ("sent", 1)]
    got = sorted(parse_eml(p)["Message-ID"] for p in mail_drop.messages())
    assert got == sorted(load(ctx, i).message_id for i in (first, second))


def test_a_claim_taken_over_by_another_process_is_neither_renewed_nor_marked(make_ctx, clock):
    from paylink_tui.services import outbox

    ctx = make_ctx(free_port())
    email_id = queue_link(ctx)
    (claimed,), mine = outbox._claim(ctx, None, 10, clock())
    assert claimed == email_id
    clock.advance(minutes=10)  # our lease lapsed; another process claims the row
    (_,), theirs = outbox._claim(ctx, None, 10, clock())

    assert outbox._renew(ctx, email_id, mine) is None
    outbox._mark_sent(ctx, [(email_id, mine)])
    outbox._mark_failed(ctx, email_id, "Error de prueba.", False, mine)

    row = load(ctx, email_id)
    assert (row.status, row.attempts, row.last_error) == ("queued", 0, None)
    assert row.claimed_until == theirs
    # The new claimer's own token still works.
    renewed = outbox._renew(ctx, email_id, theirs)
    assert renewed is not None
    outbox._mark_sent(ctx, [(email_id, renewed)])
    assert load(ctx, email_id).status == "sent"
