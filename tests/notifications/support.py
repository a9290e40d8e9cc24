"""Notification test helpers: links written through the models, MIT-shaped encrypted
notifications, and readers of the outcome."""

from __future__ import annotations

import base64
import email
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from email import policy
from itertools import count
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlmodel import select

from paylink_tui.config import Settings
from paylink_tui.domain.dates import mit_datetime_text
from paylink_tui.domain.validity import link_window
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.gateway.messages import build_notification_xml
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import read_session, write_session
from paylink_tui.store.models import (
    Client,
    EmailMessage,
    LinkReceipt,
    Notification,
    PaymentAttempt,
    PaymentLink,
    Policy,
    Receipt,
)

TZ = "America/Mexico_City"
_seq = count(1)


def settings_for(url: str, **extra) -> Settings:
    values = {"database_url": url, "gateway": "sandbox", "agent": "ana", "company": "AXA",
              "smtp_host": "127.0.0.1", "smtp_port": 1, **extra}  # port 1: nothing listens
    return Settings(**values)


def make_link(
    ctx: AppContext,
    *,
    reference: str | None = None,
    amounts: tuple[str, ...] = ("75.17",),
    created_at: datetime | None = None,
    state: str = "active",
    receipts: list[int] | None = None,
    policy: str | None = None,
    email: str = "cliente@example.com",
) -> PaymentLink:
    """A link (and, unless given, new receipts for it) straight through the models."""
    n = next(_seq)
    reference = reference or f"REF{n:08d}"
    created_at = created_at or ctx.now()
    window = link_window(created_at, TZ)
    with write_session(ctx.engine) as s:
        if receipts is None:
            client = Client(first_name="Rosa", last_name="Peña", second_last_name="Ibáñez",
                            email=email)
            s.add(client)
            s.flush()
            pol = Policy(number=policy or f"AU{n:08d}", ramo="Autos", client_id=client.id)
            s.add(pol)
            s.flush()
            recs = []
            for i, amount in enumerate(amounts):
                rec = Receipt(number=f"R{n:07d}{i}", policy_id=pol.id, policy_number=pol.number,
                              amount=Decimal(amount), currency="MXN", due_date=window.generated_on,
                              status="pending", created_at=created_at, updated_at=created_at)
                s.add(rec)
                recs.append(rec)
            s.flush()
            receipt_rows = recs
        else:
            receipt_rows = [s.get(Receipt, rid) for rid in receipts]
        policy_id = receipt_rows[0].policy_id
        total = sum((r.amount for r in receipt_rows), Decimal("0"))
        link = PaymentLink(
            reference=reference, url=f"http://sandbox/i/{reference}", mit_link_id=reference,
            policy_id=policy_id, amount=total, currency="MXN", email=email, agent="ana",
            state=state, created_at=created_at, last_valid_day=window.last_valid_day,
            expires_at=window.expires_at, hidden_until=window.hidden_until, updated_at=created_at,
        )
        s.add(link)
        s.flush()
        for r in receipt_rows:
            s.add(LinkReceipt(link_id=link.id, receipt_id=r.id, amount=r.amount))
            r.hidden_until = window.hidden_until
            s.add(r)
    return link


def notification_xml(
    reference: str,
    *,
    amount: str = "75.17",
    response: str = "approved",
    folio: str | None = None,
    taken_at: datetime | None = None,
    auth: str = "426426",
    promocion: str | None = None,
    **overrides: str,
) -> str:
    local = mit_datetime_text(taken_at, TZ) if taken_at else "07/10/21 16:04:56"
    date_text, time_text = local.split(" ")
    fields = {
        "reference": reference,
        "response": response,
        "foliocpagos": folio or f"{100633640472806 + next(_seq)}",
        "auth": auth if response == "approved" else "",
        "cd_response": "0C" if response == "approved" else "",
        "cd_error": "" if response == "approved" else "11",
        "nb_error": "" if response == "approved" else "Tarjeta declinada hoy",
        "time": time_text,
        "date": date_text,
        "nb_company": "AXA",
        "nb_merchant": "1234567 WEBPAYPLUS",
        "cc_type": "CREDITO/BANCO MIT/Visa",
        "tp_operation": "VENTA",
        "cc_name": "Rosa Peña",
        "cc_number": "1111",
        "amount": amount,
        "id_url": "3691PBW8",
        "email": "cliente@example.com",
        "cc_mask": "411111XXXXXX1111",
    }
    fields.update(overrides)
    return build_notification_xml(fields, promocion=promocion)


