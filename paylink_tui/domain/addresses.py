"""The client's email address: one rule wherever an address enters (the link dialog, `link
--email`, resend). Pure: the TUI checks it as the agent types, with no network."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from paylink_tui.domain.errors import InvalidEmail


def check_email(email: str | None) -> str:
    """The normalised address, or InvalidEmail with a Spanish reason. No DNS lookups."""
    raw = (email or "").strip()
    if not raw:
        raise InvalidEmail("Falta el correo electrónico del cliente.")
    shown = raw if raw.isprintable() else repr(raw)
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        if "@" not in raw:
            why = "le falta la arroba (@)"
        elif raw.count("@") > 1:
            why = "tiene más de una arroba (@)"
        elif " " in raw:
            why = "contiene espacios"
        else:
            why = "el usuario o el dominio no son válidos"
        raise InvalidEmail(
            f"El correo electrónico «{shown}» no es válido: {why}. "
            "Ejemplo de correo válido: nombre@dominio.com."
        ) from None
    return result.normalized
