"""The payment-gateway interface the services talk to, and its value types.

`MitGateway` implements it against MIT Web Pay Plus (or the local sandbox, which speaks
the same protocol). A `query(reference)` operation is foreseen: MIT has a SOAP
transaction-query service without public documentation; implementations raise
NotImplementedError until it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from paylink_tui.gateway.errors import (
    GatewayBadResponse,
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
    "Response",
]

Response = Literal["approved", "denied", "error"]
MAX_EXTRA = 6


@dataclass(frozen=True)
class LinkRequest:
    reference: str
    amount: Decimal
    currency: str
    valid_through: date  # fh_vigencia: the last local day the link can be paid
    email: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # (label, value), at most 6, shown to the payer
    # Meses sin intereses offered besides the single payment: promociones `C,3,6` for (3, 6).
    plans: tuple[int, ...] = ()


@dataclass(frozen=True)
class CreatedLink:
    url: str
    link_id: str | None  # the last path segment of the URL, MIT's id_url


@dataclass(frozen=True)
class Notification:
    """MIT's payment result, as sent. Text fields are '' when MIT sends an empty element;
    deciding what an incomplete notification means is the service's job."""

    reference: str
    response: str  # 'approved' | 'denied' | 'error' as MIT sends it (not validated here)
    folio: str  # foliocpagos
    auth: str
    cd_response: str
    cd_error: str
    nb_error: str
    time: str  # HH:MM:SS, insurer-local
    date: str  # dd/mm/yy or dd/mm/yyyy, insurer-local
    nb_company: str
    nb_merchant: str
    cc_type: str
    tp_operation: str
    cc_name: str
    cc_number: str  # last 4
    amount: Decimal | None  # None when missing or not a number
    id_url: str
    email: str
    cc_mask: str
    promocion: str = ""  # the plan the client chose: 'C' or the months ('3'); newer accounts
    extra: tuple[tuple[str, str], ...] = ()
    raw_xml: str = field(default="", repr=False)


@runtime_checkable
class PaymentGateway(Protocol):
    def create_link(self, req: LinkRequest) -> CreatedLink:
        """Ask the processor for a payment link. Raises a GatewayError subclass."""
        ...

    def parse_notification(self, str_response: str) -> Notification:
        """Decrypt and parse a result notification. Raises NotificationRejected."""
        ...

    def query(self, reference: str) -> Notification | None:
        """Ask the processor about a reference (not built yet: NotImplementedError)."""
        ...

    def close(self) -> None: ...