def str_response(xml: str, key: str = sd.SANDBOX_KEY) -> str:
    return encrypt(xml, key)


def mit_wire_value(xml: str, key: str = sd.SANDBOX_KEY) -> str:
    """What MIT really posts as strResponse: base64 wrapped with CRLF every 76 characters,
    URL-encoded (so the line breaks travel as %0D%0A inside the form value)."""
    b64 = encrypt(xml, key)
    wrapped = base64.encodebytes(base64.b64decode(b64)).decode("ascii").replace("\n", "\r\n")
    return quote(wrapped, safe="")


# -- reading the outcome -----------------------------------------------------------------


def link_row(ctx: AppContext, reference: str) -> PaymentLink:
    with read_session(ctx.engine) as s:
        return s.exec(select(PaymentLink).where(PaymentLink.reference == reference)).one()


def receipts_of(ctx: AppContext, link_id: int) -> list[Receipt]:
    with read_session(ctx.engine) as s:
        return list(s.exec(select(Receipt).join(LinkReceipt, LinkReceipt.receipt_id == Receipt.id)
                           .where(LinkReceipt.link_id == link_id)))


def all_notifications(ctx: AppContext) -> list[Notification]:
    with read_session(ctx.engine) as s:
        return list(s.exec(select(Notification).order_by(Notification.id)))


def attempts(ctx: AppContext, link_id: int | None = None) -> list[PaymentAttempt]:
    with read_session(ctx.engine) as s:
        stmt = select(PaymentAttempt).order_by(PaymentAttempt.id)
        if link_id is not None:
            stmt = stmt.where(PaymentAttempt.link_id == link_id)
        return list(s.exec(stmt))


def confirmations(ctx: AppContext) -> list[EmailMessage]:
    with read_session(ctx.engine) as s:
        return list(s.exec(select(EmailMessage).where(EmailMessage.kind == "confirmation")))


def days(n: float) -> timedelta:
    return timedelta(days=n)


def cancelled_then_newer(ctx, clock):  # type: ignore[no-untyped-def]
    """A link we cancelled, and a day later a newer link for the same receipts: the setting
    of a late payment for the old one (domain.md). Returns (old, newer)."""
    old = make_link(ctx, state="cancelled")
    rids = [r.id for r in receipts_of(ctx, old.id)]
    clock.advance(days=1)
    return old, make_link(ctx, receipts=rids)


class SandboxMIT:
    """The sandbox as the MIT our tests confirm with (see the `mit` fixture)."""

    def __init__(self, app, url: str) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.url = url

    @classmethod
    def start(cls, serve, clock) -> SandboxMIT:  # type: ignore[no-untyped-def]
        from paylink_tui.gateway.sandbox import create_sandbox_app

        app = create_sandbox_app(company="AXA", notify_url=None, now=clock)
        return cls(app, serve(app).url)

    @property
    def query_url(self) -> str:
        from paylink_tui.gateway.mit_query import QUERY_PATH

        return f"{self.url}{QUERY_PATH}"

    def gateway(self, **kwargs):  # type: ignore[no-untyped-def]
        from paylink_tui.gateway.mit import MitGateway

        args = dict(timeout=5.0, query_url=self.query_url)
        args.update(kwargs)
        return MitGateway(f"{self.url}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY,
                          sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                          sd.SANDBOX_PASSWORD, **args)

    def take(self, link: PaymentLink, *, card: str = "4111 1111 1111 1111",
             amount: Decimal | None = None):  # type: ignore[no-untyped-def]
        """MIT takes a payment for `link` (its amount unless told), as a client paying on the
        payment page would: the sandbox's Payment."""
        import httpx

        from paylink_tui.gateway.base import LinkRequest

        with self.gateway() as gw:
            made = gw.create_link(LinkRequest(link.reference, amount or link.amount, "MXN",
                                              link.last_valid_day, link.email))
        resp = httpx.post(f"{made.url}/pagar", data={
            "nombre": "Rosa", "apellido_paterno": "Peña", "apellido_materno": "Ibáñez",
            "tarjeta": card, "expira": "12/39", "cvv": "123", "correo": link.email,
            "terminos": "on"}, timeout=10)
        assert resp.status_code == 200, resp.text
        return self.app.state.sandbox.state.by_reference[link.reference].payments[-1]


