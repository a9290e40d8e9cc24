"""MIT's transaction query: SOAP 1.1 `xmltransacciones`, the encrypted form.

MIT publishes no documentation for it; the shapes below are what public integrations of the
same service agree on (docs/mit-webpay-plus.md, "Querying a transaction"), every element
name exact:
- request: a SOAP envelope whose `wst:in0` is the merchant's data0 and `wst:in1` the
  ciphertext (AES-128-CBC, random IV prepended, base64: gateway/crypto.py) of a fragment
  WITHOUT a root element, `<user/><pwd/><id_company/><date/><id_branch/><reference/>` in
  that order; `in2`..`in5` empty;
- answer: `transaccionesResponse/out`, the ciphertext of two sibling elements,
  `<transacciones>…</transacciones><transaccionesCautM>…</transaccionesCautM>`, each a list
  of `<transaccion>`; `nu_operaion` (sic) is the notification's `foliocpagos` zero-padded
  to 9 digits.
The builders of the answer are here too: the local sandbox serves the same endpoint.
"""

from __future__ import annotations

import ipaddress
import logging
import xml.etree.ElementTree as ET  # noqa: S405 - parsing goes through messages.parse_xml
from collections.abc import Iterable, Mapping
from datetime import date
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import httpx

from paylink_tui.gateway.base import Transaction
from paylink_tui.gateway.crypto import CryptoError, decrypt, encrypt, key_bytes
from paylink_tui.gateway.errors import (
    GatewayConfigInvalid,
    QueryEmpty,
    QueryFault,
    QueryGarbage,
    QueryHTTPError,
    QueryTimeout,
    QueryUnavailable,
    QueryUndecryptable,
)
from paylink_tui.gateway.messages import Business, UnsafeXML, parse_xml, read_amount

log = logging.getLogger(__name__)

QUERY_PATH = "/pgs/services/xmltransacciones"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WST_NS = "http://wstrans.cpagos"
CONTENT_TYPE = "text/xml; charset=utf-8"
# A day's full list (empty reference) can be long; a per-reference answer is a few KB.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
OPERATION_DIGITS = 9

# Every child of <transaccion>, in MIT's order (`token` only on newer accounts).
TRANSACTION_FIELDS = (
    "nu_operaion", "cd_usuario", "cd_empresa", "nu_sucursal", "nu_afiliacion",
    "nb_referencia", "cc_nombre", "cc_num", "cc_tp", "nu_importe", "cd_tipopago",
    "cd_tipocobro", "cd_instrumento", "nb_response", "nu_auth", "fh_registro", "fh_bank",
    "cd_usrtransaccion", "tp_operacion", "nb_currency", "cd_resp", "nb_resp",
)
# Kept out of what is stored: a card token must never be stored.
_NOT_KEPT = ("token",)


def same_operation(a: str | None, b: str | None) -> bool:
    """MIT's operation numbers compare without leading zeros (000450723 == 450723)."""
    if not a or not b:
        return False
    return a.strip().lstrip("0") == b.strip().lstrip("0")


def padded_operation(folio: str) -> str:
    """A folio as the query lists it: zero-padded to 9 digits (longer ones unchanged)."""
    return folio.strip().rjust(OPERATION_DIGITS, "0")


# -- the request -------------------------------------------------------------------------------


def query_fragment(business: Business, day: date, reference: str) -> str:
    """The plaintext (contains the password: never log it)."""
    parts = (("user", business.user), ("pwd", business.pwd),
             ("id_company", business.id_company), ("date", day.strftime("%d/%m/%Y")),
             ("id_branch", business.id_branch), ("reference", reference))
    return "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in parts)


