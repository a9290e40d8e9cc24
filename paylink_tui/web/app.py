"""The ASGI notification receiver: `POST /mit/notificacion` (web/receiver.py, its answers
and why), `GET /salud`, the outbox loop and the reminder loop (web/reminders.py).

Concurrent notifications are stored and applied together by one writer (web/writer.py):
one transaction and one commit per batch, each answer sent after its batch committed.
Who may try how often is web/guard.py's; behind a trusted proxy (PAYLINK_PROXY_HEADERS) the
client's address comes from X-Forwarded-For, read by uvicorn's ProxyHeadersMiddleware.

With `serve_sandbox` the sandbox gateway (`/gen`, `/i/...`) is mounted at `/` as well; it
answers only requests addressed to this machine, and lists no links (`list_links=False`).
With MIT's transaction query configured, the approvals held for MIT's confirmation and the
periodic reconciliation run beside the outbox loop (web/loops.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from paylink_tui.services.context import AppContext
from paylink_tui.web.guard import NotificationGuard
from paylink_tui.web.receiver import MAX_BODY, NOTIFY_PATH, notify_endpoint
from paylink_tui.web.writer import SCHEMA_CHANGED, GroupWriter, SchemaChanged

__all__ = ["MAX_BODY", "NOTIFY_PATH", "app_from_settings", "configure_logging", "create_app"]

log = logging.getLogger(__name__)

# Seconds a delivery round may wait for a burst of notifications to pass.
MAX_DEFER = 5.0


def create_app(
    ctx: AppContext,
    *,
    serve_sandbox: bool = False,
    sandbox_kwargs: dict[str, Any] | None = None,
    deliver_interval: float = 5.0,
    confirm_interval: float = 5.0,
    reconcile_minutes: float | None = None,
    reminder_interval: float | None = None,
    guard: NotificationGuard | None = None,
    read_timeout: float | None = None,
    proxy_headers: bool | None = None,
    team: bool = False,
    api_state: Any = None,
) -> Any:
    """The receiver's ASGI app. `guard`, `read_timeout` and `proxy_headers` default to the
    context's settings (PAYLINK_NOTIFY_*, PAYLINK_MIT_ALLOWED_IPS, PAYLINK_SERVE_READ_TIMEOUT,
    PAYLINK_PROXY_HEADERS with PAYLINK_FORWARDED_ALLOW_IPS). `team`: the agents' API under
    /api/v1/ as well (web/api/; `api_state` to share or tune its state, tests)."""
    settings = ctx.settings
    writer = GroupWriter(ctx)
    guard = guard or NotificationGuard.from_settings(settings)
    notify = notify_endpoint(
        ctx, writer, guard, deliver=_deliver,
        read_timeout=read_timeout if read_timeout is not None else settings.serve_read_timeout)

    async def health(request: Request) -> Response:
        def check() -> None:
            _ping(ctx)
            writer.schema.check()

        try:
            await run_in_threadpool(check)
        except SchemaChanged:
            return JSONResponse({"status": "error", "database": "schema", "detail": SCHEMA_CHANGED},
                                status_code=503)
        except Exception as exc:
            log.warning("health check: database unavailable (%s)", type(exc).__name__)
            return JSONResponse(
                {"status": "error", "database": "error",
                 "detail": "La base de datos no responde."},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    sandbox_app = None
    routes: list[Any] = [
        Route(NOTIFY_PATH, notify, methods=["POST"]),
        Route("/salud", health, methods=["GET"]),
    ]
    if team:
        from paylink_tui.web.api import api_routes
        from paylink_tui.web.api import api_state as make_api_state

        api_state = api_state or make_api_state(ctx)
        routes.extend(api_routes())
    if serve_sandbox:
        from paylink_tui.gateway.sandbox import create_sandbox_app

        sandbox_app = create_sandbox_app(**{"list_links": False, **(sandbox_kwargs or {})})
        routes.append(Mount("/", app=sandbox_app))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from paylink_tui.web import loops, reminders

        loop_task = None
        if deliver_interval > 0:
            kick = asyncio.Event()
            app.state.deliver_now = kick
            loop_task = asyncio.create_task(
                _delivery_loop(ctx, deliver_interval, kick, busy=writer.busy))
        reminder_task = reminders.start(ctx, reminder_interval, deliver_interval)
        mit_tasks = loops.start(app, ctx, confirm_interval, reconcile_minutes)
        try:
            yield
        finally:
            for task in mit_tasks:
                await loops.stop(task)
            await reminders.stop(reminder_task)
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
            if sandbox_app is not None:  # a mounted app's own lifespan does not run
                await sandbox_app.state.sandbox.state.aclose()
            if api_state is not None:
                await api_state.hub.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.sandbox = sandbox_app.state.sandbox if sandbox_app is not None else None
    app.state.guard = guard
    app.state.api = api_state
    if proxy_headers if proxy_headers is not None else settings.proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        trusted = [h.strip() for h in settings.forwarded_allow_ips.split(",") if h.strip()]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)  # type: ignore[arg-type]
    return app


def _ping(ctx: AppContext) -> None:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _deliver(ctx: AppContext, ids: tuple[int, ...]) -> None:
    from paylink_tui.services import outbox

    try:
        await run_in_threadpool(outbox.deliver_due, ctx, ids=list(ids))
    except Exception:
        log.exception("confirmation delivery failed; it stays in the outbox")


async def _delivery_loop(ctx: AppContext, interval: float, kick: asyncio.Event,
                         busy: Callable[[], bool] = lambda: False,
                         max_defer: float = MAX_DEFER) -> None:
    """Deliver the outbox every few seconds (emails queued by the TUI, retries) and at once
    when a notification queued a confirmation (`kick`). One loop, so a burst of payments
    becomes batches, not a crowd of concurrent SMTP sessions.

    While notifications are pouring in (`busy`), a round waits up to `max_defer` seconds:
    MIT is waiting for its answers, and in one process the SMTP work would share the CPU
    with them. The confirmations are safe in the outbox meanwhile."""
    from paylink_tui.services import outbox

    batch = 50
    while True:
        deadline = time.monotonic() + max_defer
        while busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        handled = 0
        try:
            report = await run_in_threadpool(outbox.deliver_due, ctx, limit=batch)
            handled = report.sent + report.failed
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox delivery round failed")
        if handled >= batch:
            continue  # more may be due right now
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(kick.wait(), timeout=interval)
        kick.clear()


def preflight(settings: Any, notify: Callable[[str], None] | None = None) -> None:
    """What `serve` checks once before it starts: the database opens with a schema this
    build knows (SQLite upgraded), and the gateway's settings are usable. AgentError else."""
    from paylink_tui.backend.factory import open_local
    from paylink_tui.domain.errors import AgentError
    from paylink_tui.gateway.errors import GatewayError

    backend = open_local(settings, notify)
    try:
        backend.ctx.get_gateway()  # type: ignore[attr-defined]
    except GatewayError as exc:
        raise AgentError(exc.message) from None
    finally:
        backend.close()


