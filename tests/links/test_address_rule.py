"""One rule for the client's address at every entry point, the same as the mail step's.

Accents or «ñ» before the «@» are refused where the address is typed or imported, with the
reason and the likely ASCII form, before anything is made at MIT; an internationalised
domain is accepted and travels as punycode (domain/address.py says why).
"""

from __future__ import annotations

import string
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from paylink_tui.importer.reader import _Rejected, normalize_email
from paylink_tui.mail.errors import MailError
from paylink_tui.mail.message import validate_address
from paylink_tui.mail.server import MailDrop
from paylink_tui.services.links import InvalidEmail, check_email, generate_link, resend_link_email
from paylink_tui.store.models import AuditEvent, PaymentLink, Receipt
from tests.links.test_link_command import command_env

LETTERS = string.ascii_letters + string.digits + ".-_+" + "áéíóúñÑüç中@ " + "\t"


def _outcome(fn, value):  # type: ignore[no-untyped-def]
    try:
        return fn(value)
    except (InvalidEmail, MailError, _Rejected):
        return None


@settings(max_examples=600, deadline=None)
@given(st.one_of(
    st.text(alphabet=LETTERS, max_size=30),
    st.tuples(st.text(alphabet=LETTERS, min_size=1, max_size=12),
              st.sampled_from(["gmail.com", "peña.mx", "EXAMPLE.com.mx", "x", "a..b.mx", ""]))
    .map(lambda t: f"{t[0]}@{t[1]}"),
))
def test_every_entry_point_accepts_exactly_what_the_mail_step_sends_to(value):
    typed = _outcome(check_email, value)  # dialog, `link --email`, resend
    # Every entry point trims the whitespace around a pasted address ("\t0@0.a" is "0@0.a");
    # the mail step is handed what was stored, never the raw paste, and refuses a control
    # character in a header outright.
    mailed = _outcome(lambda v: validate_address(v.strip(), "to"), value)
    imported = _outcome(normalize_email, value.strip()) if value.strip() else None
    assert typed == mailed == imported


@pytest.mark.parametrize("address, likely", [("josé@gmail.com", "jose@gmail.com"),
                                             ("muñoz@gmail.com", "munoz@gmail.com"),
                                             ("Peña.Ruiz@hotmail.com", "Pena.Ruiz@hotmail.com")])
def test_an_accent_before_the_at_sign_is_refused_with_what_why_and_what_to_do(address, likely):
    with pytest.raises(InvalidEmail) as info:
        check_email(address)
    message = info.value.message
    assert message.startswith(f"El correo electrónico «{address}» no es válido: lleva acentos")
    assert "casi nunca llegan" in message  # why
    assert f"Confírmelo con el cliente: casi siempre es sin acentos, «{likely}»" in message


def test_no_link_is_made_at_mit_for_an_address_the_mail_step_would_refuse(
        make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
    with pytest.raises(InvalidEmail, match="«muñoz@gmail.com» no es válido"):
        generate_link(ctx, receipt_numbers=["R-1"], email="muñoz@gmail.com")
    assert sandbox.counter.calls == 0 and sandbox.links == []
    assert mailbox.messages() == []
    with Session(ctx.engine) as s:
        assert s.exec(select(PaymentLink)).all() == []
        assert s.exec(select(Receipt)).one().hidden_until is None  # still pending


class _Recorder:
    """An aiosmtpd handler that keeps each envelope (what the client's server would see)."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bool]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.smtp_utf8))
        return "250 OK"


def test_an_internationalised_domain_is_sent_as_punycode_by_a_real_smtp_server(
        make_ctx, sandbox, seed, clock, tmp_path):
    recorder = _Recorder()
    with MailDrop(tmp_path / "drop", handler=recorder) as server:  # it offers SMTPUTF8
        ctx = make_ctx(mit_gen_url=sandbox.gen_url, smtp_port=server.port)
        seed(ctx.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
        made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@peña.mx")
        assert made.email == "cliente@peña.mx" and made.email_status == "sent"
        with pytest.raises(InvalidEmail):  # a server that speaks SMTPUTF8 changes nothing
            resend_link_email(ctx, made.reference, to="josé@peña.mx")
    assert recorder.envelopes == [("pagopoliza@mitec.com.mx", ["cliente@xn--pea-8ma.mx"], False)]


def test_a_resend_to_an_accented_address_changes_nothing(make_ctx, sandbox, seed, clock, mailbox):
    ctx = make_ctx(mit_gen_url=sandbox.gen_url)
    seed(ctx.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
    made = generate_link(ctx, receipt_numbers=["R-1"], email="cliente@example.com")
    with pytest.raises(InvalidEmail, match="«munoz@gmail.com»"):
        resend_link_email(ctx, made.reference, to="muñoz@gmail.com")
    with Session(ctx.engine) as s:
        assert s.exec(select(PaymentLink)).one().email == "cliente@example.com"
        actions = [e.action for e in s.exec(select(AuditEvent)).all()]
    assert "link_email_resent" not in actions
    assert len(mailbox.messages()) == 1


def test_the_link_command_refuses_an_accented_address_before_calling_mit(
        database_url, make_ctx, real_time_sandbox, mailbox, seed, clock, tmp_path):
    ctx = make_ctx()
    seed(ctx.engine, "P-1", [("R-1", "905.98", "MXN")], now=clock())
    env = command_env(database_url, tmp_path, PAYLINK_GATEWAY="sandbox",
                      PAYLINK_MIT_GEN_URL=real_time_sandbox.gen_url,
                      PAYLINK_SMTP_HOST="127.0.0.1", PAYLINK_SMTP_PORT=str(mailbox.port))
    proc = subprocess.run([sys.executable, "-m", "paylink_tui", "link", "R-1", "--email", "josé@gmail.com"],
                          env=env, capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.startswith("Error: El correo electrónico «josé@gmail.com» no es válido: lleva acentos")
    assert "«jose@gmail.com»" in proc.stderr
    assert real_time_sandbox.counter.calls == 0 and mailbox.messages() == []
    with Session(ctx.engine) as s:
        assert s.exec(select(PaymentLink)).all() == []
