"""Reminders: an unpaid link's reminder email goes on its last valid day (PAYLINK_REMINDER_DAYS)
from PAYLINK_REMINDER_HOUR, never outside 07:00-22:00 local, once per link and day, through the
outbox (retried, never twice, also with several workers), never for a link paid, cancelled,
expired, marked "sin recordatorios" or whose email never arrived; recorded with the link.

A link generated 07/10/2021 16:04 local (the conftest clock) is valid through the 10th."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from paylink_tui.backend.local import LocalBackend
from paylink_tui.cli.history_cmd import history_data
from paylink_tui.config import ConfigError, load_settings
from paylink_tui.domain.errors import LinkStateError
from paylink_tui.services import outbox, reminders
from paylink_tui.services.history import link_detail
from paylink_tui.services.links import cancel_link, generate_link, resend_link_email
from paylink_tui.services.notifications import receive_notification
from paylink_tui.store.models import EmailMessage, Receipt, Reminder
from paylink_tui.web.app import create_app
from tests.helpers import closed_port
from tests.notifications.support import notification_xml, str_response


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time in Mexico City on that October 2021 day (CDT, UTC-5)."""
    return datetime(2021, 10, day, hour, minute, tzinfo=timezone.utc) + timedelta(hours=5)


@pytest.fixture
def linked(make_ctx, sandbox, seed, clock, mailbox):
    """(ctx, link): one link made and its email delivered to the mailbox."""
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock())
    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link.email_status == "sent" and len(mailbox.messages()) == 1
    return ctx, link


def reminder_mail(mailbox):
    return [m for m in mailbox.parsed() if m["Subject"].startswith("Recordatorio")]


def test_the_reminder_goes_once_on_the_last_valid_day_from_nine(linked, clock, mailbox):
    ctx, link = linked
    for when in (at(8, 9), at(9, 12), at(10, 8, 59)):
        clock.set(when)
        assert reminders.send_due(ctx) == []
    clock.set(at(10, 9))
    assert len(reminders.send_due(ctx)) == 1
    for when in (at(10, 9, 1), at(10, 15), at(10, 21, 59)):
        clock.set(when)
        assert reminders.send_due(ctx) == []

    (mail,) = reminder_mail(mailbox)
    assert mail["Subject"] == "Recordatorio: la liga de pago de su póliza AXA-1 vence hoy a las 23:59"
    assert mail["To"] == "cliente@example.com"
    assert mail["From"].addresses[0].addr_spec == "pagopoliza@mitec.com.mx"  # the link's sender
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "vence hoy a las 23:59" in body and link.url in body and "$ 75.17 MXN" in body
    assert "Estimado(a) Ana Peña Gómez" in text and "Hoy es el último día para pagarla" in text

    detail = link_detail(ctx, link.reference)
    (row,) = detail.link.reminders
    assert (row.to, row.status, row.day) == ("cliente@example.com", "sent", at(10, 9).date())
    assert row.sent_at == at(10, 9) and row.queued_at == at(10, 9)
    assert any(ev.text == "Recordatorio enviado a cliente@example.com" for ev in detail.timeline)
    # The proof of contact in `history --format json`.
    (item,) = history_data(LocalBackend(ctx))["links"]
    assert item["reminders"] == [{"sent_at": "2021-10-10T09:00:00-05:00", "to": "cliente@example.com",
                                  "status": "sent", "queued_at": "2021-10-10T09:00:00-05:00"}]
    assert item["reminders_off"] is False


def test_reminder_days_one_and_three_remind_twice_with_the_date_first(make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, reminder_days="1,3", reminder_hour=10)
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock())
    link = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    sent = []
    for day in (8, 9, 10):
        clock.set(at(day, 9, 59))
        assert reminders.send_due(ctx) == []
        clock.set(at(day, 10))
        sent += reminders.send_due(ctx)
    assert len(sent) == 2
    subjects = [m["Subject"] for m in reminder_mail(mailbox)]
    assert subjects == [
        "Recordatorio: la liga de pago de su póliza AXA-1 vence el domingo 10 de octubre de 2021 a las 23:59",
        "Recordatorio: la liga de pago de su póliza AXA-1 vence hoy a las 23:59",
    ]
    assert [r.day.day for r in link_detail(ctx, link.reference).link.reminders] == [8, 10]


