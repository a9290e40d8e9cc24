"""MIT's XML messages: the link request, the P_RESPONSE answer and the CENTEROFPAYMENTS
notification. Built with ElementTree (so names like `Peña & Hijos` are escaped) and parsed
defensively with defusedxml: no DTDs or entities, a size cap, a nesting-depth cap.

Real notifications come in forms a strict reader would refuse (docs: "What real
notifications look like"): a malformed declaration (`<?xml version='1.0'encoding='UTF-8'?>`),
pretty-printing, a stray text node after the root's start tag, fields we don't know. Every
one of them is read as a clean one; only what is not a CENTEROFPAYMENTS document at all is
rejected, always with the same message (the reason goes to `NotificationRejected.reason`)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - only to build; parsing goes through defusedxml
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from paylink_tui.gateway.base import Notification
from paylink_tui.gateway.crypto import CryptoError, decrypt
from paylink_tui.gateway.errors import NotificationRejected

MAX_XML_CHARS = 64_000
# CENTEROFPAYMENTS/datos_adicionales/data/label is 4 deep. A document 5,000 deep parses (expat
# does not recurse) but ElementTree's serialiser does, and raised RecursionError downstream.
MAX_XML_DEPTH = 16
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# Every child of <CENTEROFPAYMENTS>, in MIT's order (datos_adicionales comes last).
NOTIFICATION_FIELDS = (
    "reference", "response", "foliocpagos", "auth", "cd_response", "cd_error", "nb_error",
    "time", "date", "nb_company", "nb_merchant", "cc_type", "tp_operation", "cc_name",
    "cc_number", "amount", "id_url", "email", "cc_mask",
)


class UnsafeXML(ValueError):
    """XML refused before or while parsing (too big, DTD/entities, too deep, malformed)."""


# Any XML declaration in front of the root, well-formed or not: public integrations strip
# MIT's `<?xml version='1.0'encoding='UTF-8'?>` (no space) by hand before parsing.
_DECLARATION = re.compile(r"\A\ufeff?\s*<\?xml(?:\s[^>]*|[^>\s][^>]*)?\?>", re.IGNORECASE)
# '&' that starts no entity or character reference: "Peña & Hijos" as a sender wrote it.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")


class _DepthLimitedBuilder(ET.TreeBuilder):
    def __init__(self, max_depth: int) -> None:
        super().__init__()
        self.depth = 0
        self.max_depth = max_depth

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:  # type: ignore[override]
        self.depth += 1
        if self.depth > self.max_depth:
            raise UnsafeXML(f"more than {self.max_depth} levels deep")
        return super().start(tag, attrs)

    def end(self, tag: str) -> ET.Element:  # type: ignore[override]
        self.depth -= 1
        return super().end(tag)


def _parse(text: str, max_depth: int) -> ET.Element:
    parser = DefusedXMLParser(target=_DepthLimitedBuilder(max_depth), forbid_dtd=True,
                              forbid_entities=True, forbid_external=True)
    parser.feed(text)
    return parser.close()


def parse_xml(text: str, max_chars: int = MAX_XML_CHARS, max_depth: int = MAX_XML_DEPTH,
              *, lenient: bool = False) -> ET.Element:
    """Parse untrusted XML with defusedxml (no DTDs, no entities: billion laughs, XXE),
    capped in size and depth. Any declaration in front of the root is dropped first (the
    text is already decoded). `lenient`: a bare '&' is read as text, as its sender meant.
    UnsafeXML says why it was refused, in English, for logs."""
    if len(text) > max_chars:
        raise UnsafeXML("too large")
    text = _DECLARATION.sub("", text, count=1).strip()
    try:
        return _parse(text, max_depth)
    except UnsafeXML:
        raise
    except DefusedXmlException:
        raise UnsafeXML("DTD or entity declarations") from None
    except ET.ParseError as exc:
        repaired = _BARE_AMPERSAND.sub("&amp;", text) if lenient else text
        if repaired != text:
            try:
                return _parse(repaired, max_depth)
            except (UnsafeXML, DefusedXmlException, ET.ParseError):
                pass
        raise UnsafeXML("not well-formed XML") from exc


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text
    return el


def to_text(root: ET.Element) -> str:
    return XML_DECLARATION + ET.tostring(root, encoding="unicode", short_empty_elements=True)


def extra_element(extra: Iterable[tuple[str, str]]) -> ET.Element:
    block = ET.Element("datos_adicionales")
    for i, (label, value) in enumerate(extra, start=1):
        data = ET.SubElement(block, "data", {"id": str(i), "display": "true"})
        _sub(data, "label", label)
        _sub(data, "value", value)
    return block


@dataclass(frozen=True)
class Business:
    id_company: str
    id_branch: str
    user: str
    pwd: str


def build_request_xml(
    business: Business,
    *,
    reference: str,
    amount: str,
    moneda: str,
    omitir_notif_default: str,
    fh_vigencia: str,
    mail_cliente: str | None,
    extra: Sequence[tuple[str, str]] = (),
    extra_data_in: str = "url",
    nb_fpago: str | None = None,
    promociones: str = "C",
) -> str:
    """The request in the element order MIT's SDKs emit."""
    root = ET.Element("P")
    biz = _sub(root, "business")
    _sub(biz, "id_company", business.id_company)
    _sub(biz, "id_branch", business.id_branch)
    _sub(biz, "user", business.user)
    _sub(biz, "pwd", business.pwd)
    if nb_fpago:
        _sub(root, "nb_fpago", nb_fpago)
    url = _sub(root, "url")
    _sub(url, "reference", reference)
    _sub(url, "amount", amount)
    _sub(url, "moneda", moneda)
    _sub(url, "canal", "W")
    _sub(url, "omitir_notif_default", omitir_notif_default)
    _sub(url, "promociones", promociones)
    _sub(url, "st_correo", "1")
    _sub(url, "fh_vigencia", fh_vigencia)
    if mail_cliente:
        _sub(url, "mail_cliente", mail_cliente)
    if extra:
        (url if extra_data_in == "url" else root).append(extra_element(extra))
    _sub(root, "version", "IntegraWPP")
    return to_text(root)


