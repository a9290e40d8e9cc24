"""MIT Web Pay Plus client: encrypted XML over one reused httpx.Client.

Retrying after a timeout: MIT may have created the link although we saw no answer
(`outcome_unknown`). Callers retry with the SAME reference and amount; the local sandbox
answers such a repeat with the same link, and a reference is never reused for another amount.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from paylink_tui.domain import promotions
from paylink_tui.domain.hosts import is_loopback_url
from paylink_tui.domain.money import CENT, mit_amount
from paylink_tui.domain.text import describe_char, find_control_char
from paylink_tui.domain.validity import fh_vigencia
from paylink_tui.gateway.base import (
    MAX_EXTRA,
    CreatedLink,
    LinkRequest,
    Notification,
    Transaction,
)
from paylink_tui.gateway.crypto import CryptoError, decrypt, encrypt, key_bytes
from paylink_tui.gateway.errors import (
    GatewayBadResponse,
    GatewayConfigInvalid,
    GatewayHTTPError,
    GatewayNotConfigured,
    GatewayRefused,
    GatewayUnavailable,
    GatewayValidationError,
    InvalidLinkRequest,
)
from paylink_tui.gateway.messages import (
    Business,
    UnsafeXML,
    build_envelope,
    build_request_xml,
    parse_notification,
    parse_xml,
    text_of,
)
from paylink_tui.gateway.mit_query import MitQuery

if TYPE_CHECKING:
    from paylink_tui.config import Settings

log = logging.getLogger(__name__)

CURRENCIES = ("MXN", "USD")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RETRY_ADVICE = "Puede reintentar en unos momentos."
_UNKNOWN_ADVICE = (
    "Es posible que MIT sí haya generado la liga: reintente con la misma referencia "
    "(no genere una nueva) para obtenerla sin duplicar."
)


def _check_text(field: str, value: str, low: int, high: int) -> None:
    if len(value) < low:
        raise InvalidLinkRequest(field, "no puede estar vacío")
    if len(value) > high:
        raise InvalidLinkRequest(
            field, f"debe tener como máximo {high} caracteres (tiene {len(value)})"
        )
    ch = find_control_char(value)
    if ch is not None:
        raise InvalidLinkRequest(field, f"contiene un {describe_char(ch)}")
    bad = next((c for c in value if c in "\ufffe\uffff" or "\ud800" <= c <= "\udfff"), None)
    if bad is not None:  # not representable in XML 1.0
        raise InvalidLinkRequest(field, f"contiene un carácter no válido U+{ord(bad):04X}")


def validate_request(req: LinkRequest) -> None:
    """MIT's limits, checked before anything is sent."""
    _check_text("referencia", req.reference or "", 1, 40)
    if req.reference != req.reference.strip():
        raise InvalidLinkRequest("referencia", "no debe empezar ni terminar con espacios")
    amount = req.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidLinkRequest("monto", "debe ser un número decimal")
    if amount <= 0:
        raise InvalidLinkRequest("monto", "debe ser mayor que cero")
    if amount != amount.quantize(CENT):
        raise InvalidLinkRequest("monto", "admite como máximo dos decimales")
    if amount >= Decimal("1e10"):
        raise InvalidLinkRequest("monto", "es demasiado grande")
    if req.currency not in CURRENCIES:
        raise InvalidLinkRequest("moneda", f"debe ser MXN o USD (se recibió «{req.currency}»)")
    if req.email:
        _check_text("correo del cliente", req.email, 1, 50)
        if not _EMAIL.match(req.email):
            raise InvalidLinkRequest("correo del cliente", "no parece una dirección de correo")
    if len(req.extra) > MAX_EXTRA:
        raise InvalidLinkRequest(
            "datos adicionales", f"se admiten como máximo {MAX_EXTRA} (hay {len(req.extra)})"
        )
    for n, (label, value) in enumerate(req.extra, start=1):
        _check_text(f"dato adicional {n}, etiqueta", label, 1, 30)
        _check_text(f"dato adicional {n}, valor", value, 1, 50)
    _check_plans(req)


def _check_plans(req: LinkRequest) -> None:
    """promociones as MIT's XSD wants it (`C,3,6`, at most 40 characters), MXN only."""
    if not req.plans:
        return
    if req.currency != promotions.CURRENCY:
        raise InvalidLinkRequest("promociones", "los meses sin intereses solo se ofrecen en MXN")
    if any(not isinstance(m, int) or not 1 <= m <= 99 for m in req.plans):
        raise InvalidLinkRequest("promociones", "cada plan debe ser de 1 a 99 meses")
    text = promotions.promociones(req.plans)
    if len(text) > promotions.MAX_PROMOCIONES:
        raise InvalidLinkRequest(
            "promociones",
            f"debe tener como máximo {promotions.MAX_PROMOCIONES} caracteres (tiene {len(text)})")