def test_no_reminders_with_an_empty_setting(make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, reminder_days="")
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock())
    generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    clock.set(at(10, 12))
    assert reminders.send_due(ctx) == [] and reminder_mail(mailbox) == []


def test_never_outside_seven_to_ten_at_night(linked, clock, mailbox, make_ctx, sandbox):
    ctx, _ = linked
    late = make_ctx(mit_gen_url=sandbox.gen_url, reminder_hour=21)
    for when in (at(10, 6, 59), at(10, 20, 59)):
        clock.set(when)
        assert reminders.send_due(late) == []
    clock.set(at(10, 22))  # nobody checked all day: at 22:00 it is too late
    assert reminders.send_due(ctx) == [] and reminders.send_due(late) == []
    clock.set(at(10, 23, 59))
    assert reminders.send_due(ctx) == []
    assert reminder_mail(mailbox) == []
    clock.set(at(10, 21, 30))
    assert len(reminders.send_due(late)) == 1


@pytest.mark.parametrize(("value", "why"), [
    ("6", "PAYLINK_REMINDER_HOUR: debe ser 7 o más"),
    ("22", "PAYLINK_REMINDER_HOUR: debe ser 21 o menos"),
])
def test_a_reminder_hour_outside_the_contact_hours_is_refused(monkeypatch, value, why):
    monkeypatch.setenv("PAYLINK_REMINDER_HOUR", value)
    with pytest.raises(ConfigError, match=why):
        load_settings()


@pytest.mark.parametrize("value", ["0", "4", "1,x", "1;3", "-1"])
def test_reminder_days_outside_the_link_validity_are_refused(monkeypatch, value):
    monkeypatch.setenv("PAYLINK_REMINDER_DAYS", value)
    with pytest.raises(ConfigError, match="PAYLINK_REMINDER_DAYS: .* no es un día válido: use días"):
        load_settings()


def test_reminder_days_read_from_the_environment_and_the_file(monkeypatch, tmp_path):
    assert load_settings().reminder_offsets == (3,)
    monkeypatch.setenv("PAYLINK_REMINDER_DAYS", " 3, 1 ")
    assert load_settings().reminder_offsets == (1, 3)
    monkeypatch.setenv("PAYLINK_REMINDER_DAYS", "")
    assert load_settings().reminder_offsets == ()
    monkeypatch.delenv("PAYLINK_REMINDER_DAYS")
    path = tmp_path / "config.toml"
    path.write_text("reminder_days = [1, 2]\nreminder_hour = 8\n", encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(path))
    settings = load_settings()
    assert settings.reminder_offsets == (1, 2) and settings.reminder_hour == 8


# -- none when it is not owed ---------------------------------------------------------------------


def test_none_for_a_cancelled_or_expired_link(linked, clock, mailbox):
    ctx, link = linked
    clock.set(at(11, 9))  # expired at 00:00 of the 11th
    assert reminders.send_due(ctx) == []
    clock.set(at(10, 8))
    cancel_link(ctx, link.reference, agent="ana")
    clock.set(at(10, 9))
    assert reminders.send_due(ctx) == [] and reminder_mail(mailbox) == []


def test_none_for_a_paid_link(linked, clock, mailbox):
    ctx, link = linked
    clock.set(at(9, 18))
    got = receive_notification(ctx, str_response(notification_xml(link.reference, taken_at=at(9, 17))))
    assert got.status == "applied"
    clock.set(at(10, 9))
    assert reminders.send_due(ctx) == [] and reminder_mail(mailbox) == []


def test_none_when_its_receipts_were_settled_some_other_way(linked, clock, mailbox):
    ctx, link = linked
    with ctx.engine.begin() as conn:
        conn.execute(update(Receipt.__table__).values(status="settled_elsewhere"))
    clock.set(at(10, 9))
    assert reminders.send_due(ctx) == [] and reminder_mail(mailbox) == []


def test_none_when_the_link_email_never_arrived(make_ctx, sandbox, seed, clock, mailbox):
    down = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=closed_port())
    seed(down.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock())
    link = generate_link(down, receipt_numbers=["R-1"], email="cliente@example.com")
    assert link.email_status == "failed"
    clock.set(at(10, 9))
    assert reminders.send_due(make_ctx(mit_gen_url=sandbox.gen_url)) == []
    assert mailbox.messages() == []


