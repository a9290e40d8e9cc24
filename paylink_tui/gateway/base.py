"""The payment-gateway interface the services talk to, and its value types.

`MitGateway` implements it against MIT Web Pay Plus (or the local sandbox, which speaks
the same protocol): links are generated at `/gen`, results arrive as notifications, and
`query(reference, day)` asks MIT's transaction query (SOAP `xmltransacciones`, see
gateway/mit_query.py) what it really charged.
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
    "Transaction",
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


@dataclass(frozen=True)
class Transaction:
    """One transaction as MIT's query lists it (`<transaccion>`). Text fields are '' when
    MIT sends an empty element. What the merchant does not need (the card holder's name,
    a card token) is not carried."""

    operation: str  # nu_operaion without its leading zeros: the notification's foliocpagos
    reference: str  # nb_referencia
    amount: Decimal | None  # nu_importe; None when missing or not a number
    response: str  # nb_response, lower case: 'approved' | 'denied' (not validated here)
    auth: str  # nu_auth, empty when denied
    registered: str  # fh_registro as sent, 'dd/mm/yyyy HH:MM', MIT's local time
    bank_date: str  # fh_bank
    payment_type: str  # cd_tipopago: Contado, MSI, MCI
    charge_type: str  # cd_tipocobro
    instrument: str  # cd_instrumento (Credito, Debito...)
    card_last4: str  # cc_num
    card_brand: str  # cc_tp
    operation_type: str  # tp_operacion: VENTA, CANCELACION, DEVOLUCION
    currency: str  # nb_currency
    bank_code: str  # cd_resp
    bank_message: str  # nb_resp
    user: str = ""  # cd_usuario
    company: str = ""  # cd_empresa
    branch: str = ""  # nu_sucursal
    automatic: bool = False  # listed under transaccionesCautM (legacy automatic charges)
    raw_xml: str = field(default="", repr=False)  # the <transaccion> element, token removed

    @property
    def approved(self) -> bool:
        return self.response == "approved"


@runtime_checkable
class PaymentGateway(Protocol):
    def create_link(self, req: LinkRequest) -> CreatedLink:
        """Ask the processor for a payment link. Raises a GatewayError subclass."""
        ...

    def parse_notification(self, str_response: str) -> Notification:
        """Decrypt and parse a result notification. Raises NotificationRejected."""
        ...

    @property
    def can_query(self) -> bool:
        """Whether `query` is configured (PAYLINK_MIT_QUERY_URL)."""
        ...

    def query(self, reference: str, day: date) -> list[Transaction]:
        """The transactions MIT lists for `reference` (every one of the day when empty) on
        the local calendar `day`. Raises a QueryError subclass (gateway/errors.py), or
        GatewayNotConfigured when no query URL is set."""
        ...

    def close(self) -> None: ...
