"""The client's phone as a WhatsApp address (domain.md, "Collecting more: WhatsApp").

A Mexican phone is 10 national digits, or +52 and 10 digits; spaces and dashes between
them are allowed ("55 1234 5678", "+52 55-1234-5678"). Anything else (9 or 11 digits,
letters, parentheses, another country's code, 52 without the +) gets no WhatsApp: the
import keeps the phone as written and reports it.

The address is `https://wa.me/52XXXXXXXXXX?text=…` with the Spanish message (the client's
name, the amount, the link and its validity) URL-encoded. Opening it is the agent's action:
nothing is sent for them.

Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote

from paylink_tui.domain.dates import long_date

WA_ME = "https://wa.me/"
COUNTRY = "52"
_SEPARATORS = re.compile(r"[ \-]+")
_NATIONAL = re.compile(r"[0-9]{10}")
_INTERNATIONAL = re.compile(r"\+52([0-9]{10})")

PHONE_PROBLEM = ("no es un teléfono de 10 dígitos (o +52 y 10 dígitos, con espacios o "
                 "guiones): se guarda como está, pero sin WhatsApp")


def whatsapp_number(phone: str | None) -> str | None:
    """`52` and the 10 national digits, or None when `phone` is not a valid Mexican phone."""
    if not phone:
        return None
    compact = _SEPARATORS.sub("", phone.strip())
    if _NATIONAL.fullmatch(compact):
        return COUNTRY + compact
    m = _INTERNATIONAL.fullmatch(compact)
    if m:
        return COUNTRY + m.group(1)
    return None


def whatsapp_message(*, holder: str, policy: str, amount_text: str, url: str,
                     valid_through: date) -> str:
    """The message the agent sends: who, what for, how much, the link and until when."""
    return (f"Hola, {holder}. Le envío la liga de pago de su póliza {policy} por "
            f"{amount_text}: {url}\n"
            f"La liga es válida hasta el {long_date(valid_through)} a las 23:59.")


def whatsapp_url(phone: str | None, message: str) -> str | None:
    """`https://wa.me/52XXXXXXXXXX?text=<message, URL-encoded>`, or None without a valid
    phone. Every character of the message outside A-Z, a-z, 0-9 and `-._~` is encoded, so
    the text can neither end the query nor add parameters."""
    number = whatsapp_number(phone)
    if number is None:
        return None
    return f"{WA_ME}{number}?text={quote(message, safe='')}"


def link_whatsapp_url(*, phone: str | None, holder: str, policy: str, amount_text: str,
                      url: str | None, valid_through: date) -> str | None:
    """The WhatsApp address for a link (None without a valid phone or without a URL)."""
    if not url:
        return None
    return whatsapp_url(phone, whatsapp_message(holder=holder, policy=policy,
                                                amount_text=amount_text, url=url,
                                                valid_through=valid_through))