def test_none_for_a_link_marked_sin_recordatorios_and_again_when_unmarked(linked, clock, mailbox):
    ctx, link = linked
    backend = LocalBackend(ctx)
    backend.set_link_reminders(link.reference, enabled=False)
    assert link_detail(ctx, link.reference).link.reminders_off
    clock.set(at(10, 9))
    assert reminders.send_due(ctx) == []
    backend.set_link_reminders(link.reference, enabled=True)
    assert len(reminders.send_due(ctx)) == 1


def test_marking_a_link_stops_a_reminder_already_queued(make_ctx, sandbox, seed, clock, mailbox, linked):
    ctx, link = linked
    down = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=closed_port())
    clock.set(at(10, 9))
    assert len(reminders.send_due(down)) == 1  # queued, the mail server refused it
    reminders.set_reminders(ctx, link.reference, enabled=False, agent="ana")
    clock.set(at(10, 10))
    outbox.deliver_due(ctx)
    assert reminder_mail(mailbox) == []
    assert [r.status for r in link_detail(ctx, link.reference).link.reminders] == ["not_sent"]


def test_a_closed_link_cannot_be_marked(linked):
    ctx, link = linked
    cancel_link(ctx, link.reference, agent="ana")
    with pytest.raises(LinkStateError, match="ya está cancelada: ya no recibe recordatorios"):
        reminders.set_reminders(ctx, link.reference, enabled=False, agent="ana")


# -- delivery: retried, never twice, never late -------------------------------------------------------


def test_a_refused_reminder_is_retried_then_sent_once(linked, clock, mailbox, make_ctx, sandbox):
    ctx, link = linked
    down = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=closed_port())
    clock.set(at(10, 9))
    assert len(reminders.send_due(down)) == 1
    (row,) = link_detail(ctx, link.reference).link.reminders
    assert row.status == "failed" and row.sent_at is None and "conexión rechazada" in row.error
    clock.set(at(10, 9, 0) + timedelta(seconds=31))  # the outbox's first backoff
    assert reminders.send_due(ctx) == []  # no second reminder today...
    outbox.deliver_due(ctx)  # ...the same one, delivered by the outbox's retry
    outbox.deliver_due(ctx)
    assert len(reminder_mail(mailbox)) == 1
    (row,) = link_detail(ctx, link.reference).link.reminders
    assert row.status == "sent" and row.sent_at == clock() and row.error is None


def test_a_reminder_still_refused_at_ten_at_night_is_never_sent(linked, clock, mailbox, make_ctx, sandbox):
    ctx, link = linked
    down = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=closed_port(), reminder_hour=21)
    clock.set(at(10, 21, 59))
    assert len(reminders.send_due(down)) == 1
    clock.set(at(10, 22, 5))  # the mail server is back, too late
    outbox.deliver_due(ctx)
    assert reminder_mail(mailbox) == []
    (row,) = link_detail(ctx, link.reference).link.reminders
    assert row.status == "not_sent"
    with Session(ctx.engine) as s:
        message = s.exec(select(EmailMessage).where(EmailMessage.kind == "reminder")).one()
    assert message.send_before == at(10, 22)


def test_several_workers_at_once_send_one_reminder(linked, clock, mailbox, make_ctx, sandbox):
    ctx, link = linked
    workers = [make_ctx(mit_gen_url=sandbox.gen_url) for _ in range(6)]
    clock.set(at(10, 9))
    barrier = threading.Barrier(len(workers))
    got: list[list[int]] = []

    def run(worker):  # type: ignore[no-untyped-def]
        barrier.wait(10)
        got.append(reminders.send_due(worker))

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(len(g) for g in got) == [0, 0, 0, 0, 0, 1]
    with Session(ctx.engine) as s:
        assert len(s.exec(select(Reminder)).all()) == 1
    assert len(reminder_mail(mailbox)) == 1


