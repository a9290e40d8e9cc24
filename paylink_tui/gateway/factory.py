"""Build the configured PaymentGateway from Settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.base import PaymentGateway
from paylink_tui.gateway.errors import GatewayNotConfigured
from paylink_tui.gateway.mit import MitGateway

if TYPE_CHECKING:
    from paylink_tui.config import Settings


def gateway_from_settings(settings: Settings, *, sandbox_url: str | None = None) -> PaymentGateway:
    """'mit' -> the real MIT with every mit_* setting; 'sandbox' -> the local emulator with
    MIT's public sandbox credentials unless a mit_* setting overrides one of them."""
    missing = settings.missing_gateway_settings()
    if missing:
        raise GatewayNotConfigured(missing)
    if settings.gateway == "mit":
        return MitGateway.from_settings(settings)
    return MitGateway(
        sandbox_url or settings.mit_gen_url or sd.SANDBOX_GEN_URL,
        settings.mit_data0 or sd.SANDBOX_DATA0,
        settings.mit_key.get_secret_value() if settings.mit_key else sd.SANDBOX_KEY,
        settings.mit_id_company or sd.SANDBOX_ID_COMPANY,
        settings.mit_id_branch or sd.SANDBOX_ID_BRANCH,
        settings.mit_user or sd.SANDBOX_USER,
        settings.mit_password.get_secret_value() if settings.mit_password else sd.SANDBOX_PASSWORD,
        extra_data_in=settings.mit_extra_data_in,
        notify_payer=bool(settings.mit_notify_payer),
        timeout=settings.mit_timeout,
        query_url=settings.mit_query_url,
        query_key=(settings.mit_query_key.get_secret_value() if settings.mit_query_key
                   else None),
    )