def query_envelope(data0: str, ciphertext: str) -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:wst="{WST_NS}">'
        "<soapenv:Header/><soapenv:Body><wst:transacciones>"
        f"<wst:in0>{escape(data0)}</wst:in0><wst:in1>{escape(ciphertext)}</wst:in1>"
        "<wst:in2></wst:in2><wst:in3></wst:in3><wst:in4></wst:in4><wst:in5></wst:in5>"
        "</wst:transacciones></soapenv:Body></soapenv:Envelope>"
    )


# -- the answer (built by the sandbox, read by the client) -------------------------------------


def answer_envelope(ciphertext: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
        f'<ns1:transaccionesResponse xmlns:ns1="{WST_NS}"><ns1:out>{escape(ciphertext)}'
        "</ns1:out></ns1:transaccionesResponse></soap:Body></soap:Envelope>"
    )


def fault_envelope(fault_code: str, fault_string: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP_NS}">'
        f"<soap:Body><soap:Fault><faultcode>{escape(fault_code)}</faultcode>"
        f"<faultstring>{escape(fault_string)}</faultstring></soap:Fault></soap:Body>"
        "</soap:Envelope>"
    )


def transactions_xml(sales: Iterable[Mapping[str, str]],
                     automatic: Iterable[Mapping[str, str]] = ()) -> str:
    """`<transacciones>…</transacciones><transaccionesCautM>…</transaccionesCautM>`, each
    `<transaccion>` with every field in MIT's order (missing ones empty)."""

    def block(tag: str, rows: Iterable[Mapping[str, str]]) -> str:
        items = "".join(
            "<transaccion>" + "".join(
                f"<{name}>{escape(row.get(name, ''))}</{name}>" for name in TRANSACTION_FIELDS
            ) + "</transaccion>"
            for row in rows
        )
        return f"<{tag}>{items}</{tag}>"

    return block("transacciones", sales) + block("transaccionesCautM", automatic)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    return next((el for el in root.iter() if _local(el.tag) == name), None)


def read_answer(status: int, body: bytes, key: str) -> list[Transaction]:
    """MIT's HTTP answer -> its transactions, or the typed failure."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        if status >= 400:
            raise QueryHTTPError(status)
        raise QueryEmpty
    try:
        envelope = parse_xml(text, max_chars=MAX_ANSWER_BYTES)
    except UnsafeXML:
        envelope = None
    if envelope is not None:
        fault = _find(envelope, "Fault")
        if fault is not None:
            code = _child_text(fault, "faultcode")
            message = _child_text(fault, "faultstring")
            raise QueryFault(code[:100], message[:300])
    if status >= 400:
        raise QueryHTTPError(status)
    if envelope is None or _local(envelope.tag) != "Envelope":
        raise QueryGarbage
    out = _find(envelope, "out")
    if out is None:
        raise QueryGarbage
    ciphertext = (out.text or "").strip()
    if not ciphertext:
        raise QueryEmpty
    try:
        plaintext = decrypt(ciphertext, key)
    except CryptoError:
        raise QueryUndecryptable from None
    return parse_transactions(plaintext)


def _child_text(parent: ET.Element, name: str) -> str:
    el = next((c for c in parent if _local(c.tag) == name), None)
    return (el.text or "").strip() if el is not None else ""


def parse_transactions(plaintext: str) -> list[Transaction]:
    """The decrypted `out`: two sibling elements with no common root, wrapped to parse."""
    body = plaintext.strip()
    if body.startswith("<?xml"):
        end = body.find("?>")
        body = body[end + 2:] if end >= 0 else body
    try:
        root = parse_xml(f"<respuesta>{body}</respuesta>", max_chars=MAX_ANSWER_BYTES)
    except UnsafeXML:
        raise QueryGarbage from None
    sales = root.find("transacciones")
    if sales is None:
        raise QueryGarbage
    found = [_transaction(el, automatic=False) for el in sales.findall("transaccion")]
    automatic = root.find("transaccionesCautM")
    if automatic is not None:
        found += [_transaction(el, automatic=True) for el in automatic.findall("transaccion")]
    return found


def _transaction(el: ET.Element, *, automatic: bool) -> Transaction:
    def t(name: str) -> str:
        child = el.find(name)
        return (child.text or "").strip() if child is not None else ""

    for name in _NOT_KEPT:
        for child in el.findall(name):
            el.remove(child)
    operation = t("nu_operaion")
    return Transaction(
        operation=(operation.lstrip("0") or "0") if operation else "",
        reference=t("nb_referencia"),
        amount=read_amount(t("nu_importe")),
        response=t("nb_response").lower(),
        auth=t("nu_auth"),
        registered=t("fh_registro"),
        bank_date=t("fh_bank"),
        payment_type=t("cd_tipopago"),
        charge_type=t("cd_tipocobro"),
        instrument=t("cd_instrumento"),
        card_last4=t("cc_num"),
        card_brand=t("cc_tp"),
        operation_type=t("tp_operacion"),
        currency=t("nb_currency"),
        bank_code=t("cd_resp"),
        bank_message=t("nb_resp"),
        user=t("cd_usuario"),
        company=t("cd_empresa"),
        branch=t("nu_sucursal"),
        automatic=automatic,
        raw_xml=ET.tostring(el, encoding="unicode"),
    )


# -- the client ------------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_query_url(url: str) -> str:
    """https, or http to loopback only: over plain HTTP anyone on the way could answer that
    a forged payment is real, and the answer is what every approval rests on."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GatewayConfigInvalid("PAYLINK_MIT_QUERY_URL", "debe ser una URL https://")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise GatewayConfigInvalid(
            "PAYLINK_MIT_QUERY_URL", "debe usar https:// (http:// solo se admite en esta máquina)")
    return url


