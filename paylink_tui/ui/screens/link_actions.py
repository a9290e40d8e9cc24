"""What an agent can do to a sent link, shared by "Historial" and the link's detail:
resend its email (same or another address), cancel it, retry an unconfirmed one, copy it.

Each step asks first when it matters, then calls the service in a thread worker; the
result comes back as a message, is told in a toast, and every open screen refreshes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.screen import Screen

from paylink_tui.domain.dates import long_date
from paylink_tui.domain.status import LinkStatus
from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog


class LinkActionDone(Message):
    def __init__(self, text: str, *, error: bool = False, warning: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.warning = warning


class LinkActionsMixin(Screen):
    """Mixed into screens that show a link (`selected_link()` returns a LinkRow or None)."""

    def selected_link(self) -> Any | None:  # pragma: no cover - overridden
        return None

    # --- copy -------------------------------------------------------------------------------

    def action_copy_link(self) -> None:
        link = self.selected_link()
        if link is None or not link.url:
            self.app.notify("Esta liga no tiene URL todavía (MIT no la confirmó).", markup=False)
            return
        self.app.copy_to_clipboard(link.url)
        self.app.notify(f"Liga {link.reference} copiada al portapapeles.", markup=False)

    # --- resend -----------------------------------------------------------------------------

    def action_resend(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status not in (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value):
            self.app.notify("Sólo se reenvían ligas vigentes.", severity="warning", markup=False)
            return
        message = Text.assemble(
            "Se enviará la misma liga ", (link.reference, "bold"), ". Para corregir la dirección, "
            "escriba la nueva: la liga la conservará para los siguientes envíos.")

        def chosen(address: str | None) -> None:
            if address:
                self._resend(link.reference, None if address == link.email else address)

        self.app.push_screen(PromptDialog("Reenviar correo", message, "Correo electrónico del cliente",
                                          value=link.email, submit_label="Reenviar", kind="email"),
                             chosen)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _resend(self, reference: str, to: str | None) -> None:
        from paylink_tui.services import links

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            result = links.resend_link_email(ctx, reference, to=to, agent=ctx.agent)
        except links.LinkError as exc:
            self.post_message(LinkActionDone(exc.message, error=True))
            return
        except Exception as exc:
            self.post_message(LinkActionDone(_unexpected("reenviar el correo", exc), error=True))
            return
        if result.email_status == "sent":
            self.post_message(LinkActionDone(f"Correo de la liga {reference} reenviado a {result.to}."))
        else:
            from paylink_tui.domain.labels import email_not_sent

            why = f" Motivo: {result.email_error}" if result.email_error else ""
            self.post_message(LinkActionDone(
                email_not_sent(result.to, queued=getattr(result, "email_queued", True)) + why,
                warning=True))

    # --- cancel -----------------------------------------------------------------------------

    def action_cancel_link(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status not in (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value):
            self.app.notify("Sólo se cancelan ligas vigentes.", severity="warning", markup=False)
            return
        message = Text.assemble(
            "¿Cancelar la liga ", (link.reference, "bold"), "?\n\n",
            (f"MIT seguirá aceptando el pago hasta el {long_date(link.valid_through)}", "bold"),
            ": MIT no permite cancelar ligas. Si el cliente paga, el pago se aplica y queda "
            "marcado para revisión.\n\nLos recibos vuelven hoy a la lista de pendientes y la liga "
            "ya no se reenvía.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel(link.reference)

        self.app.push_screen(ConfirmDialog("Cancelar liga", message, "Cancelar liga"), confirmed)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _cancel(self, reference: str) -> None:
        from paylink_tui.services import links

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            links.cancel_link(ctx, reference, agent=ctx.agent)
        except links.LinkError as exc:
            self.post_message(LinkActionDone(exc.message, error=True))
            return
        except Exception as exc:
            self.post_message(LinkActionDone(_unexpected("cancelar la liga", exc), error=True))
            return
        self.post_message(LinkActionDone(f"Liga {reference} cancelada."))

    # --- retry an unconfirmed link ------------------------------------------------------------

    def action_retry_link(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status != LinkStatus.PENDING_CONFIRMATION.value:
            self.app.notify("Sólo se reintentan ligas sin confirmar.", severity="warning", markup=False)
            return
        self._retry(link.reference)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _retry(self, reference: str) -> None:
        from paylink_tui.services import links

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            result = links.retry_link(ctx, reference, agent=ctx.agent)
        except links.LinkError as exc:
            self.post_message(LinkActionDone(exc.message, error=True))
            return
        except Exception as exc:
            self.post_message(LinkActionDone(_unexpected("reintentar la liga", exc), error=True))
            return
        self.post_message(LinkActionDone(
            f"Liga {result.reference} confirmada por MIT; "
            f"vigente hasta el {long_date(result.valid_through)}."))

    @on(LinkActionDone)
    def _action_done(self, event: LinkActionDone) -> None:
        severity = "error" if event.error else "warning" if event.warning else "information"
        self.app.notify(event.text, severity=severity, timeout=8, markup=False)
        self.app.refresh_screens()  # type: ignore[attr-defined]


def _unexpected(what: str, exc: Exception) -> str:
    return (f"No se pudo {what} por un error inesperado ({type(exc).__name__}). "
            "Inténtelo de nuevo; si se repite, avise a soporte.")
