"""Every status word the agent reads, in es-MX, in one place."""

from __future__ import annotations

from paylink_tui.domain.status import (
    AttemptResult,
    EmailStatus,
    LinkStatus,
    NotificationStatus,
    ReceiptStatus,
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
}

EMAIL = {
    EmailStatus.QUEUED: "En cola",
    EmailStatus.SENT: "Enviada",
    EmailStatus.FAILED: "Error de envío (reintentando)",
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
}

REVIEW_REASON = {
    ReviewReason.UNKNOWN_REFERENCE: "Referencia desconocida",
    ReviewReason.AMOUNT_MISMATCH: "El monto no coincide con la liga",
    ReviewReason.SECOND_APPROVAL: "Segunda aprobación para una liga ya pagada (posible doble cargo)",
    ReviewReason.LATE_PAYMENT: "Pago tomado después de la vigencia",
    ReviewReason.CANCELLED_LINK: "Pago de una liga cancelada (aplicado)",
    ReviewReason.NEWER_LINK: "Los recibos ya tienen una liga más reciente (aplicado)",
    ReviewReason.MISSING_FIELDS: "Faltan datos obligatorios en la notificación",
}


def label(value: object) -> str:
    """The Spanish word for a status enum member.

    Looked up by the member's type: "paid" is "Pagado" for a receipt but "Pagada" for a
    link, and str-valued members of different enums compare equal.
    """
    for table in (RECEIPT, LINK, EMAIL, ATTEMPT, NOTIFICATION, REVIEW_REASON):
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
