"""Mail fixtures: a real aiosmtpd server on loopback (MailDrop), misbehaving SMTP servers,
a self-signed certificate, a seeded link, and an AppContext pointing at the mail drop."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from email.message import EmailMessage as MimeMessage
from pathlib import Path

import pytest
from sqlmodel import Session

from paylink_tui.config import Settings
from paylink_tui.domain.validity import link_window
from paylink_tui.mail.server import MailDrop
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import Client, LinkReceipt, PaymentLink, Policy, Receipt


def free_port() -> int:
    """A port that nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_eml(path: Path) -> MimeMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def parts(msg: MimeMessage) -> tuple[str, str]:
    """(plain text, html) of a received message, decoded."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.fixture
def mail_drop(tmp_path: Path) -> Iterator[MailDrop]:
    drop = MailDrop(tmp_path / "maildrop").start()
    try:
        yield drop
    finally:
        drop.stop()


def make_settings(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "sqlite:///unused.db",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_timeout": 5.0,
        "company": "AXA",
        "agent": "jperez",
        "agent_email": "juan.perez@agentes.example.mx",
        "templates_dir": None,
        "smtp_username": None,
        "smtp_password": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_ctx(engine, clock) -> Callable[..., AppContext]:
    def _make(port: int, **overrides: object) -> AppContext:
        return AppContext(settings=make_settings(port, **overrides), engine=engine, clock=clock)

    return _make


def seed_link(
    session: Session,
    now: dt.datetime,
    *,
    first_name: str = "José",
    last_name: str = "Peña",
    second_last_name: str = "Núñez",
    email_addr: str = "jose.pena@cliente.example.mx",
    policy_number: str = "123456",
    amounts: tuple[str, ...] = ("75.17",),
    reference: str = "100633640472806",
    tz: str = "America/Mexico_City",
) -> PaymentLink:
    """A client, a policy, receipts and an active link covering them (flushed)."""
    client = Client(first_name=first_name, last_name=last_name, second_last_name=second_last_name,
                    email=email_addr)
    session.add(client)
    session.flush()
    policy = Policy(number=policy_number, ramo="Autos", client_id=client.id)
    session.add(policy)
    session.flush()
    receipts = []
    for i, amount in enumerate(amounts, start=1):
        r = Receipt(
            number=f"{policy_number}-{i:02d}", policy_id=policy.id, policy_number=policy_number,
            amount=Decimal(amount), currency="MXN", due_date=dt.date(2021, 9, i),
            created_at=now, updated_at=now,
        )
        session.add(r)
        receipts.append(r)
    session.flush()
    window = link_window(now, tz)
    link = PaymentLink(
        reference=reference,
        url=f"https://sandbox.example.mx/pago?ref={reference}&x=1",
        policy_id=policy.id,
        amount=sum((Decimal(a) for a in amounts), Decimal("0")),
        currency="MXN",
        email=email_addr,
        agent="jperez",
        state="active",
        created_at=now,
        last_valid_day=window.last_valid_day,
        expires_at=window.expires_at,
        hidden_until=window.hidden_until,
        updated_at=now,
    )
    session.add(link)
    session.flush()
    for r in receipts:
        session.add(LinkReceipt(link_id=link.id, receipt_id=r.id, amount=r.amount))
    session.flush()
    return link


# --- TLS -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, generated with `cryptography`."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_files)
    return ctx


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    """Trusts only the test certificate (verification stays on)."""
    return ssl.create_default_context(cafile=str(tls_files[0]))


# --- misbehaving servers ---------------------------------------------------------------


class RefuseRecipient:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 Mailbox does not exist"


class TempRefuseRecipient:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "451 4.3.0 Try again later"



class RawSmtpServer:
    """A tiny scripted SMTP server on loopback, for faults aiosmtpd won't produce.

    `mode="drop_in_data"`: speaks SMTP correctly, then closes the connection in the middle
    of the message body. `mode="silent"`: accepts the connection and never greets.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.bodies_started = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            if self.mode == "silent":
                continue  # hold it open, say nothing
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            conn.sendall(b"220 raw.test ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                    conn.sendall(b"250-raw.test\r\n250 8BITMIME\r\n")
                elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT"):
                    conn.sendall(b"250 OK\r\n")
                elif cmd == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    f.readline()  # the first line of the message arrives...
                    self.bodies_started += 1
                    conn.shutdown(socket.SHUT_RDWR)  # ...and the server goes away
                    conn.close()
                    return
                elif cmd == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 OK\r\n")
        except OSError:
            return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[str], RawSmtpServer]]:
    servers: list[RawSmtpServer] = []

    def _start(mode: str) -> RawSmtpServer:
        srv = RawSmtpServer(mode)
        servers.append(srv)
        return srv

    yield _start
    for s in servers:
        s.stop()
