"""Email: templates (HTML + text, es-MX), message building, SMTP transport, a local mail drop.

The outbox (queueing in the caller's transaction, delivery with retries) lives in
`paylink_tui.services.outbox`; this package knows nothing of the database.
"""

from paylink_tui.mail.errors import (
    HeaderInjection,
    InvalidAddress,
    MailError,
    SendError,
    TemplateProblem,
)

__all__ = ["HeaderInjection", "InvalidAddress", "MailError", "SendError", "TemplateProblem"]
