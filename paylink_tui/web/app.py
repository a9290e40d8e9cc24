"""The ASGI notification receiver: `POST /mit/notificacion`, `GET /salud`, the outbox loop.

MIT retries a notification until it gets a success answer, so the status codes matter:
- 200 once the notification is safely stored, whatever it means (applied or for review);
- 400 for a body that is not ours (not base64, does not decrypt, not MIT's XML): nothing stored;
- 413 for an oversized body, refused before reading it all;
- 5xx only when it could not be stored, so that MIT tries again.
Concurrent notifications are stored and applied together by one writer (`GroupWriter`):
one transaction and one commit per batch, each answer sent after its batch committed.

With `serve_sandbox` the sandbox gateway (`/gen`, `/i/...`) is mounted at `/` as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from paylink_tui.services.context import AppContext

log = logging.getLogger(__name__)

NOTIFY_PATH = "/mit/notificacion"
# A real notification is ~2 KB of base64; 64 KiB leaves room for datos_adicionales.
MAX_BODY = 64 * 1024
# Seconds a delivery round may wait for a burst of notifications to pass.
MAX_DEFER = 5.0


class BodyTooLarge(Exception):
    pass


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > cap:
                raise BodyTooLarge
        except ValueError:
            pass
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:  # chunked or lying Content-Length: stop reading at the cap
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _str_response(body: bytes) -> str | None:
    """The strResponse form field. MIT posts application/x-www-form-urlencoded; the value
    may carry a second layer of URL-encoding (%0D%0A), which the gateway normalises."""
    try:
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return None
    values = fields.get("strResponse")
    return values[0] if values else None


def _text(message: str, status: int) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status)


class GroupWriter:
    """One writer for the notifications of this process (group commit).

    Each request hands its strResponse over and waits. While a batch is being stored and
    applied (one transaction, one commit, in a worker thread), the notifications that
    arrive meanwhile queue up and become the next batch. A request gets its answer only
    after the transaction holding its notification committed; if the batch fails as a
    whole, `receive_many` receives each notification on its own, so one bad notification
    never costs the others. Under light load a batch is a single notification: no waiting.
    """

    def __init__(self, ctx: AppContext, max_batch: int = 64) -> None:
        self.ctx = ctx
        self.max_batch = max_batch
        self.schema = SchemaWatch(ctx)
        self._pending: list[tuple[str, asyncio.Future[Any]]] = []
        self._running = False
        self._task: asyncio.Task[None] | None = None  # referenced, so it is not collected
        self._last_batch_end = 0.0

    def busy(self, quiet: float = 0.1) -> bool:
        """Notifications are being applied, or were less than `quiet` seconds ago."""
        return self._running or time.monotonic() - self._last_batch_end < quiet

    async def receive(self, str_response: str) -> Any:
        """receive_notification(..., deliver=False), batched with concurrent calls."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((str_response, future))
        if not self._running:
            self._running = True
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    results = await run_in_threadpool(
                        self._receive_many, [value for value, _ in batch])
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._running = False
            self._last_batch_end = time.monotonic()

    def _receive_many(self, values: list[str]) -> list[Any]:
        from paylink_tui.services import notifications

        self.schema.check()  # before anything is read or written
        return notifications.receive_many(self.ctx, values)


class SchemaChanged(Exception):
    """The database was upgraded by a newer paylink-tui while this one runs."""


class SchemaWatch:
    """Refuses to work on a database whose schema is no longer the one this build knows.

    A newer paylink-tui upgrades a SQLite file on its first start, and an upgrade may change
    what a column means (0002 stored money as cents): a `serve` of the older build, still
    running, would misread every amount. It checks the schema's version at most once every
    `every` seconds, a query of a few microseconds, and from the first mismatch answers 503
    (MIT retries later) until it is restarted with the new build."""

    def __init__(self, ctx: AppContext, every: float = 2.0) -> None:
        self.ctx = ctx
        self.every = every
        self._checked = float("-inf")
        self.changed_to: str | None = None

    def check(self) -> None:
        from paylink_tui.store.db import current_revision
        from paylink_tui.store.revision import HEAD_REVISION

        if self.changed_to is None and time.monotonic() - self._checked >= self.every:
            revision = current_revision(self.ctx.engine)
            self._checked = time.monotonic()
            if revision != HEAD_REVISION:
                self.changed_to = revision or "ninguna"
                log.error("the database schema is now %s, this build knows %s: restart "
                          "paylink-tui serve with the new version", self.changed_to, HEAD_REVISION)
        if self.changed_to is not None:
            raise SchemaChanged(self.changed_to)


SCHEMA_CHANGED = ("La base de datos fue actualizada por una versión más nueva de paylink-tui; "
                  "reinicie «paylink-tui serve» con esa versión. Notificación no guardada; "
                  "reintente.")


def create_app(
    ctx: AppContext,
    *,
    serve_sandbox: bool = False,
    sandbox_kwargs: dict[str, Any] | None = None,
    deliver_interval: float = 5.0,
) -> Starlette:
    from paylink_tui.services import notifications

    writer = GroupWriter(ctx)

    async def notify(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        try:
            body = await _read_capped(request, MAX_BODY)
        except BodyTooLarge:
            log.warning("notification from %s refused: body larger than %d bytes", client, MAX_BODY)
            return _text("Notificación rechazada: el contenido es demasiado grande.", 413)
        value = _str_response(body)
        if not value:
            log.warning("notification from %s refused: no strResponse field", client)
            return _text("Notificación rechazada: falta el campo strResponse.", 400)
        try:
            received = await writer.receive(value)
        except notifications.Rejected as exc:
            log.warning("notification from %s refused: %s", client, exc.message)
            return _text(exc.message, 400)
        except SchemaChanged:
            return _text(SCHEMA_CHANGED, 503)
        except Exception:
            log.exception("notification from %s could NOT be stored; MIT will retry", client)
            return _text("No se pudo guardar la notificación; reintente.", 503)
        if received.pending:  # stored but not applied: MIT's retry applies it
            log.warning("notification from %s stored but not applied; MIT will retry", client)
            return _text("Notificación guardada pero no aplicada; reintente.", 503)
        if not received.email_ids:
            return _text("OK", 200)
        kick: asyncio.Event | None = getattr(request.app.state, "deliver_now", None)
        if kick is not None:  # the delivery loop sends it at once, batched under load
            kick.set()
            return _text("OK", 200)
        return PlainTextResponse("OK", background=BackgroundTask(_deliver, ctx, received.email_ids))

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
    if serve_sandbox:
        from paylink_tui.gateway.sandbox import create_sandbox_app

        sandbox_app = create_sandbox_app(**(sandbox_kwargs or {}))
        routes.append(Mount("/", app=sandbox_app))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop_task = None
        if deliver_interval > 0:
            kick = asyncio.Event()
            app.state.deliver_now = kick
            loop_task = asyncio.create_task(
                _delivery_loop(ctx, deliver_interval, kick, busy=writer.busy))
        try:
            yield
        finally:
            if loop_task is not None:
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
            if sandbox_app is not None:  # a mounted app's own lifespan does not run
                await sandbox_app.state.sandbox.state.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.sandbox = sandbox_app.state.sandbox if sandbox_app is not None else None
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
    return create_app(ctx, serve_sandbox=sandbox_kwargs is not None, sandbox_kwargs=sandbox_kwargs)


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
