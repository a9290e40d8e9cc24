"""A link's history is append-only: a resend to a corrected address, or a send that failed,
adds to it; nothing rewrites what it already said (services/timeline.py)."""

from __future__ import annotations

from sqlmodel import Session, select

from paylink_tui.services.history import link_detail
from paylink_tui.services.links import generate_link, resend_link_email
from paylink_tui.services.outbox import deliver_due
from paylink_tui.store.models import AuditEvent


def texts(ctx, reference: str) -> list[str]:
    detail = link_detail(ctx, reference)
    assert detail is not None
    return [ev.text for ev in detail.timeline]


def audit_rows(ctx) -> list[tuple]:
    with Session(ctx.engine) as s:
        return [(e.id, e.at, e.agent, e.action, e.subject, e.detail)
                for e in s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


def test_after_a_resend_to_a_corrected_address_the_history_still_names_the_original(
        make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@exmaple.com")
    before = texts(ctx, made.reference)
    trail_before = audit_rows(ctx)

    clock.advance(minutes=10)
    resend_link_email(ctx, made.reference, to="cliente@example.com", agent="beto")

    detail = link_detail(ctx, made.reference)
    assert detail is not None
    assert detail.link.email == "cliente@example.com"  # where it goes from now on
    assert detail.generated_for == "cliente@exmaple.com"
    after = [ev.text for ev in detail.timeline]
    assert after[0] == "Liga generada por ana para cliente@exmaple.com"
    assert ("Reenvío del correo de la liga, por beto, a cliente@example.com "
            "(antes cliente@exmaple.com)") in after
    assert "Correo de la liga enviado a cliente@example.com" in after
    assert all(text in after for text in before)  # appended to, never rewritten
    assert audit_rows(ctx)[:len(trail_before)] == trail_before


def test_a_send_that_fails_leaves_an_entry_that_a_later_success_does_not_erase(
        make_ctx, sandbox, seed, clock, mailbox):
    down = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=1)  # nobody listens on port 1
    seed(down.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
    made = generate_link(down, receipt_numbers=["R-1"], email="cliente@example.com")
    assert made.email_status != "sent" and made.email_queued

    failed = [t for t in texts(down, made.reference) if t.startswith("No se pudo enviar")]
    assert len(failed) == 1
    assert failed[0].startswith("No se pudo enviar el correo de la liga a cliente@example.com: ")
    assert failed[0].endswith("(queda en cola y se reintenta)")

    clock.advance(minutes=5)  # the agent resends while the server is still down
    again = resend_link_email(down, made.reference)
    assert again.email_status != "sent"
    assert len([t for t in texts(down, made.reference) if t.startswith("No se pudo enviar")]) == 2

    clock.advance(hours=2)  # the server is back: the outbox delivers it
    up = make_ctx(mit_gen_url=sandbox.gen_url)
    assert deliver_due(up).sent == 1
    history = texts(up, made.reference)
    assert "Correo de la liga enviado a cliente@example.com" in history
    assert len([t for t in history if t.startswith("No se pudo enviar")]) == 2  # still there
    assert len(mailbox.messages()) == 1
