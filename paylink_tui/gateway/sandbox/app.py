"""An ASGI emulator of MIT Web Pay Plus: `/gen` speaks MIT's protocol, `/i/{id}` is the
client's payment page, every payment attempt is notified to `notify_url` like MIT does, and
`/pgs/services/xmltransacciones` answers MIT's transaction query from the payments taken
(gateway/sandbox/query.py).

It answers only requests addressed to this machine (a `Host` of localhost, 127.0.0.1 or
::1, or one of `allowed_hosts`): a web page elsewhere can't reach it through a name that
resolves to 127.0.0.1 (DNS rebinding). `list_links=False` (inside `serve`) serves no list
of links at `/`.

Repeating a generation with the same reference and amount returns the same link: our client
retries with the same reference after a timeout, and must not end up with two links."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from paylink_tui.domain.dates import to_local
from paylink_tui.domain.hosts import host_of_header, is_loopback_host
from paylink_tui.domain.money import format_amount, format_money
from paylink_tui.domain.promotions import InstallmentPlan
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import CryptoError, decrypt, encrypt
from paylink_tui.gateway.messages import (
    UnsafeXML,
    build_notification_xml,
    build_p_response,
    parse_xml,
    read_extra,
    text_of,
)
from paylink_tui.gateway.mit_query import CONTENT_TYPE, QUERY_PATH
from paylink_tui.gateway.sandbox import cards
from paylink_tui.gateway.sandbox import promotions as msi
from paylink_tui.gateway.sandbox import query as transaction_query
from paylink_tui.gateway.sandbox.state import Delivery, Payment, SandboxLink, SandboxState

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
MERCHANT = "1234567 WEBPAYPLUS"
_AMOUNT = re.compile(r"^\d{1,10}\.\d{2}$")
_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class GenRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Sandbox:
    """The emulator's configuration and behaviour; routes are thin wrappers around it."""

    def __init__(
        self,
        *,
        key: str,
        data0: str,
        id_company: str,
        id_branch: str,
        users: Iterable[str],
        password: str,
        company: str,
        timezone: str,
        state: SandboxState,
        plans: Iterable[InstallmentPlan] = (),
    ) -> None:
        self.key = key
        self.data0 = data0
        self.id_company = id_company
        self.id_branch = id_branch
        self.users = frozenset(users)
        self.password = password
        self.company = company
        self.tz = timezone
        self.state = state
        self.promotions = msi.minimums(plans)  # the contract: months -> minimum

    # convenience for tests and the demo
    def wait_idle_sync(self, timeout: float = 10.0) -> bool:
        return self.state.wait_idle_sync(timeout)

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        return await self.state.wait_idle(timeout)

    async def aclose(self) -> None:
        """Cancel deliveries in flight and close the HTTP client. The app's lifespan does
        this; call it yourself when the sandbox is mounted inside another app (a Mount does
        not run the inner app's lifespan)."""
        await self.state.aclose()

    def local_now(self) -> datetime:
        return to_local(self.state.now(), self.tz)

    def is_expired(self, link: SandboxLink) -> bool:
        return self.local_now().date() > link.valid_through

    # -- /gen ----------------------------------------------------------------------------

    def p_response(self, cd: str, message: str = "", url: str = "") -> str:
        return encrypt(build_p_response(cd, message, url), self.key)

    def generate(self, request_xml: str) -> SandboxLink:
        """Validate a decrypted request as MIT would; GenRefused with MIT-like messages."""
        try:
            root = parse_xml(request_xml.strip())
        except UnsafeXML:
            raise GenRefused("El XML de la solicitud es inválido.") from None
        if root.tag != "P":
            raise GenRefused("El XML de la solicitud es inválido (se esperaba el elemento P).")
        biz = root.find("business")
        if biz is None:
            raise GenRefused("Falta el elemento business.")
        if (
            text_of(biz, "id_company") != self.id_company
            or text_of(biz, "id_branch") != self.id_branch
            or text_of(biz, "user") not in self.users
            or text_of(biz, "pwd") != self.password
        ):
            raise GenRefused("Los datos de acceso del comercio son incorrectos.")
        if text_of(root, "version") != "IntegraWPP":
            raise GenRefused("El elemento version es incorrecto.")
        url = root.find("url")
        if url is None:
            raise GenRefused("Falta el elemento url.")
        reference = text_of(url, "reference")
        if not 1 <= len(reference) <= 40:
            raise GenRefused("El elemento reference debe tener de 1 a 40 caracteres.")
        amount_text = text_of(url, "amount")
        if not _AMOUNT.match(amount_text) or Decimal(amount_text) <= 0:
            raise GenRefused("El elemento amount es incorrecto.")
        amount = Decimal(amount_text)
        currency = text_of(url, "moneda")
        if currency not in ("MXN", "USD"):
            raise GenRefused("El elemento moneda es incorrecto.")
        if text_of(url, "canal") != "W":
            raise GenRefused("El elemento canal es incorrecto.")
        today = self.local_now().date()
        valid_text = text_of(url, "fh_vigencia")
        if valid_text:
            if not _DATE.match(valid_text):
                raise GenRefused("El elemento fh_vigencia es incorrecto (dd/MM/yyyy).")
            try:
                valid_through = datetime.strptime(valid_text, "%d/%m/%Y").date()  # noqa: DTZ007
            except ValueError:
                raise GenRefused("El elemento fh_vigencia es incorrecto (dd/MM/yyyy).") from None
            if valid_through < today:
                raise GenRefused("La fecha de vigencia ya pasó.")
        else:
            valid_through = today + timedelta(days=3)
        email = text_of(url, "mail_cliente")
        if email and (len(email) > 50 or not _EMAIL.match(email)):
            raise GenRefused("El elemento mail_cliente es incorrecto.")
        extra = read_extra(url) or read_extra(root)
        if len(extra) > 6:
            raise GenRefused("Se admiten como máximo 6 datos adicionales.")
        for label, value in extra:
            if not label or len(label) > 30 or len(value) > 50:
                raise GenRefused("Un dato adicional excede la longitud permitida.")
        try:
            plans = msi.request_plans(url, self.promotions)
        except ValueError as exc:
            raise GenRefused(str(exc)) from None
        existing = self.state.by_reference.get(reference)
        if existing is not None:
            if existing.amount == amount and existing.currency == currency:
                return existing
            raise GenRefused("La referencia ya fue utilizada con otro monto.")
        link = SandboxLink(
            id=self.state.new_link_id(),
            reference=reference,
            amount=amount,
            currency=currency,
            valid_through=valid_through,
            email=email,
            extra=extra,
            created_at=self.state.now(),
            plans=plans,
        )
        self.state.links[link.id] = link
        self.state.by_reference[reference] = link
        return link

    # -- payments --------------------------------------------------------------------------

    def pay(self, link: SandboxLink, form: dict[str, str]) -> Payment:
        number = cards.digits(form["tarjeta"])
        promocion = form.get("promocion") or "C"
        outcome = msi.outcome(cards.outcome_for(number), link.amount, promocion,
                              self.promotions)
        local = self.local_now()
        approved = outcome.response == "approved"
        name = " ".join(
            p.strip() for p in (form.get("nombre", ""), form.get("apellido_paterno", ""),
                                form.get("apellido_materno", "")) if p.strip()
        )
        payment = Payment(
            folio=self.state.new_folio(),
            response=outcome.response,
            auth=self.state.new_auth() if approved else "",
            cd_response=outcome.cd_response,
            cd_error=outcome.cd_error,
            nb_error=outcome.nb_error,
            date=local.strftime("%d/%m/%y"),
            time=local.strftime("%H:%M:%S"),
            cc_mask=cards.mask(number),
            cc_number=number[-4:],
            cc_type=f"CREDITO/BANCO MIT/{cards.brand(number)}",
            cc_name=name,
            email=form.get("correo", "").strip(),
            promocion=promocion,
        )
        del number  # the full number goes no further than this function
        link.payments.append(payment)
        log.info("sandbox: payment %s for %s: %s", payment.folio, link.reference, payment.response)
        self.notify(link, payment)
        return payment

    def notification_xml(self, link: SandboxLink, p: Payment) -> str:
        fields = {
            "reference": link.reference,
            "response": p.response,
            "foliocpagos": p.folio,
            "auth": p.auth,
            "cd_response": p.cd_response,
            "cd_error": p.cd_error,
            "nb_error": p.nb_error,
            "time": p.time,
            "date": p.date,
            "nb_company": self.company,
            "nb_merchant": MERCHANT,
            "cc_type": p.cc_type,
            "tp_operation": "VENTA",
            "cc_name": p.cc_name,
            "cc_number": p.cc_number,
            "amount": f"{link.amount:.2f}",
            "id_url": link.id,
            "email": p.email,
            "cc_mask": p.cc_mask,
        }
        return build_notification_xml(fields, link.extra, promocion=p.promocion)

    def notify(self, link: SandboxLink, p: Payment) -> None:
        body = encrypt(self.notification_xml(link, p), self.key)
        self.state.deliver(Delivery(link.reference, p.folio, p.response), body)


