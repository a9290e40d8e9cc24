"""Payment gateway: the interface, MIT's client, and the local MIT sandbox."""

from paylink_tui.gateway.base import (
    CreatedLink,
    LinkRequest,
    Notification,
    PaymentGateway,
)
from paylink_tui.gateway.errors import (
    GatewayBadResponse,
    GatewayConfigInvalid,
    GatewayError,
    GatewayHTTPError,
    GatewayNotConfigured,
    GatewayRefused,
    GatewayUnavailable,
    GatewayValidationError,
    InvalidLinkRequest,
    NotificationRejected,
)

__all__ = [
    "CreatedLink",
    "GatewayBadResponse",
    "GatewayConfigInvalid",
    "GatewayError",
    "GatewayHTTPError",
    "GatewayNotConfigured",
    "GatewayRefused",
    "GatewayUnavailable",
    "GatewayValidationError",
    "InvalidLinkRequest",
    "LinkRequest",
    "Notification",
    "NotificationRejected",
    "PaymentGateway",
]
