"""`POST /mit/notificacion`: MIT's payment result in, one answer out.

MIT retries a notification until it gets a success answer, so the status codes matter:
- 200 once the notification is safely stored, whatever it means (applied or for review);
- 400 `Notificación rechazada.` for EVERY body that is not ours (no strResponse, not base64,
  bad padding, not text, not XML, a DTD, not CENTEROFPAYMENTS...): nothing stored, and the
  same status, body and headers whatever failed, so that a forger learns nothing (a padding
  oracle: issue 11). The reason goes to the log only (web/guard.py, rate-limited);
- 403 for a source outside PAYLINK_MIT_ALLOWED_IPS, before the body is read;
- 429 for a source whose notifications failed too often lately (web/guard.py);
- 408 for a body that did not arrive within PAYLINK_SERVE_READ_TIMEOUT, 413 for one over
  64 KiB (declared or chunked), refused before reading it all;
- 503 only when it could not be stored, so that MIT tries again.

Decrypting and reading happen here, per request, in a worker thread: only stored-ready rows
reach the single writer (web/writer.py), so a hostile body can't stall the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from paylink_tui.domain.text import loggable
from paylink_tui.services.context import AppContext
from paylink_tui.web.guard import NotificationGuard
from paylink_tui.web.writer import SCHEMA_CHANGED, GroupWriter, SchemaChanged

log = logging.getLogger(__name__)

NOTIFY_PATH = "/mit/notificacion"
# A real notification is ~2 KB of base64; 64 KiB leaves room for datos_adicionales.
MAX_BODY = 64 * 1024
REJECTED = "Notificación rechazada."


class BodyTooLarge(Exception):
    pass


async def read_capped(request: Request, cap: int) -> bytes:
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


def str_response_field(body: bytes) -> str | None:
    """The strResponse form field. MIT posts application/x-www-form-urlencoded; the value
    may carry a second layer of URL-encoding (%0D%0A), which the gateway normalises."""
    try:
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return None
    values = fields.get("strResponse")
    return values[0] if values else None


def _text(message: str, status: int, headers: dict[str, str] | None = None) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status, headers=headers)


def rejected() -> PlainTextResponse:
    """The one answer to every notification that is not ours."""
    return _text(REJECTED, 400)


def notify_endpoint(
    ctx: AppContext,
    writer: GroupWriter,
    guard: NotificationGuard,
    *,
    read_timeout: float,
    deliver: Callable[[AppContext, tuple[int, ...]], Awaitable[None]],
) -> Callable[[Request], Awaitable[Response]]:
    from paylink_tui.services import notifications

    async def notify(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if not guard.allowed(client):
            return _text("Origen no autorizado.", 403)
        wait = guard.retry_after(client)
        if wait is not None:
            guard.throttled(client, wait)
            return _text("Demasiadas notificaciones rechazadas; reintente más tarde.", 429,
                         {"Retry-After": str(int(wait + 0.999))})
        with guard.attempt(client) as attempt:
            try:
                body = await asyncio.wait_for(read_capped(request, MAX_BODY), read_timeout)
            except BodyTooLarge:
                attempt.failed(f"body larger than {MAX_BODY} bytes")
                return _text("Notificación rechazada: el contenido es demasiado grande.", 413)
            except TimeoutError:
                guard.refusals.warning("notification from %s: body not received within %g s",
                                       loggable(client), read_timeout)
                return _text("No se recibió la notificación completa a tiempo.", 408)
            value = str_response_field(body)
            if not value:
                attempt.failed("no strResponse field")
                return rejected()
            try:
                prepared: Any = await run_in_threadpool(notifications.prepare, ctx, value)
            except notifications.Rejected as exc:
                attempt.failed(exc.reason)
                return rejected()
            except Exception:
                log.exception("notification from %s could not be read; MIT will retry",
                              loggable(client))
                return _text("No se pudo guardar la notificación; reintente.", 503)
        try:
            received = await writer.receive(prepared)
        except SchemaChanged:
            return _text(SCHEMA_CHANGED, 503)
        except Exception:
            log.exception("notification from %s could NOT be stored; MIT will retry",
                          loggable(client))
            return _text("No se pudo guardar la notificación; reintente.", 503)
        confirm_now: asyncio.Event | None = getattr(request.app.state, "confirm_now", None)
        if received.status == "confirming" and confirm_now is not None:
            confirm_now.set()  # MIT is asked about it at once (web/loops.py)
        if received.pending:  # stored but not applied: MIT's retry applies it
            log.warning("notification from %s stored but not applied; MIT will retry",
                        loggable(client))
            return _text("Notificación guardada pero no aplicada; reintente.", 503)
        if not received.email_ids:
            return _text("OK", 200)
        kick: asyncio.Event | None = getattr(request.app.state, "deliver_now", None)
        if kick is not None:  # the delivery loop sends it at once, batched under load
            kick.set()
            return _text("OK", 200)
        return PlainTextResponse("OK", background=BackgroundTask(deliver, ctx,
                                                                 received.email_ids))

    return notify