class LoopbackHostOnly:
    """ASGI middleware: HTTP requests whose Host header does not name this machine (or one
    of `extra`) get 421 and reach nothing."""

    def __init__(self, app: Any, extra: Iterable[str] = ()) -> None:
        self.app = app
        self.extra = frozenset(h.strip().lower() for h in extra if h.strip())

    def allows(self, header: str | None) -> bool:
        host = host_of_header(header).lower()
        return is_loopback_host(host) or host in self.extra

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not self.allows(host):
                log.warning("sandbox: request for host %r refused (not this machine)", host[:80])
                response = PlainTextResponse(
                    "Este sandbox solo atiende solicitudes dirigidas a esta máquina "
                    "(localhost o 127.0.0.1).", status_code=421)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json_error(message: str, field: str, rejected: Any = None) -> JSONResponse:
    return JSONResponse([{"defaultMessage": message, "field": field, "rejectedvalue": rejected}])


_templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.PackageLoader("paylink_tui.gateway.sandbox", "templates"),
        autoescape=True,
    )
)


def create_sandbox_app(
    *,
    key: str = sd.SANDBOX_KEY,
    data0: str = sd.SANDBOX_DATA0,
    id_company: str = sd.SANDBOX_ID_COMPANY,
    id_branch: str = sd.SANDBOX_ID_BRANCH,
    users: Iterable[str] = sd.SANDBOX_USERS,
    password: str = sd.SANDBOX_PASSWORD,
    company: str = "AXA",
    timezone: str = "America/Mexico_City",
    notify_url: str | None = None,
    now: Callable[[], datetime] = _utc_now,
    notify_retry_delays: Iterable[float] = DEFAULT_RETRY_DELAYS,
    list_links: bool = True,
    allowed_hosts: Iterable[str] = (),
    promotions: Iterable[InstallmentPlan] = (),
) -> Starlette:
    """The sandbox as a Starlette app; `app.state.sandbox` is the `Sandbox` (links,
    deliveries, `wait_idle()` / `wait_idle_sync()`). `allowed_hosts`: Host names it answers
    besides this machine's; `list_links`: whether `/` lists the links generated;
    `promotions`: the meses-sin-intereses plans the merchant's contract enables, with their
    minimums (gateway/sandbox/promotions.py)."""
    state = SandboxState(notify_url=notify_url, retry_delays=tuple(notify_retry_delays), now=now)
    sandbox = Sandbox(
        key=key, data0=data0, id_company=id_company, id_branch=id_branch, users=users,
        password=password, company=company, timezone=timezone, state=state, plans=promotions,
    )

    def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        ctx.setdefault("company", sandbox.company)
        return _templates.TemplateResponse(request, name, ctx, status_code=status)

    def page_context(request: Request, link: SandboxLink) -> dict[str, Any]:
        # Paths via url_for keep working when the sandbox is mounted under a prefix.
        return {
            "link": link,
            "page_path": request.url_for("payment_page", link_id=link.id).path,
            "pay_path": request.url_for("pay", link_id=link.id).path,
            "amount_text": format_money(link.amount, link.currency),
            "button_text": f"PAGAR $ {format_amount(link.amount)}",
            "test_cards": cards.TEST_CARDS,
            "plans": msi.choices(link.plans),
        }

    async def gen(request: Request) -> Response:
        form = await request.form()
        envelope = form.get("xml")
        if not isinstance(envelope, str) or not envelope.strip():
            return _json_error("El elemento xml es requerido", "xml")
        try:
            pgs = parse_xml(envelope.strip())
        except UnsafeXML:
            return _json_error("El elemento xml es incorrecto", "xml")
        if pgs.tag != "pgs":
            return _json_error("El elemento xml es incorrecto", "xml")
        got_data0 = text_of(pgs, "data0")
        if got_data0 != sandbox.data0:
            return _json_error("El elemento data0 es incorrecto", "data0", got_data0[:20])
        data = text_of(pgs, "data")
        if not data:
            return _json_error("El elemento data es requerido", "data")
        try:
            request_xml = decrypt(data, sandbox.key)
        except CryptoError:
            return _json_error("El elemento data es incorrecto", "data")
        try:
            link = sandbox.generate(request_xml)
        except GenRefused as exc:
            log.info("sandbox: generation refused: %s", exc.message)
            return PlainTextResponse(sandbox.p_response("error", exc.message))
        url = str(request.url_for("payment_page", link_id=link.id))
        log.info("sandbox: link %s for %s", link.id, link.reference)
        return PlainTextResponse(sandbox.p_response("success", "", url))

    def find(request: Request) -> SandboxLink | None:
        return state.links.get(request.path_params["link_id"])

    async def payment_page(request: Request) -> Response:
        link = find(request)
        if link is None:
            return render(request, "not_found.html", 404)
        if link.approved is not None:
            return render(request, "result.html", payment=link.approved, already_paid=True,
                          **page_context(request, link))
        if sandbox.is_expired(link):
            return render(request, "expired.html", **page_context(request, link))
        values = {"correo": link.email}
        return render(request, "pay.html", values=values, errors={}, **page_context(request, link))

    async def pay(request: Request) -> Response:
        link = find(request)
        if link is None:
            return render(request, "not_found.html", 404)
        raw = await request.form()
        # Checked after the last await: from here to sandbox.pay() nothing yields, so two
        # simultaneous submissions cannot both be approved.
        if link.approved is not None:
            return render(request, "result.html", 409, payment=link.approved,
                          already_paid=True, **page_context(request, link))
        if sandbox.is_expired(link):
            return render(request, "expired.html", **page_context(request, link))
        form = {k: v.strip() if isinstance(v, str) else "" for k, v in raw.items()}
        for name in ("nombre", "apellido_paterno", "apellido_materno", "tarjeta", "expira",
                     "cvv", "correo"):
            form.setdefault(name, "")
        form["promocion"], plan_error = msi.chosen(form, link.plans)
        errors = {**cards.validate_form(form, sandbox.local_now().date()), **plan_error}
        if errors:
            # Card number and CVV are never echoed back: the payer types them again.
            kept = {k: form[k] for k in ("nombre", "apellido_paterno", "apellido_materno",
                                         "expira", "correo", "promocion")}
            kept["terminos"] = form.get("terminos", "")
            return render(request, "pay.html", 422, values=kept, errors=errors,
                          **page_context(request, link))
        payment = sandbox.pay(link, form)
        form.clear()
        return render(request, "result.html", payment=payment, already_paid=False,
                      **page_context(request, link))

    async def index(request: Request) -> Response:
        links = sorted(state.links.values(), key=lambda x: x.created_at, reverse=True)
        rows = []
        for link in links:
            if link.approved is not None:
                status = "Pagada"
            elif sandbox.is_expired(link):
                status = "Vencida"
            else:
                status = "Activa"
            rows.append({
                "link": link,
                "path": request.url_for("payment_page", link_id=link.id).path,
                "amount": format_money(link.amount, link.currency),
                "status": status,
                "valid": link.valid_through.strftime("%d/%m/%Y"),
            })
        return render(request, "index.html", rows=rows, deliveries=state.deliveries[-20:],
                      notify_url=state.notify_url)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def transactions(request: Request) -> Response:
        body = await request.body()
        status, text = transaction_query.answer(sandbox, body[:1_000_000])
        return Response(text, status_code=status, media_type=CONTENT_TYPE)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()

    app = Starlette(
        routes=[
            *([Route("/", index, methods=["GET"])] if list_links else []),
            Route("/gen", gen, methods=["POST"]),
            Route("/salud", health, methods=["GET"]),
            Route(QUERY_PATH, transactions, methods=["POST"]),
            Route("/i/{link_id}", payment_page, methods=["GET"]),
            Route("/i/{link_id}/pagar", pay, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(LoopbackHostOnly, extra=tuple(allowed_hosts))  # type: ignore[arg-type]
    app.state.sandbox = sandbox
    return app
