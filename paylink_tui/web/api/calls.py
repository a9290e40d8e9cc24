"""One endpoint per route of backend/routes.py: the bearer token -> `sessions.resolve` ->
the role the route needs -> the parameters (codec) -> `LocalBackend(ctx.for_principal(user))`
-> the method, in a worker thread -> the codec's JSON.

The order is deliberate: nobody's body is read before their token is known (401), nor
before their role allows the route (403); the body is read within its limit (413) and its
fields checked (422) before any use case runs. Outside the portfolio, the use cases answer
"not found" (404) in their own queries (services/access.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from paylink_tui.backend import routes as table
from paylink_tui.backend.api_errors import InvalidRequest, ServerError
from paylink_tui.backend.codec import CodecError, error_to_json, to_json
from paylink_tui.domain import errors as e
from paylink_tui.web.api.auth import identify
from paylink_tui.web.api.body import copy_body, parse_json, read_body
from paylink_tui.web.api.responses import error_response, not_signed_in, result_response

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.local import LocalBackend
    from paylink_tui.domain.results import Identity
    from paylink_tui.web.api import ApiState

log = logging.getLogger("paylink_tui.web.api")

_FORBIDDEN = {
    table.ROLE_SUPERVISOR: ("Esta operación es de supervisor: su usuario no tiene permiso. "
                            "Pídasela a un supervisor de la agencia."),
    table.ROLE_ADMIN: ("Esta operación es del administrador de la agencia: su usuario no "
                       "tiene permiso."),
}
_NOT_FOUND = {
    "ReceiptNotFound": (e.ReceiptNotFound, "No se encontró el recibo."),
    "LinkNotFound": (e.LinkNotFound, "No se encontró la liga."),
    "BatchNotFound": (e.BatchNotFound, "No hay un lote en curso con ese número."),
}
_IMPORT_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")


def invalid(exc: CodecError) -> InvalidRequest:
    where = f"«{exc.field}»: " if exc.field else ""
    return InvalidRequest(f"Solicitud no válida: {where}{exc.message}.", field=exc.field)


def _backend(state: ApiState, identity: Identity) -> LocalBackend:
    from paylink_tui.backend.local import LocalBackend

    return LocalBackend(state.ctx.for_principal(identity))


async def _guarded(state: ApiState, request: Request, route: table.Route
                   ) -> Identity | Response:
    identity = await identify(state, request)
    if identity is None:
        return not_signed_in()
    if not table.role_allows(identity.role, route.role):
        return error_response(e.Forbidden(_FORBIDDEN[route.role]))
    return identity


def _arguments(route: table.Route, request: Request, body: Any) -> dict[str, Any]:
    """The method's keyword arguments from the path, the query string and the JSON body;
    InvalidRequest (422, naming the field) for a bad one."""
    try:
        return table.decode_call(route, request.path_params, dict(request.query_params), body)
    except CodecError as exc:
        raise invalid(exc) from None


async def _json_body(request: Request) -> Any:
    """The request's JSON body, read within MAX_BODY (413 beyond it; 422 if no JSON)."""
    return parse_json(await read_body(request, table.MAX_BODY))


def _failure(exc: BaseException, route: table.Route) -> Response:
    if isinstance(exc, e.AgentError):
        return error_response(exc)
    log.error("API %s failed unexpectedly", route.name, exc_info=exc)
    return error_response(ServerError())


def endpoint(route: table.Route) -> Callable[[Request], Any]:
    if route.kind == table.UPLOAD:
        return _upload_endpoint(route)
    if route.kind == table.STREAM:
        return _stream_endpoint(route)

    async def call(request: Request) -> Response:
        state: ApiState = request.app.state.api
        who = await _guarded(state, request, route)
        if isinstance(who, Response):
            return who
        try:
            kwargs = _arguments(route, request, await _json_body(request))
            method = getattr(_backend(state, who), route.name)
            result = await run_in_threadpool(lambda: method(**kwargs))
        except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
            return _failure(exc, route)
        if result is None and route.none_404:
            cls, message = _NOT_FOUND[route.none_404]
            return error_response(cls(message))
        return result_response(result)

    call.__name__ = f"api_{route.name}"
    return call


