"""The agents' API of the agency server (team mode), under /api/v1/ (team-mode.md).

Its routes come from backend/routes.py's table (the remote client calls from the same
table): sign-in and sign-out (auth.py), one endpoint per Backend method (calls.py), the
event stream (stream.py); any other path under /api/v1/ answers 401 without a valid token
and 404 with one. `api_routes` gives the routes, `ApiState` what they share in a process
(on `app.state.api`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.routing import Route

from paylink_tui.backend import routes as table
from paylink_tui.services.context import AppContext
from paylink_tui.web.api.auth import SIGN_IN_CONCURRENCY, sign_in, sign_out
from paylink_tui.web.api.calls import endpoint, not_found
from paylink_tui.web.api.stream import SESSION_CHECK, EventHub, events_stream
from paylink_tui.web.api.throttle import SignInThrottle

__all__ = ["ApiState", "api_routes", "api_state"]


@dataclass
class ApiState:
    ctx: AppContext
    throttle: SignInThrottle = field(default_factory=SignInThrottle)
    sign_in_slots: Any = None
    hub: EventHub = None  # type: ignore[assignment]
    session_check: float = SESSION_CHECK

    def __post_init__(self) -> None:
        if self.sign_in_slots is None:
            self.sign_in_slots = anyio.CapacityLimiter(SIGN_IN_CONCURRENCY)
        if self.hub is None:
            self.hub = EventHub(self.ctx)


def api_state(ctx: AppContext, **kwargs: Any) -> ApiState:
    """The API's shared state. The gateway and the mailer are built once here, so that the
    per-request contexts (`ctx.for_principal`) share them instead of each making its own."""
    from paylink_tui.gateway.errors import GatewayError

    try:
        ctx.get_gateway()
    except GatewayError:  # generating says what is missing, as in the one-agent mode
        pass
    try:
        ctx.get_mail_transport()
    except Exception:  # noqa: BLE001, S110 - the outbox reports a broken mail setting
        pass
    return ApiState(ctx, **kwargs)


def api_routes() -> list[Route]:
    """Every route of the API (the sign-in first, the catch-all last)."""
    routes: list[Route] = [
        Route(table.SESSION_PATH, sign_in, methods=["POST"]),
        Route(table.SESSION_PATH, sign_out, methods=["DELETE"]),
        Route(table.EVENTS_PATH, events_stream, methods=["GET"]),
    ]
    for route in table.ROUTES.values():
        verb = table.POST if route.kind in (table.UPLOAD, table.STREAM) else route.method
        routes.append(Route(route.path, endpoint(route), methods=[verb]))
    routes.append(Route(table.API_PREFIX + "/{rest:path}", not_found,
                        methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
    return routes
