"""What every use case needs: settings, the database, the clock, the gateway, the mailer.

Use cases are functions `use_case(ctx: AppContext, ...)`; each is one unit of work. The
clock is injectable so that tests (and snapshots) run at a fixed instant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from paylink_tui.config import Settings

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.domain.results import Identity
    from paylink_tui.gateway.base import PaymentGateway


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    # Built on first use from the settings, unless a test or the demo sets them.
    gateway: PaymentGateway | None = None
    mail_transport: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    # Who the use cases act for (team mode: the signed-in user, whose role and agent codes
    # every query applies: services/access.py). None: the one-agent mode's local agent
    # (settings.agent), who may do everything, as before team mode existed.
    principal: Identity | None = None

    @property
    def tz(self) -> str:
        return self.settings.timezone

    @property
    def agent(self) -> str:
        """The name the audit trail and the links record: the signed-in user, never a name
        the client declared."""
        if self.principal is not None:
            return self.principal.user
        return self.settings.agent

    def for_principal(self, identity: Identity | None) -> AppContext:
        """The same engine, gateway, mailer and clock, acting for `identity`."""
        return replace(self, principal=identity)

    def now(self) -> datetime:
        return self.clock()

    def get_gateway(self) -> PaymentGateway:
        if self.gateway is None:
            from paylink_tui.gateway.factory import gateway_from_settings

            self.gateway = gateway_from_settings(self.settings)
        return self.gateway

    def get_mail_transport(self) -> Any:
        if self.mail_transport is None:
            from paylink_tui.mail.transport import SmtpTransport

            self.mail_transport = SmtpTransport.from_settings(self.settings)
        return self.mail_transport


def open_context(settings: Settings, *, notify: Callable[[str], None] | None = None,
                 **kwargs: Any) -> AppContext:
    """Open the configured database (upgrading SQLite on start, told to `notify`) and build
    the context."""
    from paylink_tui.store.db import open_database

    return AppContext(settings=settings, engine=open_database(settings.database_url, notify), **kwargs)
