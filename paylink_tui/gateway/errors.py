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


# -- MIT's transaction query (xmltransacciones) ----------------------------------------------
# Every failure to get an answer is retryable: asking again later is always safe (a query
# changes nothing at MIT). Each kind is its own class so that callers and logs can tell them
# apart; none carries MIT's own text to the agent (it goes to the log, cleaned).

_QUERY_LATER = "Se volverá a consultar más tarde; mientras tanto no se aplica ningún pago."


class QueryError(GatewayError):
    """MIT's transaction query did not give a usable answer."""

    retryable = True
    kind = "error"


class QueryUnavailable(QueryError):
    """No connection to the query service (refused, DNS, connect timeout)."""

    kind = "unavailable"

    def __init__(self) -> None:
        super().__init__("No se pudo conectar con el servicio de consulta de MIT. " + _QUERY_LATER)


class QueryTimeout(QueryError):
    """The query was sent and no answer came in time."""

    kind = "timeout"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"La consulta de MIT no respondió a tiempo ({seconds:g} s). "
                         + _QUERY_LATER)


class QueryHTTPError(QueryError):
    """An HTTP error status (without a SOAP fault in the body)."""

    kind = "http"

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(f"La consulta de MIT respondió con un error HTTP {status_code}. "
                         + _QUERY_LATER)


class QueryFault(QueryError):
    """A SOAP fault: MIT read the request and refused it (credentials, date, key...)."""

    kind = "fault"

    def __init__(self, fault_code: str, fault_string: str) -> None:
        self.fault_code = fault_code
        self.fault_string = fault_string  # MIT's text: for the log only
        super().__init__("MIT rechazó la consulta de transacciones (error SOAP). Revise "
                         "PAYLINK_MIT_QUERY_URL, PAYLINK_MIT_QUERY_KEY y las credenciales de "
                         "MIT. " + _QUERY_LATER)


class QueryGarbage(QueryError):
    """An answer that is not MIT's SOAP envelope with `transaccionesResponse/out`, or whose
    decrypted content is not the list of transactions."""

    kind = "garbage"

    def __init__(self) -> None:
        super().__init__("La consulta de MIT respondió algo que no es una lista de "
                         "transacciones. " + _QUERY_LATER)


class QueryEmpty(QueryError):
    """An empty body, or an envelope whose `out` is empty."""

    kind = "empty"

    def __init__(self) -> None:
        super().__init__("La consulta de MIT respondió vacía. " + _QUERY_LATER)


class QueryUndecryptable(QueryError):
    """`out` does not decrypt with the query key."""

    kind = "undecryptable"

    def __init__(self) -> None:
        super().__init__("La respuesta de la consulta de MIT no se pudo descifrar (¿llave "
                         "PAYLINK_MIT_QUERY_KEY incorrecta?). " + _QUERY_LATER)