# -- import: the file is the body ------------------------------------------------------------

def _safe_filename(name: str | None) -> str:
    """The uploaded file's name as the import record keeps it: its last path component, in
    a safe alphabet, with a suffix the reader knows (by default .csv)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- ]", "_", base)[:120].strip(" .") or "importacion.csv"
    if not base.lower().endswith(_IMPORT_SUFFIXES):
        base += ".csv"
    return base


def _upload_endpoint(route: table.Route) -> Callable[[Request], Any]:
    async def upload(request: Request) -> Response:
        state: ApiState = request.app.state.api
        who = await _guarded(state, request, route)
        if isinstance(who, Response):
            return who
        try:
            kwargs = _arguments(route, request, None)  # the body is the file
            filename = _safe_filename(kwargs.pop("filename", None))
            with tempfile.TemporaryDirectory(prefix="paylink-import-") as folder:
                path = Path(folder) / filename
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    await copy_body(request, table.IMPORT_MAX_BODY, out)
                backend = _backend(state, who)
                result = await run_in_threadpool(
                    lambda: backend.import_file(path, **kwargs))
        except Exception as exc:  # noqa: BLE001
            return _failure(exc, route)
        return result_response(result)

    upload.__name__ = f"api_{route.name}"
    return upload


# -- run_batch: progress as NDJSON lines -----------------------------------------------------

def _line(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _stream_endpoint(route: table.Route) -> Callable[[Request], Any]:
    async def stream(request: Request) -> Response:
        from paylink_tui.services import batch_runs

        state: ApiState = request.app.state.api
        who = await _guarded(state, request, route)
        if isinstance(who, Response):
            return who
        try:
            kwargs = _arguments(route, request, await _json_body(request))
            backend = _backend(state, who)
            run_id = await run_in_threadpool(batch_runs.start, backend.ctx)
        except Exception as exc:  # noqa: BLE001
            return _failure(exc, route)
        return StreamingResponse(_run_batch(backend, kwargs["plan"], route, run_id),
                                 media_type="application/x-ndjson")

    stream.__name__ = f"api_{route.name}"
    return stream


async def _run_batch(backend: LocalBackend, plan: Any, route: table.Route, run_id: int
                     ) -> AsyncIterator[bytes]:
    """The batch in a thread: first its id (`stop_batch`'s handle), then each progress as a
    line. Its agent's stop (a row: it may reach another worker) or the client's going away
    stops it: no further link is started; the ones under way finish and are kept."""
    from paylink_tui.services import batch_runs

    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[bytes | None] = asyncio.Queue()
    left = threading.Event()
    ctx = backend.ctx

    def progress(p: Any) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, _line({"progress": to_json(p)}))

    def should_stop() -> bool:
        return left.is_set() or batch_runs.stop_requested(ctx, run_id)

    def work() -> None:
        try:
            outcome = backend.run_batch(plan, on_progress=progress, should_stop=should_stop)
            final = {"outcome": to_json(outcome)}
        except e.AgentError as exc:
            final = error_to_json(exc)
        except Exception as exc:  # noqa: BLE001
            log.error("API %s failed unexpectedly", route.name, exc_info=exc)
            final = error_to_json(ServerError())
        finally:
            with contextlib.suppress(Exception):
                batch_runs.finish(ctx, run_id)
        loop.call_soon_threadsafe(lines.put_nowait, _line(final))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    yield _line({"batch": run_id})
    task = loop.run_in_executor(None, work)
    try:
        while (item := await lines.get()) is not None:
            yield item
    finally:
        left.set()  # the client left (or all is sent): start no further link
        with contextlib.suppress(Exception):
            await asyncio.shield(task)


async def not_found(request: Request) -> Response:
    """Any other path under /api/v1/: 401 without a valid token (nothing about the API is
    told to strangers), else 404."""
    from paylink_tui.backend.api_errors import PathNotFound

    state: ApiState = request.app.state.api
    if await identify(state, request) is None:
        return not_signed_in()
    return error_response(PathNotFound())


__all__ = ["endpoint", "invalid", "not_found"]
