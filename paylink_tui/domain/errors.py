"""Errors the agent may read, shared by the services, the backend interface and the API.

Every one carries `.message`, one or more Spanish sentences that say what happened and what
to do, and `.retryable`, whether trying again as it is can help. The UI and the commands show
`.message` as it is; anything that is not an `AgentError` is a bug or an outage, logged with
its traceback and shown as one generic Spanish line (no exception name ever reaches the
agent). The team-mode API sends them as `{"error": {"kind": ClassName, "message": …,
"retryable": …, …}}` and the remote backend raises the same class again (`error_kinds`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class AgentError(Exception):
    """Base of everything the agent may read."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message

    def extra(self) -> dict[str, Any]:
        """Fields besides the message that travel with it (JSON-safe)."""
        return {}


# -- links -----------------------------------------------------------------------------


class LinkError(AgentError):
    """A link could not be made (or changed)."""


class ReceiptNotFound(LinkError):
    pass


class NotPending(LinkError):
    """Paid, settled elsewhere, or (for a policy) nothing left to collect."""


class AlreadyLinked(LinkError):
    def __init__(self, message: str, *, reference: str) -> None:
        super().__init__(message)
        self.reference = reference

    def extra(self) -> dict[str, Any]:
        return {"reference": self.reference}


class MixedReceipts(LinkError):
    pass


class InvalidEmail(LinkError):
    pass


class PlanRefused(LinkError):
    """A meses-sin-intereses plan the link cannot offer (not enabled in the contract, below
    its minimum, or a USD link); refused before MIT is called."""

    def __init__(self, message: str, *, months: int, minimum: Decimal | None = None) -> None:
        super().__init__(message)
        self.months = months
        self.minimum = minimum

    def extra(self) -> dict[str, Any]:
        return {"months": self.months,
                "minimum": None if self.minimum is None else f"{self.minimum:.2f}"}


class GatewayNotConfiguredError(LinkError):
    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        if self.missing == ["PAYLINK_GATEWAY"]:
            text = (
                "No se puede generar la liga: la pasarela de pago no está configurada. "
                "Defina PAYLINK_GATEWAY («mit» para MIT, con sus datos PAYLINK_MIT_*, o "
                "«sandbox» para el simulador) en el entorno o en el archivo de configuración."
            )
        else:
            text = (
                "No se puede generar la liga: faltan datos de la pasarela MIT: "
                f"{', '.join(self.missing)}. Defínalos en el entorno o en el archivo de "
                "configuración."
            )
        super().__init__(text)

    def extra(self) -> dict[str, Any]:
        return {"missing": self.missing}


class GatewayFailure(LinkError):
    """MIT (or the way to it) failed for sure; the message is MIT's, made readable.

    Nothing was stored, unless `.still_unconfirmed` names a link retried after an unknown
    outcome (that link stays unconfirmed)."""

    def __init__(self, message: str, *, retryable: bool = False,
                 still_unconfirmed: str | None = None) -> None:
        if still_unconfirmed:
            message += (
                f" La liga {still_unconfirmed} sigue sin confirmar: el primer intento pudo "
                "haberla creado. Reinténtela más tarde o cancélela."
            )
        super().__init__(message, retryable=retryable)
        self.still_unconfirmed = still_unconfirmed

    def extra(self) -> dict[str, Any]:
        return {"still_unconfirmed": self.still_unconfirmed}


class OutcomeUnknown(LinkError):
    """MIT may have created the link: it stays 'unconfirmed'; retry with the same reference."""

    retryable = True

    def __init__(self, message: str, *, reference: str) -> None:
        super().__init__(message)
        self.reference = reference

    def extra(self) -> dict[str, Any]:
        return {"reference": self.reference}


class LinkNotFound(LinkError):
    pass


class BatchNotFound(AgentError):
    """No batch of the signed-in user under way by that id (another user's, or finished)."""


class LinkStateError(LinkError):
    """The link is not in a state that allows what was asked."""


class BatchTooLarge(LinkError):
    """Many links at once: the choice would make more links than one batch takes."""


# -- review and import -----------------------------------------------------------------


class ReviewError(AgentError):
    """A review action that cannot be done; the message says why."""


class NeedsConfirmation(ReviewError):
    """A held payment differs from the link it is being applied to (amount, time, MIT's
    confirmation): a person must accept it explicitly. `differences`: one Spanish sentence
    each, naming both sides."""

    def __init__(self, notification_id: int, reference: str, differences: list[str]) -> None:
        self.notification_id = notification_id
        self.reference = reference
        self.differences = list(differences)
        super().__init__(
            f"La notificación {notification_id} no coincide con la liga {reference}: "
            + " ".join(self.differences))


class ReconcileError(AgentError):
    """Reconciliation cannot run (MIT's transaction query is not configured or unusable)."""


class ImportFileError(AgentError):
    """The file cannot be read at all (nothing imported)."""


# -- the connection to the use cases (team mode) --------------------------------------------


class BackendUnavailable(AgentError):
    """The database or the agency's server cannot be reached, or answered garbage."""

    retryable = True


class NotSignedIn(AgentError):
    """No session, or it expired: sign in again."""


class SessionExpired(NotSignedIn):
    """The agency server answered 401 to a call of this client: the session ended (expired,
    closed, or the user disabled). The TUI asks for the password again in a dialog; a
    command says to sign in again."""

    def __init__(self, message: str = "Su sesión en el servidor de la agencia terminó. "
                 "Vuelva a entrar con «paylink-tui login».") -> None:
        super().__init__(message)


class Forbidden(AgentError):
    """The signed-in user's role does not allow this."""

    def __init__(self, message: str = "Su usuario no tiene permiso para esta operación. "
                 "Pídasela a un supervisor o al administrador de la agencia.") -> None:
        super().__init__(message)


SIGN_IN_REFUSED = ("Usuario o contraseña incorrectos. Verifíquelos e inténtelo de nuevo; si "
                   "no recuerda su contraseña, pida al administrador que la restablezca.")


class SignInRefused(AgentError):
    """Sign-in refused. One message whatever the cause (unknown user, wrong password,
    disabled user), so that it never tells whether a user exists."""

    def __init__(self, message: str = SIGN_IN_REFUSED) -> None:
        super().__init__(message)


class PasswordChangeRequired(AgentError):
    """The password was right but is a one-time password: sign in again giving a new one."""

    def __init__(self, message: str = "Su contraseña es temporal: elija una contraseña nueva "
                 "para entrar (al menos 10 caracteres).") -> None:
        super().__init__(message)


class UserError(AgentError):
    """A user cannot be added or changed as asked (name taken, unknown, bad role or codes,
    a password too short); the message says which."""


def error_kinds() -> dict[str, type[AgentError]]:
    """Every AgentError class by name, to raise on the client what the server raised."""
    kinds: dict[str, type[AgentError]] = {}
    pending: list[type[AgentError]] = [AgentError]
    while pending:
        cls = pending.pop()
        kinds[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return kinds
