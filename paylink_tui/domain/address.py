"""The one rule for a client's email address, wherever it enters: the "Liga de pago" dialog,
`paylink-tui link --email`, the import's `email` column, a resend to a corrected address,
and the mail step that finally sends to it (mail/message.py). An address this accepts is
one the mail step sends; one it refuses is refused at entry, before any link is made.

Accents or «ñ» before the «@» (josé@gmail.com, muñoz@gmail.com) are refused. Such a mailbox
(SMTPUTF8, RFC 6531) can only be delivered when our mail server AND the client's both speak
SMTPUTF8, and we can ask only ours: the client's server answers hours later with a bounce,
long after the link was made and the agent moved on. The big providers do not even hand
out such mailboxes (a Gmail or Outlook user name is ASCII), so josé@gmail.com is nearly
always jose@gmail.com typed with the accent of the client's name: the message says so.
An internationalised domain (cliente@peña.mx) is accepted: it travels as punycode
(xn--pea-8ma.mx), which every server carries.

No DNS look-ups: a pure function, so typing never waits on the network.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from paylink_tui.domain.text import CONTROL_RE, strip_accents

EXAMPLE = "nombre@dominio.com"


class AddressRefused(ValueError):
    """`reason` says why and what to do, in Spanish, without the address (the caller quotes
    it where it fits: a dialog, a command's error, an import row)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validated(raw: str) -> ValidatedEmail:
    """email-validator's result for an address the rule accepts; AddressRefused otherwise."""
    text = (raw or "").strip()
    if not text:
        raise AddressRefused("está vacío")
    if CONTROL_RE.search(text):
        raise AddressRefused("contiene caracteres de control (saltos de línea, tabuladores…)")
    if "@" not in text:
        raise AddressRefused(f"le falta la arroba (@); ejemplo de correo válido: {EXAMPLE}")
    if text.count("@") > 1:
        raise AddressRefused("tiene más de una arroba (@)")
    if " " in text:
        raise AddressRefused("contiene espacios")
    local, domain = text.split("@")
    if not local.isascii():
        raise AddressRefused(_accented_local(local, domain))
    try:
        return validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise AddressRefused(
            f"el usuario o el dominio no son válidos; ejemplo de correo válido: {EXAMPLE}"
        ) from None


def normalized(raw: str) -> str:
    """The address as stored and shown: email-validator's normalised form."""
    return validated(raw).normalized


def _accented_local(local: str, domain: str) -> str:
    reason = ("lleva acentos, «ñ» u otras letras especiales antes de la «@», y esos correos "
              "casi nunca llegan (el servidor del cliente tendría que admitirlos)")
    plain = strip_accents(local)
    if plain.isascii() and plain:
        try:
            suggestion = validate_email(f"{plain}@{domain}", check_deliverability=False,
                                        allow_smtputf8=False).normalized
        except EmailNotValidError:
            suggestion = None
        if suggestion:
            return f"{reason}. Confírmelo con el cliente: casi siempre es sin acentos, «{suggestion}»"
    return f"{reason}. Pida al cliente su correo tal como lo escribe en su buzón"


def check_email(email: str | None) -> str:
    """The normalised address, or InvalidEmail (a LinkError the agent reads) with the
    Spanish reason: what the dialog, `link --email` and a resend check."""
    from paylink_tui.domain.errors import InvalidEmail

    raw = (email or "").strip()
    if not raw:
        raise InvalidEmail("Falta el correo electrónico del cliente.")
    try:
        return normalized(raw)
    except AddressRefused as exc:
        raise InvalidEmail(refused_email_message(raw, exc)) from None


def refused_email_message(raw: str, exc: AddressRefused) -> str:
    shown = raw if raw.isprintable() else repr(raw)
    return f"El correo electrónico «{shown}» no es válido: {exc.reason}."
