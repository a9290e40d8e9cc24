"""What the agent is told when something happens to their links (the live toasts).

Each event of the backend's log (domain.results.Event) that the agent must hear becomes one
toast that says what happened and what to do next; the others only refresh the screens."""

from __future__ import annotations

from dataclasses import dataclass

from paylink_tui.domain.labels import REVIEW_REASON
from paylink_tui.domain.promotions import months_text
from paylink_tui.domain.results import Event
from paylink_tui.domain.status import ReviewReason


@dataclass(frozen=True)
class Toast:
    title: str
    text: str
    severity: str = "information"  # Textual's: information | warning | error
    timeout: float = 10.0


def _policy(event: Event) -> str:
    return f"póliza {event.policy}" if event.policy else f"referencia {event.reference or '—'}"


def _why(event: Event) -> str:
    message = (event.data.get("nb_error") or "").strip()
    code = (event.data.get("cd_error") or "").strip()
    if message and code:
        return f" ({message}, código {code})"
    if message or code:
        return f" ({message or 'código ' + code})"
    return ""


def event_toast(event: Event) -> Toast | None:
    kind = event.kind
    if kind == "payment_approved":
        months = (event.data.get("installment_months") or "").strip()
        plan = f", a {months_text(int(months))}" if months.isdigit() else ""
        text = (f"Pago aprobado: {_policy(event)}, autorización "
                f"{event.data.get('authorization') or '—'}{plan}")
        problem = (event.data.get("email_problem") or "").strip()
        if problem:  # applied all the same (issue 12): the agent tells the client
            return Toast("Correo no enviado", f"{text}. La liga queda pagada, pero el correo "
                         f"de confirmación al cliente no se pudo enviar: {problem} Avísele por "
                         "otro medio.", severity="warning", timeout=20.0)
        return Toast("Pago recibido", f"{text}. La liga queda pagada y el cliente recibe su "
                                      "confirmación por correo.")
    if kind == "payment_received":
        return Toast("Pago recibido", f"Pago recibido, confirmando con MIT: {_policy(event)}. "
                                      "Se aplicará en cuanto MIT lo confirme.")
    if kind == "payment_denied":
        return Toast("Pago rechazado",
                     f"Pago rechazado: {_policy(event)}{_why(event)}. La liga sigue vigente: "
                     "avise al cliente que puede intentar con otra tarjeta.", severity="warning")
    if kind == "payment_error":
        return Toast("Error en el pago",
                     f"El pago de la {_policy(event)} no se completó{_why(event)}. La liga sigue "
                     "vigente: el cliente puede volver a intentarlo; si se repite, que pruebe "
                     "con otra tarjeta.", severity="warning")
    if kind == "review_added":
        reason = event.data.get("reason") or ""
        try:
            label = REVIEW_REASON[ReviewReason(reason)]
        except ValueError:
            label = "no coincide con una liga"
        return Toast("Por revisar",
                     f"Un pago de MIT quedó por revisar ({label}): {_policy(event)}. "
                     "Ábralo con v para aplicarlo a su liga o resolverlo con una nota.",
                     severity="warning", timeout=15.0)
    return None