def sandbox_app_from_settings(settings: Any) -> Any:
    """The MIT emulator alone (`paylink-tui sandbox`), with the configured credentials."""
    from paylink_tui.gateway.sandbox import create_sandbox_app

    return create_sandbox_app(**sandbox_kwargs_from_settings(settings))


def app_from_settings() -> Starlette:
    """The uvicorn factory (`paylink_tui.web.app:app_from_settings`, factory=True): each
    worker process opens the configured database. With PAYLINK_GATEWAY=sandbox it also
    serves the sandbox, notifying PAYLINK_SANDBOX_NOTIFY_URL."""
    from paylink_tui.config import load_settings
    from paylink_tui.services.context import open_context

    configure_logging()
    settings = load_settings()
    ctx = open_context(settings)
    ctx.get_gateway()  # fail at start, not at the first notification, when misconfigured
    sandbox_kwargs = None
    if settings.gateway == "sandbox":
        sandbox_kwargs = sandbox_kwargs_from_settings(settings)
    from paylink_tui.web.api.transport import team_from_environment

    return create_app(ctx, serve_sandbox=sandbox_kwargs is not None, sandbox_kwargs=sandbox_kwargs,
                      team=team_from_environment())


def configure_logging(level: int = logging.INFO) -> None:
    """What happened, one line per notification (never the key or card data) on stderr."""
    logger = logging.getLogger("paylink_tui")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def sandbox_kwargs_from_settings(settings: Any, notify_url: str | None = None) -> dict[str, Any]:
    """The sandbox speaking with the same credentials the configured gateway uses."""
    from paylink_tui.gateway import sandbox_defaults as sd

    kwargs: dict[str, Any] = {
        "key": settings.mit_key.get_secret_value() if settings.mit_key else sd.SANDBOX_KEY,
        "data0": settings.mit_data0 or sd.SANDBOX_DATA0,
        "company": settings.company,
        "timezone": settings.timezone,
        "notify_url": notify_url or settings.sandbox_notify_url,
        "allowed_hosts": tuple(h.strip() for h in (settings.sandbox_hosts or "").split(",")
                               if h.strip()),
        # The sandbox plays MIT with the contract the agency configured.
        "promotions": settings.promotion_plans,
    }
    if settings.mit_id_company:
        kwargs["id_company"] = settings.mit_id_company
    if settings.mit_id_branch:
        kwargs["id_branch"] = settings.mit_id_branch
    if settings.mit_user:
        kwargs["users"] = (settings.mit_user,)
    if settings.mit_password:
        kwargs["password"] = settings.mit_password.get_secret_value()
    return kwargs
