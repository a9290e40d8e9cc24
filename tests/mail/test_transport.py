"""SmtpTransport against real SMTP servers on loopback (aiosmtpd, and a scripted socket
server for faults aiosmtpd won't produce)."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from paylink_tui.mail.errors import SendError
from paylink_tui.mail.message import build_message, new_message_id
from paylink_tui.mail.server import MailDrop
from paylink_tui.mail.transport import SmtpTransport

from .conftest import (
    RefuseRecipient,
    TempRefuseRecipient,
    free_port,
    make_settings,
    parse_eml,
    parts,
)

WHEN = dt.datetime(2021, 10, 7, 21, 4, 56, tzinfo=dt.timezone.utc)
SECRET = "s3cr3t-Contraseña"


def message(to: str = "jose.pena@cliente.example.mx"):
    return build_message(
        to=to,
        from_addr="pagopoliza@mitec.com.mx",
        from_name="Seguros Peña, S.A.",
        reply_to="agente@agentes.example.mx",
        subject="Liga de pago de su póliza 123456 — Ñoño",
        text="Estimado José Núñez:\nhttps://pago.example.mx/p?ref=1&x=2\n",
        html="<p>Estimado José Núñez</p>",
        message_id=new_message_id("pagopoliza@mitec.com.mx"),
        date=WHEN,
    )


def test_a_message_arrives_intact_with_utf8_headers_and_both_parts(mail_drop: MailDrop):
    msg = message()
    SmtpTransport("127.0.0.1", mail_drop.port, "none", timeout=5).send(msg)
    [eml] = mail_drop.messages()
    assert "jose.pena_cliente.example.mx" in eml.name
    got = parse_eml(eml)
    assert got["Subject"] == "Liga de pago de su póliza 123456 — Ñoño"
    assert got["From"].addresses[0].display_name == "Seguros Peña, S.A."
    assert got["From"].addresses[0].addr_spec == "pagopoliza@mitec.com.mx"
    assert got["To"].addresses[0].addr_spec == "jose.pena@cliente.example.mx"
    assert got["Reply-To"].addresses[0].addr_spec == "agente@agentes.example.mx"
    assert got["Message-ID"] == msg["Message-ID"]
    assert parsedate_to_datetime(got["Date"]) == WHEN
    text, html = parts(got)
    assert "José Núñez" in text and "https://pago.example.mx/p?ref=1&x=2" in text
    assert "<p>Estimado José Núñez</p>" in html


def test_maildrop_takes_smtputf8_messages(mail_drop: MailDrop):
    # Our transport never needs SMTPUTF8, but the demo's drop must take it from anyone.
    raw = "From: a@example.mx\r\nTo: josé@ejemplo.mx\r\nSubject: Año\r\n\r\nñ\r\n".encode()
    with smtplib.SMTP("127.0.0.1", mail_drop.port, timeout=5) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8") and smtp.has_extn("8bitmime")
        smtp.sendmail("a@example.mx", ["josé@ejemplo.mx"], raw,
                      mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [eml] = mail_drop.messages()
    assert parse_eml(eml)["Subject"] == "Año"


def test_a_550_recipient_refusal_is_permanent_and_says_so_in_spanish(tmp_path: Path):
    with MailDrop(tmp_path, handler=RefuseRecipient()) as drop:
        with pytest.raises(SendError) as err:
            SmtpTransport("127.0.0.1", drop.port, "none", timeout=5).send(message())
    assert err.value.permanent is True
    assert err.value.code == 550
    assert "rechazó al destinatario jose.pena@cliente.example.mx" in err.value.message
    assert "550" in err.value.message


def test_a_4xx_recipient_refusal_is_temporary(tmp_path: Path):
    with MailDrop(tmp_path, handler=TempRefuseRecipient()) as drop:
        with pytest.raises(SendError) as err:
            SmtpTransport("127.0.0.1", drop.port, "none", timeout=5).send(message())
    assert err.value.permanent is False


def test_a_server_that_drops_the_connection_during_data_is_a_temporary_error(raw_server):
    srv = raw_server("drop_in_data")
    with pytest.raises(SendError) as err:
        SmtpTransport("127.0.0.1", srv.port, "none", timeout=5).send(message())
    assert srv.bodies_started == 1  # it really failed in the middle of the message
    assert err.value.permanent is False
    assert "cerró la conexión" in err.value.message


def test_no_server_at_all_is_a_temporary_error():
    port = free_port()
    with pytest.raises(SendError) as err:
        SmtpTransport("127.0.0.1", port, "none", timeout=5).send(message())
    assert err.value.permanent is False
    assert f"127.0.0.1:{port}" in err.value.message
    assert "conexión rechazada" in err.value.message


def test_a_server_that_never_answers_times_out(raw_server):
    srv = raw_server("silent")
    with pytest.raises(SendError) as err:
        SmtpTransport("127.0.0.1", srv.port, "none", timeout=0.5).send(message())
    assert "no respondió en 0.5 segundos" in err.value.message


class Credentials:
    def __init__(self, accept: bool) -> None:
        self.accept = accept
        self.seen: list[tuple[bytes, bytes]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=self.accept, handled=False)


def test_implicit_tls_with_login(tmp_path: Path, server_tls, client_tls):
    creds = Credentials(accept=True)
    with MailDrop(tmp_path, ssl_context=server_tls, authenticator=creds) as drop:
        SmtpTransport("127.0.0.1", drop.port, "ssl", "agente", SECRET, 5,
                      ssl_context=client_tls).send(message())
        assert len(drop.messages()) == 1
    assert creds.seen == [(b"agente", SECRET.encode())]


def test_starttls_with_login(tmp_path: Path, server_tls, client_tls):
    creds = Credentials(accept=True)
    with MailDrop(tmp_path, tls_context=server_tls, authenticator=creds) as drop:
        SmtpTransport("127.0.0.1", drop.port, "starttls", "agente", SECRET, 5,
                      ssl_context=client_tls).send(message())
        assert len(drop.messages()) == 1
    assert creds.seen == [(b"agente", SECRET.encode())]


def test_an_untrusted_certificate_is_refused(tmp_path: Path, server_tls):
    with MailDrop(tmp_path, ssl_context=server_tls) as drop:
        with pytest.raises(SendError) as err:
            SmtpTransport("127.0.0.1", drop.port, "ssl", timeout=5,
                          ssl_context=ssl.create_default_context()).send(message())
        assert drop.messages() == []
    assert "TLS" in err.value.message


def test_starttls_against_a_server_without_it_is_refused_not_sent_in_clear(mail_drop: MailDrop):
    with pytest.raises(SendError) as err:
        SmtpTransport("127.0.0.1", mail_drop.port, "starttls", timeout=5).send(message())
    assert mail_drop.messages() == []
    assert "STARTTLS" in err.value.message


def test_a_refused_login_never_shows_the_password(tmp_path: Path, server_tls, client_tls, caplog):
    caplog.set_level("DEBUG")
    with MailDrop(tmp_path, tls_context=server_tls, authenticator=Credentials(accept=False)) as drop:
        transport = SmtpTransport("127.0.0.1", drop.port, "starttls", "agente", SECRET, 5,
                                  ssl_context=client_tls)
        with pytest.raises(SendError) as err:
            transport.send(message())
        assert drop.messages() == []
    assert "agente" in err.value.message and "contraseña" in err.value.message
    assert SECRET not in err.value.message
    assert SECRET not in repr(transport) and SECRET not in str(err.value)
    assert SECRET not in caplog.text


def test_from_settings_takes_host_port_tls_login_and_timeout():
    settings = make_settings(2525, smtp_host="mail.example.mx", smtp_tls="starttls",
                             smtp_username="agente", smtp_password=SECRET, smtp_timeout=7.5)
    t = SmtpTransport.from_settings(settings)
    assert (t.host, t.port, t.tls, t.username, t.timeout) == (
        "mail.example.mx", 2525, "starttls", "agente", 7.5)
    assert SECRET not in repr(t)


def _own_lan_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the route
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_a_login_in_clear_to_another_machine_is_refused_before_connecting(tmp_path):
    """PAYLINK_SMTP_TLS=none with a user sends the password readable on the network."""
    address = _own_lan_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    drop = MailDrop(tmp_path / "lan", host="0.0.0.0").start()  # reachable at `address`
    try:
        transport = SmtpTransport(address, drop.port, "none", username="agente",
                                  password=SECRET, timeout=5)
        with pytest.raises(SendError) as info:
            transport.send(message())
        assert "PAYLINK_SMTP_TLS" in info.value.message
        assert "PAYLINK_SMTP_ALLOW_PLAIN_LOGIN=1" in info.value.message
        assert SECRET not in info.value.message and info.value.permanent
        assert drop.messages() == []
        # The operator who says the network is trusted gets it sent.
        SmtpTransport(address, drop.port, "none", username="agente", password=SECRET,
                      timeout=5, allow_plain_login=True).send(message())
        assert len(drop.messages()) == 1
    finally:
        drop.stop()


def test_a_login_in_clear_to_this_machine_and_a_send_without_login_are_not_refused(mail_drop):
    SmtpTransport("localhost", mail_drop.port, "none", username="agente", password=SECRET,
                  timeout=5).send(message())
    SmtpTransport("127.0.0.1", mail_drop.port, "none", timeout=5).send(message())
    assert len(mail_drop.messages()) == 2
    assert SmtpTransport("smtp.agencia.example", 25, "none").plain_login_refused() is None


def test_the_opt_in_setting_reaches_the_transport():
    from paylink_tui.config import load_settings

    remote = dict(database_url="sqlite:///x.db", smtp_host="smtp.agencia.example",
                  smtp_username="agente", smtp_password=SECRET)
    assert SmtpTransport.from_settings(load_settings(**remote)).plain_login_refused()
    allowed = load_settings(**remote, smtp_allow_plain_login="1")
    assert SmtpTransport.from_settings(allowed).plain_login_refused() is None
    tls = load_settings(**remote, smtp_tls="starttls")
    assert SmtpTransport.from_settings(tls).plain_login_refused() is None
