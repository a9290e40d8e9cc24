"""Typed gateway failures.

Each carries `.message` (Spanish, for the agent: what happened and whether retrying makes
sense), `.retryable` and `.outcome_unknown` (True only when MIT may have created the link
although we got no answer). No message ever contains the key, the password or the request.
"""

from __future__ import annotations


class GatewayError(Exception):
    retryable: bool = False
    outcome_unknown: bool = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        outcome_unknown: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return self.message


class GatewayNotConfigured(GatewayError):
    """Settings needed to talk to the gateway are missing."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        names = ", ".join(self.missing)
        super().__init__(
            f"La pasarela de pago no está configurada: falta {names}. "
            "Configúrelo (variables de entorno o archivo de configuración) y vuelva a intentar."
        )


class GatewayUnavailable(GatewayError):
    """No answer: connection refused, DNS, connect or read timeout."""

    retryable = True


class GatewayHTTPError(GatewayError):
    """MIT answered with an HTTP error status."""

    def __init__(self, status_code: int, message: str, *, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.status_code = status_code


class GatewayValidationError(GatewayError):
    """MIT's unencrypted JSON list of rejected fields."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = list(errors)
        parts = "; ".join(f"{field}: {msg}" if field else msg for field, msg in self.errors)
        super().__init__(
            f"MIT rechazó la solicitud por datos inválidos ({parts or 'sin detalle'}). "
            "Corrija la configuración o los datos; reintentar igual no servirá.",
            retryable=False,
        )


class GatewayRefused(GatewayError):
    """MIT decrypted the request and refused it (cd_response other than success)."""

    def __init__(self, cd_response: str, nb_response: str) -> None:
        self.cd_response = cd_response
        self.nb_response = nb_response
        detail = nb_response.strip() or "sin mensaje"
        super().__init__(
            f"MIT no generó la liga: {detail} (código «{cd_response or 'vacío'}»). "
            "Revise los datos o la configuración antes de reintentar.",
            retryable=False,
        )


class GatewayBadResponse(GatewayError):
    """An answer we cannot decrypt or parse; MIT may or may not have created the link."""

    outcome_unknown = True


class InvalidLinkRequest(GatewayError):
    """A field breaks MIT's limits; found before anything is sent."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"Dato inválido para la liga: {field}: {reason}.", retryable=False)


class NotificationRejected(Exception):
    """A notification body that is not ours: not base64, does not decrypt, or is not
    MIT's CENTEROFPAYMENTS XML. Nothing may change because of it.

    Its `message` is the same whatever failed: the sender must learn nothing from it (an
    answer that differs between bad padding and bad XML is a padding oracle: issue 11).
    What failed is in `reason` (a few English words), for the log only."""

    MESSAGE = "Notificación rechazada."

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGE)
        self.message = self.MESSAGE
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class GatewayConfigInvalid(GatewayError):
    """A gateway setting is present but unusable (wrong length, not hex...)."""

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        super().__init__(
            f"Configuración de la pasarela inválida: {setting}: {reason}. "
            "Corríjala; reintentar sin cambiarla no servirá.",
            retryable=False,
        )
