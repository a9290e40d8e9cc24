"""Payment notifications from MIT: receive them exactly once, apply them or keep them for review.

The steps, one module each:
1. `receive`: read MIT's strResponse and STORE it as received, exactly once per (folio,
   reference) (`INSERT … ON CONFLICT DO NOTHING`);
2. `confirm`: with MIT's transaction query configured, an approval waits "confirming" until
   MIT lists it; it is never applied on the notification's word alone;
3. `apply`: APPLY it — the link paid, its receipts paid, the payment attempt, the
   confirmation email queued (never holding the payment back), the audit trail — or keep it
   for review with a `ReviewReason`;
4. `review`: what a person decides about the notifications kept for review.
Nothing is applied silently and nothing is dropped. `common` holds what the steps share.
"""

from __future__ import annotations

from paylink_tui.services.notifications.common import Received, ReviewError
from paylink_tui.services.notifications.confirm import (
    ConfirmReport,
    can_confirm,
    confirm_due,
)
from paylink_tui.services.notifications.receive import (
    Prepared,
    Rejected,
    parse,
    prepare,
    receive_many,
    receive_notification,
    safe_mask,
    scrub_raw_xml,
)
from paylink_tui.services.notifications.review import (
    NeedsConfirmation,
    ReviewItem,
    applied_message,
    apply_review,
    dismiss_review,
    list_review,
)

__all__ = [
    "ConfirmReport",
    "NeedsConfirmation",
    "Prepared",
    "Received",
    "Rejected",
    "ReviewError",
    "ReviewItem",
    "applied_message",
    "apply_review",
    "can_confirm",
    "confirm_due",
    "dismiss_review",
    "list_review",
    "parse",
    "prepare",
    "receive_many",
    "receive_notification",
    "safe_mask",
    "scrub_raw_xml",
]
