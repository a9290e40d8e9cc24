"""The refusals of the team-mode API itself (not of a use case), as AgentErrors so that the
remote client raises them like any other (`domain.errors.error_kinds` finds them once this
module is imported: backend/codec.py imports it). Spanish messages, as every word the agent
reads."""

from __future__ import annotations

from typing import Any

from paylink_tui.domain.errors import AgentError


class InvalidRequest(AgentError):
    """422: a parameter or field of the wrong type, unknown, or missing; `field` names it."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field

    def extra(self) -> dict[str, Any]:
        return {"field": self.field}


class RequestTooLarge(AgentError):
    """413: the request body is over the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"La solicitud es demasiado grande: el límite es de "
                         f"{limit // (1024 * 1024)} MiB.")
        self.limit = limit

    def extra(self) -> dict[str, Any]:
        return {"limit": self.limit}


class TooManyAttempts(AgentError):
    """429: too many failed sign-ins for this user or from this address."""

    retryable = True

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__("Demasiados intentos fallidos de inicio de sesión. Espere "
                         f"{minutes} minuto{'s' if minutes != 1 else ''} e inténtelo de nuevo.")
        self.retry_after = retry_after

    def extra(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}


class PathNotFound(AgentError):
    """404: no such path under /api/v1/."""

    def __init__(self, message: str = "El servidor no conoce esta operación: quizá su versión "
                 "de paylink-tui es más nueva o más antigua que la del servidor.") -> None:
        super().__init__(message)


class ServerError(AgentError):
    """500: the server failed in a way it did not expect (the details are in its log)."""

    retryable = True

    def __init__(self, message: str = "El servidor tuvo un error inesperado; quedó en su "
                 "registro. Inténtelo de nuevo en un momento.") -> None:
        super().__init__(message)
