"""The client's confirmation email for a payment being applied, which must never hold the
payment back (issue 12): queued when it can be, kept as a failed message with its reason when
the mail step refuses an address or a header, only reported when it cannot even be written.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from paylink_tui.domain.dates import utc
from paylink_tui.domain.status import EmailStatus
from paylink_tui.mail.errors import HeaderInjection, InvalidAddress, MailError
from paylink_tui.mail.render import RenderedEmail
from paylink_tui.services import outbox
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import EmailMessage

log = logging.getLogger(__name__)


def queue_confirmation(session: Session, ctx: AppContext, link: Any, now: datetime,
                       holder: tuple[str, str] | None = None) -> tuple[int | None, str | None]:
    """outbox.queue_confirmation for a payment being applied, which must never wait on the
    email: (id, None) when queued; (None, why in Spanish) when it cannot be. A message refused for an
    address or a header (the client's address the mail step refuses, a sender setting) is
    kept as a failed message with the reason, visible with the link and retried like any
    refused recipient; one that cannot even be written is only reported. Database errors
    still raise: they belong to the payment's transaction."""
    from sqlalchemy.exc import SQLAlchemyError

    table = EmailMessage.__table__  # type: ignore[attr-defined]
    try:
        rendered = outbox.render_confirmation(session, ctx, link, holder)
    except SQLAlchemyError:
        raise
    except MailError as exc:
        log.warning("confirmation for %s not built: %r", link.reference, exc.message)
        return None, exc.message
    except Exception:
        log.exception("confirmation for %s not built: unexpected error", link.reference)
        return None, ("no se pudo preparar el mensaje por un error inesperado (quedó en el "
                      "registro).")
    try:
        values = outbox.confirmation_row(ctx, link, now, rendered)
    except (InvalidAddress, HeaderInjection) as exc:
        session.connection().execute(insert(table), _unsendable_row(ctx, link, now, rendered,
                                                                    exc.message))
        return None, exc.message
    return int(session.connection().execute(
        insert(table).returning(table.c.id), values).scalar_one()), None


def _unsendable_row(ctx: AppContext, link: Any, now: datetime, rendered: RenderedEmail,
                    problem: str) -> dict[str, object]:
    """The confirmation as it would have gone, stored as failed with `problem`: the agent
    sees it with the link, and the outbox tries it again only after the longest backoff."""
    s = ctx.settings
    now = utc(now)
    return {
        "kind": outbox.KIND_CONFIRMATION,
        "link_id": link.id,
        "to_addr": (link.email or "")[:254],
        "from_addr": s.notice_sender[:254],
        "from_name": s.company or None,
        "reply_to": s.agent_email[:254] if s.agent_email else None,
        "subject": rendered.subject[:300],
        "message_id": make_msgid(domain="paylink-tui.invalid"),
        "body_text": rendered.text,
        "body_html": rendered.html,
        "status": EmailStatus.FAILED.value,
        "attempts": 0,
        "next_attempt_at": now + timedelta(seconds=outbox.BACKOFF_MAX),
        "created_at": now,
        "last_error": problem,
        "claimed_until": None,
        "sent_at": None,
    }