def _validate_business(id_company: str, id_branch: str, user: str, password: str) -> None:
    checks = (
        ("PAYLINK_MIT_ID_COMPANY", id_company, 4, 4, "debe tener exactamente 4 caracteres"),
        ("PAYLINK_MIT_ID_BRANCH", id_branch, 1, 11, "debe tener de 1 a 11 caracteres"),
        ("PAYLINK_MIT_USER", user, 8, 20, "debe tener de 8 a 20 caracteres"),
        ("PAYLINK_MIT_PASSWORD", password, 1, 80, "debe tener de 1 a 80 caracteres"),
    )
    for setting, value, low, high, reason in checks:
        if not low <= len(value or "") <= high or find_control_char(value or ""):
            raise GatewayConfigInvalid(setting, reason)


class MitGateway:
    """PaymentGateway against MIT's `/gen` (or the sandbox, which speaks the same)."""

    def __init__(
        self,
        gen_url: str,
        data0: str,
        key: str,
        id_company: str,
        id_branch: str,
        user: str,
        password: str,
        *,
        extra_data_in: str = "url",
        notify_payer: bool = False,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
        query_url: str | None = None,
        query_key: str | None = None,
    ) -> None:
        if not gen_url or not gen_url.startswith(("http://", "https://")):
            raise GatewayConfigInvalid("PAYLINK_MIT_GEN_URL", "debe ser una URL http(s)")
        if gen_url.startswith("http://") and not is_loopback_url(gen_url):
            # The request carries MIT's user and password (encrypted with the key, which has
            # no MAC): outside this machine it goes over TLS only.
            raise GatewayConfigInvalid(
                "PAYLINK_MIT_GEN_URL",
                "debe empezar con https:// (http:// solo se admite hacia esta misma máquina: "
                "localhost o 127.0.0.1)")
        if not data0 or find_control_char(data0):
            raise GatewayConfigInvalid("PAYLINK_MIT_DATA0", "está vacío o es inválido")
        try:
            key_bytes(key)
        except CryptoError:
            raise GatewayConfigInvalid(
                "PAYLINK_MIT_KEY", "debe tener 32 caracteres hexadecimales"
            ) from None
        if extra_data_in not in ("url", "root"):
            raise GatewayConfigInvalid("PAYLINK_MIT_EXTRA_DATA_IN", "use «url» o «root»")
        _validate_business(id_company, id_branch, user, password)
        self.gen_url = gen_url
        self._data0 = data0
        self._key = key
        self._business = Business(id_company, id_branch, user, password)
        self.extra_data_in = extra_data_in
        self.notify_payer = notify_payer
        self.timeout = timeout
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=False,
        )
        # MIT's transaction query: its own URL and (usually the same) key.
        self._query = MitQuery(query_url, data0, query_key or key, self._business,
                               timeout=timeout, client=self._client) if query_url else None

    def __repr__(self) -> str:  # never show the key or the password
        return f"MitGateway(gen_url={self.gen_url!r})"

    @classmethod
    def from_settings(cls, settings: Settings, *, client: httpx.Client | None = None) -> MitGateway:
        # Asked for MIT explicitly: everything MIT needs must be present, whatever
        # PAYLINK_GATEWAY says.
        missing = settings.model_copy(update={"gateway": "mit"}).missing_gateway_settings()
        if missing or settings.mit_key is None or settings.mit_password is None:
            raise GatewayNotConfigured(missing)
        return cls(
            settings.mit_gen_url or "",
            settings.mit_data0 or "",
            settings.mit_key.get_secret_value(),
            settings.mit_id_company or "",
            settings.mit_id_branch or "",
            settings.mit_user or "",
            settings.mit_password.get_secret_value(),
            extra_data_in=settings.mit_extra_data_in,
            notify_payer=bool(settings.mit_notify_payer),
            timeout=settings.mit_timeout,
            client=client,
            query_url=settings.mit_query_url,
            query_key=(settings.mit_query_key.get_secret_value()
                       if settings.mit_query_key else None),
        )

    # -- the request -------------------------------------------------------------------

    def request_xml(self, req: LinkRequest) -> str:
        """The plaintext request (contains the password: never log it)."""
        validate_request(req)
        return build_request_xml(
            self._business,
            reference=req.reference,
            amount=mit_amount(req.amount),
            moneda=req.currency,
            omitir_notif_default="0" if self.notify_payer else "1",
            fh_vigencia=fh_vigencia(req.valid_through),
            mail_cliente=req.email,
            extra=req.extra,
            extra_data_in=self.extra_data_in,
            promociones=promotions.promociones(req.plans),
        )

    def create_link(self, req: LinkRequest) -> CreatedLink:
        plaintext = self.request_xml(req)
        envelope = build_envelope(self._data0, encrypt(plaintext, self._key))
        try:
            response = self._client.post(self.gen_url, data={"xml": envelope})
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            log.warning("link %s: MIT unreachable", req.reference)
            raise GatewayUnavailable(
                "No se pudo conectar con MIT (sin conexión o el servicio no responde). "
                "La liga no se generó. " + _RETRY_ADVICE
            ) from None
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            log.warning("link %s: MIT timed out after the request was sent", req.reference)
            raise GatewayUnavailable(
                f"MIT no respondió a tiempo ({self.timeout:g} s). " + _UNKNOWN_ADVICE,
                outcome_unknown=True,
            ) from None
        except httpx.TransportError:
            log.warning("link %s: connection to MIT broken", req.reference)
            raise GatewayUnavailable(
                "Se perdió la conexión con MIT durante la solicitud. " + _UNKNOWN_ADVICE,
                outcome_unknown=True,
            ) from None
        try:
            link = self._read_response(response)
        except Exception as exc:
            log.warning("link %s: failed (%s)", req.reference, type(exc).__name__)
            raise
        log.info("link %s: created %s", req.reference, link.link_id)
        return link

    # -- the answer --------------------------------------------------------------------

    def _read_response(self, response: httpx.Response) -> CreatedLink:
        status = response.status_code
        if status >= 400:
            raise _http_error(status)
        body = response.text.strip()
        if body.startswith(("[", "{")):
            raise _json_errors(body)
        if 300 <= status < 400 or not body:
            raise GatewayBadResponse(
                f"MIT respondió sin contenido útil (HTTP {status}). " + _UNKNOWN_ADVICE,
                retryable=True,
            )
        try:
            xml_text = decrypt(body, self._key)
            root = parse_xml(xml_text.strip())
        except (CryptoError, UnsafeXML):
            raise GatewayBadResponse(
                "La respuesta de MIT no se pudo descifrar o leer (¿llave incorrecta o "
                "respuesta dañada?). " + _UNKNOWN_ADVICE,
                retryable=True,
            ) from None
        if root.tag != "P_RESPONSE":
            raise GatewayBadResponse(
                "La respuesta de MIT no tiene el formato esperado (P_RESPONSE). "
                + _UNKNOWN_ADVICE,
                retryable=True,
            )
        cd = text_of(root, "cd_response")
        if cd.lower() != "success":
            raise GatewayRefused(cd, text_of(root, "nb_response"))
        url = text_of(root, "nb_url")
        if not url.startswith(("http://", "https://")):
            raise GatewayBadResponse(
                "MIT indicó éxito pero no envió una liga válida. " + _UNKNOWN_ADVICE,
                retryable=True,
            )
        link_id = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or None
        return CreatedLink(url=url, link_id=link_id)

    # -- notifications and the rest ------------------------------------------------------

    def parse_notification(self, str_response: str) -> Notification:
        return parse_notification(str_response, self._key)

    @property
    def can_query(self) -> bool:
        return self._query is not None

    def query(self, reference: str, day: date) -> list[Transaction]:
        """MIT's transaction query (gateway/mit_query.py)."""
        if self._query is None:
            raise GatewayNotConfigured(["PAYLINK_MIT_QUERY_URL"])
        return self._query.query(reference, day)

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> MitGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _http_error(status: int) -> GatewayHTTPError:
    if status in (408, 429, 503):
        return GatewayHTTPError(
            status,
            f"MIT no atendió la solicitud (HTTP {status}). La liga no se generó. "
            + _RETRY_ADVICE,
            retryable=True,
        )
    if status >= 500:
        err = GatewayHTTPError(
            status,
            f"MIT respondió con un error del servidor (HTTP {status}). " + _UNKNOWN_ADVICE,
            retryable=True,
        )
        err.outcome_unknown = True
        return err
    return GatewayHTTPError(
        status,
        f"MIT rechazó la solicitud (HTTP {status}). Revise la URL de generación "
        "(PAYLINK_MIT_GEN_URL); reintentar igual no servirá.",
        retryable=False,
    )


def _json_errors(body: str) -> GatewayValidationError | GatewayBadResponse:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return GatewayBadResponse(
            "MIT respondió con un contenido que no se pudo leer. " + _UNKNOWN_ADVICE,
            retryable=True,
        )
    items = data if isinstance(data, list) else [data]
    errors: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, dict):
            field = str(item.get("field") or "")
            msg = str(item.get("defaultMessage") or item.get("message") or "dato inválido")
            errors.append((field, msg))
    return GatewayValidationError(errors)