def build_envelope(data0: str, ciphertext: str) -> str:
    """The `xml` form field: `<pgs><data0>..</data0><data>..</data></pgs>`."""
    root = ET.Element("pgs")
    _sub(root, "data0", data0)
    _sub(root, "data", ciphertext)
    return ET.tostring(root, encoding="unicode")


def build_p_response(cd_response: str, nb_response: str = "", nb_url: str = "") -> str:
    """MIT's answer to a generation request (plaintext, before encryption)."""
    root = ET.Element("P_RESPONSE")
    _sub(root, "cd_response", cd_response)
    _sub(root, "nb_response", nb_response)
    _sub(root, "nb_url", nb_url)
    return to_text(root)


def text_of(parent: ET.Element, tag: str) -> str:
    el = parent.find(tag)
    return (el.text or "").strip() if el is not None else ""


def read_extra(parent: ET.Element) -> tuple[tuple[str, str], ...]:
    block = parent.find("datos_adicionales")
    if block is None:
        return ()
    return tuple((text_of(d, "label"), text_of(d, "value")) for d in block.findall("data"))


def build_notification_xml(fields: dict[str, str], extra: Sequence[tuple[str, str]] = (),
                           promocion: str | None = None) -> str:
    """A CENTEROFPAYMENTS document. `promocion` (the plan the payer chose) goes after
    datos_adicionales, where MIT's own samples carry it."""
    root = ET.Element("CENTEROFPAYMENTS")
    for name in NOTIFICATION_FIELDS:
        value = fields.get(name, "")
        el = ET.SubElement(root, name)
        if value:
            el.text = value
    if extra:
        root.append(extra_element(extra))
    if promocion:
        _sub(root, "promocion", promocion)
    return to_text(root)


def read_amount(text: str) -> Decimal | None:
    """An amount as MIT writes it (`2500.00`, `35000`, `1,234.56`); None when missing or not a
    finite number."""
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_notification(str_response: str, key_hex: str) -> Notification:
    """Decrypt and read MIT's strResponse. Missing optional elements become '' (the service
    decides what to review); only bodies that are not ours are rejected, all with the same
    message (NotificationRejected.reason says why, for the log)."""
    if not str_response or not str_response.strip():
        raise NotificationRejected("empty strResponse")
    if len(str_response) > 4 * MAX_XML_CHARS:
        raise NotificationRejected("strResponse too large")
    try:
        xml_text = decrypt(str_response, key_hex)
        root = parse_xml(xml_text, lenient=True)
    except CryptoError as exc:
        raise NotificationRejected(exc.cause) from None
    except UnsafeXML as exc:
        raise NotificationRejected(f"decrypted, but {exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything else is a refusal like the others:
        # a different answer for an unforeseen failure would be an oracle of its own.
        raise NotificationRejected(f"unreadable ({type(exc).__name__})") from None
    if root.tag != "CENTEROFPAYMENTS":
        raise NotificationRejected("decrypted, but not a CENTEROFPAYMENTS document")
    t = lambda tag: text_of(root, tag)  # noqa: E731
    return Notification(
        reference=t("reference"),
        response=t("response").lower(),
        folio=t("foliocpagos"),
        auth=t("auth"),
        cd_response=t("cd_response"),
        cd_error=t("cd_error"),
        nb_error=t("nb_error"),
        time=t("time"),
        date=t("date"),
        nb_company=t("nb_company"),
        nb_merchant=t("nb_merchant"),
        cc_type=t("cc_type"),
        tp_operation=t("tp_operation"),
        cc_name=t("cc_name"),
        cc_number=t("cc_number"),
        amount=read_amount(t("amount")),
        id_url=t("id_url"),
        email=t("email"),
        cc_mask=t("cc_mask"),
        promocion=t("promocion"),
        extra=read_extra(root),
        raw_xml=xml_text,
    )