def _remind_in_a_process(url: str, port: int, when: datetime, barrier, results) -> None:  # type: ignore[no-untyped-def]
    from paylink_tui.config import Settings
    from paylink_tui.services.context import AppContext
    from paylink_tui.store.db import make_engine

    engine = make_engine(url)
    ctx = AppContext(settings=Settings(database_url=url, smtp_host="127.0.0.1", smtp_port=port),
                     engine=engine, clock=lambda: when)
    barrier.wait(60)
    results.put(len(reminders.send_due(ctx)))
    engine.dispose()


def test_several_processes_at_once_send_one_reminder(linked, database_url, mailbox):
    ctx, _ = linked
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(3), spawn.Queue()
    procs = [spawn.Process(target=_remind_in_a_process,
                           args=(database_url, mailbox.port, at(10, 9), barrier, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    counts = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)
    assert counts == [0, 0, 1]
    assert len(reminder_mail(mailbox)) == 1


# -- who sends them: serve, and the TUI's outbox round -------------------------------------------------


def test_serve_sends_the_due_reminder_on_its_own(linked, clock, mailbox, serve):
    ctx, link = linked
    clock.set(at(10, 9, 30))
    serve(create_app(ctx, deliver_interval=0.2, reminder_interval=0.1))
    deadline = time.monotonic() + 20
    while not reminder_mail(mailbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reminder_mail(mailbox)) == 1
    time.sleep(0.5)  # many more rounds: still one
    assert len(reminder_mail(mailbox)) == 1


def test_the_tui_outbox_round_sends_due_reminders(linked, clock, mailbox):
    ctx, link = linked
    backend = LocalBackend(ctx)
    clock.set(at(10, 9))
    backend.deliver_outbox()
    backend.deliver_outbox()
    assert len(reminder_mail(mailbox)) == 1


def test_the_reminder_goes_to_the_corrected_address(linked, clock, mailbox):
    ctx, link = linked
    resend_link_email(ctx, link.reference, to="nuevo@example.com", agent="ana")
    clock.set(at(10, 9))
    reminders.send_due(ctx)
    (mail,) = reminder_mail(mailbox)
    assert mail["To"] == "nuevo@example.com"


def test_an_operator_template_overrides_the_reminder(make_ctx, sandbox, seed, clock, mailbox, tmp_path):
    folder = tmp_path / "plantillas"
    folder.mkdir()
    (folder / "reminder_subject.txt").write_text("Aviso {{ company }}: {{ due_phrase }}\n", encoding="utf-8")
    ctx = make_ctx(mit_gen_url=sandbox.gen_url, templates_dir=str(folder))
    seed(ctx.engine, "AXA-1", [("R-1", "75.17", "MXN")], now=clock(),
         holder=("<b>Ana</b>", "Peña & Hijos", ""))
    generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    clock.set(at(10, 9))
    reminders.send_due(ctx)
    (mail,) = [m for m in mailbox.parsed() if m["Subject"].startswith("Aviso")]
    assert mail["Subject"] == "Aviso AXA: vence hoy a las 23:59"
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;Ana&lt;/b&gt; Peña &amp; Hijos" in html and "<b>Ana</b>" not in html


def test_no_reminder_while_the_clients_payment_waits_for_mits_confirmation(linked, clock,
                                                                          mailbox):
    """The client paid; MIT is being asked to confirm it (PAYLINK_MIT_QUERY_URL): a reminder
    to pay would be wrong, whatever MIT answers later."""
    from paylink_tui.gateway import sandbox_defaults as sd
    from paylink_tui.gateway.mit import MitGateway
    from tests.notifications.support import notification_xml, str_response

    ctx, link = linked
    ctx.gateway.close()
    ctx.gateway = MitGateway(  # MIT's query unreachable: the approval keeps waiting
        ctx.gateway.gen_url, sd.SANDBOX_DATA0, sd.SANDBOX_KEY, sd.SANDBOX_ID_COMPANY,
        sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER, sd.SANDBOX_PASSWORD,
        query_url=f"http://127.0.0.1:{closed_port()}/pgs/services/xmltransacciones")
    got = receive_notification(ctx, str_response(notification_xml(link.reference)),
                               deliver=False)
    assert got.status == "confirming"
    clock.set(at(10, 9))
    assert reminders.send_due(ctx) == []
    assert reminder_mail(mailbox) == []
