"""Building a MIME message safely: validated addresses, no control characters in headers.

Everything is UTF-8: names and subjects with ñ and accents are encoded by the email
package (RFC 2047), and both parts are quoted-printable so that any server carries them
intact (no reliance on 8BITMIME).
"""

from __future__ import annotations

from datetime import datetime, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from email_validator import ValidatedEmail

from paylink_tui.domain import address as client_address
from paylink_tui.domain.text import describe_char, find_control_char
from paylink_tui.mail.errors import HeaderInjection, InvalidAddress

_FIELD_NAMES = {
    "to": "destinatario",
    "from": "remitente",
    "reply_to": "responder a",
    "from_name": "nombre del remitente",
    "subject": "asunto",
}


def check_header(value: str | None, field: str) -> None:
    """Refuse a header value with a CR, LF or any other control character."""
    if value is None:
        return
    ch = find_control_char(value)
    if ch is not None:
        where = _FIELD_NAMES.get(field, field)
        raise HeaderInjection(
            f"El campo «{where}» del correo contiene un {describe_char(ch)}; "
            "no se permiten caracteres de control en los encabezados."
        )


def validate_address(address: str | None, field: str = "to") -> str:
    """The normalised address, or InvalidAddress / HeaderInjection with a Spanish message.

    The rule is domain/address.py's, the one every entry point applies: an address accepted
    where it was typed or imported is one this sends to."""
    where = _FIELD_NAMES.get(field, field)
    raw = address or ""
    check_header(raw, field)
    raw = raw.strip()
    if not raw:
        raise InvalidAddress(f"La dirección de correo ({where}) está vacía.")
    return _validated(raw, where).normalized


def _validated(raw: str, where: str) -> ValidatedEmail:
    try:
        return client_address.validated(raw)
    except client_address.AddressRefused as exc:
        raise InvalidAddress(
            f"La dirección de correo ({where}) «{raw}» no es válida: {exc.reason}."
        ) from None


def _wire(address: str, field: str) -> str:
    """The address as it travels: validated, an internationalised domain in punycode."""
    check_header(address, field)
    return _validated((address or "").strip(), _FIELD_NAMES.get(field, field)).ascii_email


def new_message_id(from_addr: str) -> str:
    """A globally unique Message-ID on the sender's domain, fixed when the mail is queued."""
    try:
        domain = _validated(from_addr.strip(), "remitente").ascii_domain
    except InvalidAddress:
        domain = "paylink-tui.invalid"
    return make_msgid(domain=domain)


def build_message(
    *,
    to: str,
    from_addr: str,
    from_name: str | None,
    reply_to: str | None,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """A multipart/alternative message (text first, then HTML), headers checked.

    `date` is when the message was queued (RFC 5322: when it was ready to enter the
    mail system), so a message sent again after a crash is identical to the first.
    """
    validate_address(to, "to")  # the Spanish errors for empty / missing «@»
    to = _wire(to, "to")
    from_addr = _wire(from_addr, "from")
    if reply_to:
        reply_to = _wire(reply_to, "reply_to")
    check_header(from_name, "from_name")
    check_header(subject, "subject")
    check_header(message_id, "message_id")

    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(display_name=from_name or "", addr_spec=from_addr)
    msg["To"] = Address(addr_spec=to)
    if reply_to:
        msg["Reply-To"] = Address(addr_spec=reply_to)
    msg["Subject"] = subject
    when = date if date.tzinfo else date.replace(tzinfo=timezone.utc)
    msg["Date"] = format_datetime(when.astimezone(timezone.utc))
    msg["Message-ID"] = message_id
    msg["Content-Language"] = "es-MX"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