def notification_of(link: PaymentLink, payment, **overrides: str) -> str:  # type: ignore[no-untyped-def]
    """The notification MIT would post for `payment` (the sandbox's), as sent."""
    fields = {"amount": f"{link.amount:.2f}", "folio": payment.folio, "auth": payment.auth,
              "response": payment.response}
    fields.update(overrides)
    reference = fields.pop("reference", link.reference)
    return notification_xml(reference, **fields)


# -- the receiver over ASGI -----------------------------------------------------------------


def client_from(app, host: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    """An httpx client over ASGI whose requests come from `host`."""
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(host, 40000)),
                             base_url="http://receptor")


class Ticks:
    """A monotonic clock the test moves (`ticks.now += 60`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(resp) -> tuple[int, tuple[tuple[str, str], ...], bytes]:  # type: ignore[no-untyped-def]
    """Everything a sender sees of an answer over ASGI: status, every header, the body."""
    return resp.status_code, tuple(resp.headers.multi_items()), resp.content


def events_told(ctx: AppContext) -> list:  # type: ignore[type-arg]
    """Every event of the log so far (what the agents' screens are told), oldest first."""
    from paylink_tui.services import events

    return events.read(ctx, "0", limit=10_000)[0]


# -- the whole loop (the sandbox's page, waiting for what the receiver did) ---------------------

CARD_FORM = {
    "nombre": "Rosa", "apellido_paterno": "Peña", "apellido_materno": "Ibáñez",
    "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
    "correo": "cliente@example.com", "terminos": "on",
}


def wait_for(predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def read_eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def pay_on_sandbox(url: str, form: dict[str, str]) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        page = http.get(url)
        assert page.status_code == 200 and "PAGAR $" in page.text
        return http.post(url.rstrip("/") + "/pagar", data=form)


@contextmanager
def receiver_and_sandbox(database_url: str, mail_folder: Path, *,
                         sandbox_kwargs: dict | None = None, **settings: object):  # type: ignore[type-arg]
    """Our receiver and the sandbox in one server on loopback, as `serve` runs them with the
    sandbox gateway (the sandbox notifies the receiver); links through MitGateway; mail to a
    MailDrop in `mail_folder`. Yields (ctx, server, maildrop)."""
    from paylink_tui.gateway.mit import MitGateway
    from paylink_tui.store.db import make_engine
    from paylink_tui.web.app import create_app
    from paylink_tui.web.server import BackgroundServer
    from tests.helpers import Mailbox

    maildrop = Mailbox(mail_folder).start()
    engine = make_engine(database_url)
    ctx = AppContext(settings=settings_for(database_url, smtp_port=maildrop.port, **settings),
                     engine=engine)
    server = BackgroundServer()
    ctx.gateway = MitGateway(f"{server.url}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY,
                             sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                             sd.SANDBOX_PASSWORD, timeout=10)
    server.app = create_app(ctx, serve_sandbox=True, deliver_interval=0.5, sandbox_kwargs={
        "notify_url": f"{server.url}/mit/notificacion", "notify_retry_delays": (0.1, 0.2),
        **(sandbox_kwargs or {})})
    server.start()
    try:
        yield ctx, server, maildrop
    finally:
        server.stop()
        ctx.gateway.close()
        engine.dispose()
        maildrop.stop()