class MitQuery:
    """`query(reference, day)` against one xmltransacciones URL, over a reused client."""

    def __init__(self, url: str, data0: str, key: str, business: Business, *,
                 timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        self.url = check_query_url(url)
        try:
            key_bytes(key)
        except CryptoError:
            raise GatewayConfigInvalid(
                "PAYLINK_MIT_QUERY_KEY", "debe tener 32 caracteres hexadecimales") from None
        self._data0 = data0
        self._key = key
        self._business = business
        self.timeout = timeout
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)), follow_redirects=False)

    def __repr__(self) -> str:  # never the key or the password
        return f"MitQuery(url={self.url!r})"

    def query(self, reference: str, day: date) -> list[Transaction]:
        envelope = query_envelope(
            self._data0, encrypt(query_fragment(self._business, day, reference), self._key))
        headers = {"Content-Type": CONTENT_TYPE, "SOAPAction": '""'}
        try:
            with self._client.stream("POST", self.url, content=envelope.encode("utf-8"),
                                     headers=headers) as response:
                body = _read_capped(response)
                status = response.status_code
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            log.warning("query %r %s: MIT unreachable", reference or "(all)", day)
            raise QueryUnavailable from None
        except (httpx.ReadTimeout, httpx.WriteTimeout):
            log.warning("query %r %s: MIT timed out", reference or "(all)", day)
            raise QueryTimeout(self.timeout) from None
        except httpx.TransportError:
            log.warning("query %r %s: connection to MIT broken", reference or "(all)", day)
            raise QueryUnavailable from None
        try:
            found = read_answer(status, body, self._key)
        except QueryFault as exc:
            log.warning("query %r %s: SOAP fault %r: %r", reference or "(all)", day,
                        exc.fault_code, exc.fault_string)
            raise
        except Exception as exc:
            log.warning("query %r %s: failed (%s, HTTP %s)", reference or "(all)", day,
                        getattr(exc, "kind", type(exc).__name__), status)
            raise
        log.info("query %r %s: %d transaction(s)", reference or "(all)", day, len(found))
        return found

    def close(self) -> None:
        if self._own_client:
            self._client.close()


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise QueryGarbage
        chunks.append(chunk)
    return b"".join(chunks)
