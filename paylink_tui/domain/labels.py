"""Every status word the agent reads, in es-MX, in one place."""

from __future__ import annotations

from paylink_tui.domain.status import (
    AttemptResult,
    EmailStatus,
    LinkStatus,
    NotificationStatus,
    ReceiptStatus,
    ReminderStatus,
    ReviewReason,
)

RECEIPT = {
    ReceiptStatus.PENDING: "Pendiente",
    ReceiptStatus.WITH_LINK: "Con liga",
    ReceiptStatus.PAID: "Pagado",
    ReceiptStatus.SETTLED_ELSEWHERE: "Liquidado fuera",
}

LINK = {
    LinkStatus.PENDING_CONFIRMATION: "Sin confirmar",
    LinkStatus.ACTIVE: "Activa",
    LinkStatus.PAID: "Pagada",
    LinkStatus.EXPIRED: "Vencida",
    LinkStatus.CANCELLED: "Cancelada",
    LinkStatus.PAYMENT_CONFIRMING: "Pago recibido, confirmando con MIT",
}

# Where a column has no room for the whole word (Historial's Estado: 13 characters).
LINK_SHORT = {
    LinkStatus.PAYMENT_CONFIRMING: "Pago recibido",
}

EMAIL = {
    EmailStatus.QUEUED: "En cola",
    EmailStatus.SENT: "Enviado",  # el correo
    EmailStatus.FAILED: "Error de envío (reintentando)",
}

REMINDER = {
    ReminderStatus.QUEUED: "En cola",
    ReminderStatus.SENT: "Enviado",
    ReminderStatus.FAILED: "Error de envío (reintentando)",
    ReminderStatus.NOT_SENT: "No enviado",
}

# Why "many links at once" leaves a receipt out (domain/batch.py codes).
BATCH_SKIP = {
    "no_email": "sin correo registrado",
    "already_linked": "ya tiene una liga activa",
    "not_pending": "ya no está pendiente de pago",
    "not_found": "no existe",
}

ATTEMPT = {
    AttemptResult.APPROVED: "Aprobado",
    AttemptResult.DENIED: "Rechazado",
    AttemptResult.ERROR: "Error",
}

NOTIFICATION = {
    NotificationStatus.APPLIED: "Aplicada",
    NotificationStatus.REVIEW: "Por revisar",
    NotificationStatus.RESOLVED: "Resuelta",
    NotificationStatus.CONFIRMING: "Confirmando con MIT",
}

REVIEW_REASON = {
    ReviewReason.UNKNOWN_REFERENCE: "Referencia desconocida",
    ReviewReason.AMOUNT_MISMATCH: "El monto no coincide con la liga",
    ReviewReason.SECOND_APPROVAL: "Segunda aprobación para una liga ya pagada (posible doble cargo)",
    ReviewReason.LATE_PAYMENT: "Pago tomado después de la vigencia",
    ReviewReason.CANCELLED_LINK: "Pago de una liga cancelada (aplicado)",
    ReviewReason.NEWER_LINK: "Los recibos ya tienen una liga más reciente (aplicado)",
    ReviewReason.MISSING_FIELDS: "Faltan datos obligatorios en la notificación",
    ReviewReason.NOT_CONFIRMED: "MIT no confirma este pago (posible notificación falsa)",
    ReviewReason.TAKEN_BEFORE_LINK: "Pago tomado antes de que existiera la liga",
}


def notification_label(status: str, response: str | None) -> str:
    """A notification's state as the agent reads it: a declined or failed payment that was
    recorded in the link's history is "Registrada", not "Aplicada" (nothing was paid)."""
    if status == NotificationStatus.APPLIED.value and response not in (None, "approved"):
        return "Registrada"
    return NOTIFICATION[NotificationStatus(status)]


def label(value: object) -> str:
    """The Spanish word for a status enum member.

    Looked up by the member's type: "paid" is "Pagado" for a receipt but "Pagada" for a
    link, and str-valued members of different enums compare equal.
    """
    for table in (RECEIPT, LINK, EMAIL, REMINDER, ATTEMPT, NOTIFICATION, REVIEW_REASON):
        kind = type(next(iter(table)))
        if type(value) is kind:
            return table[value]  # type: ignore[index]
    return str(value)


def email_not_sent(to: str, *, queued: bool) -> str:
    """What happens next to a link email that did not go out: true in both cases."""
    if queued:
        return (f"El correo a {to} no salió todavía: queda en cola y se reintenta solo mientras "
                "la aplicación esté abierta o corra «paylink-tui serve».")
    return (f"El correo a {to} no se pudo preparar y no quedó en cola: nada lo reintentará. "
            "Corrija lo que dice el motivo y reenvíelo desde Historial (h, luego r), o copie "
            "la liga y envíela usted.")
