"""What an agent can do to a sent link, shared by "Historial" and the link's detail:
resend its email (same or another address), cancel it, retry an unconfirmed one, copy it.

Each step asks first when it matters, then calls the service in a thread worker; the
result comes back as a message, is told in a toast, and every open screen refreshes.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.message import Message
from textual.screen import Screen

from paylink_tui.domain.labels import LINK
from paylink_tui.domain.status import LinkStatus
from paylink_tui.ui import texts
from paylink_tui.ui.failures import agent_message
from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog


def _word(link: Any) -> str:
    return LINK[LinkStatus(link.status)].lower()


class LinkActionDone(Message):
    def __init__(self, text: str, *, error: bool = False, warning: bool = False,
                 quiet: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.warning = warning
        self.quiet = quiet  # nothing changed: no screen to refresh


class LinkActionsMixin(Screen):
    """Mixed into screens that show a link (`selected_link()` returns a LinkRow or None)."""

    def selected_link(self) -> Any | None:  # pragma: no cover - overridden
        return None

    # --- copy -------------------------------------------------------------------------------

    def action_copy_link(self) -> None:
        link = self.selected_link()
        if link is None or not link.url:
            self.app.notify(texts.NO_URL_YET, markup=False)
            return
        self.app.copy_to_clipboard(link.url)  # the terminal's way (OSC 52), unconfirmed
        self._copy(link.reference, link.url)

    @work(thread=True, group="link-copy", exit_on_error=False)
    def _copy(self, reference: str, url: str) -> None:
        from paylink_tui.ui.clipboard import copy_known

        self.post_message(LinkActionDone(texts.copied_link(reference, copy_known(url)), quiet=True))

    # --- resend -----------------------------------------------------------------------------

    def action_resend(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status == LinkStatus.PAYMENT_CONFIRMING.value:
            self.app.notify(texts.PAYMENT_ARRIVED, severity="warning", markup=False)
            return
        if link.status not in (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value):
            self.app.notify(texts.not_live(link.reference, _word(link), "reenvían"),
                            severity="warning", markup=False)
            return
        message = texts.resend_prompt(link.reference)

        def chosen(address: str | None) -> None:
            if address:
                self._resend(link.reference, None if address == link.email else address)

        self.app.push_screen(PromptDialog("Reenviar correo", message, "Correo electrónico del cliente",
                                          value=link.email, submit_label="Reenviar", kind="email"),
                             chosen)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _resend(self, reference: str, to: str | None) -> None:
        try:
            result = self.app.backend.resend_link_email(reference, to=to)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(LinkActionDone(agent_message(exc, "reenviar el correo"), error=True))
            return
        if result.email_status == "sent":
            self.post_message(LinkActionDone(texts.resent(reference, result.to)))
        else:
            self.post_message(LinkActionDone(
                texts.still_queued(result.to, result.email_error, queued=result.email_queued),
                warning=True))

    # --- cancel -----------------------------------------------------------------------------

    def action_cancel_link(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status == LinkStatus.PAYMENT_CONFIRMING.value:
            self.app.notify(texts.PAYMENT_ARRIVED, severity="warning", markup=False)
            return
        if link.status not in (LinkStatus.ACTIVE.value, LinkStatus.PENDING_CONFIRMATION.value):
            self.app.notify(texts.not_live(link.reference, _word(link), "cancelan"),
                            severity="warning", markup=False)
            return
        message = texts.cancel_prompt(link.reference, link.valid_through)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel(link.reference)

        self.app.push_screen(ConfirmDialog("Cancelar liga", message, "Cancelar liga"), confirmed)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _cancel(self, reference: str) -> None:
        try:
            self.app.backend.cancel_link(reference)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(LinkActionDone(agent_message(exc, "cancelar la liga"), error=True))
            return
        self.post_message(LinkActionDone(texts.cancelled(reference)))

    # --- retry an unconfirmed link ------------------------------------------------------------

    def action_retry_link(self) -> None:
        link = self.selected_link()
        if link is None:
            return
        if link.status != LinkStatus.PENDING_CONFIRMATION.value:
            self.app.notify(texts.retry_not_needed(link.reference, _word(link)),
                            severity="warning", markup=False)
            return
        self._retry(link.reference)

    @work(thread=True, group="link-action", exit_on_error=False)
    def _retry(self, reference: str) -> None:
        try:
            result = self.app.backend.retry_link(reference)  # type: ignore[attr-defined]
        except Exception as exc:
            self.post_message(LinkActionDone(agent_message(exc, "reintentar la liga"), error=True))
            return
        self.post_message(LinkActionDone(texts.confirmed(result.reference, result.valid_through)))

    @on(LinkActionDone)
    def _action_done(self, event: LinkActionDone) -> None:
        severity = "error" if event.error else "warning" if event.warning else "information"
        self.app.notify(event.text, severity=severity, timeout=8, markup=False)
        if not event.quiet:
            self.app.refresh_screens()  # type: ignore[attr-defined]

