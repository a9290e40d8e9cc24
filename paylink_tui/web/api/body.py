"""Reading a request body within a limit: the declared Content-Length is refused at once
when too large, and a body without one (chunked) is counted while it is read, so nobody
makes the server hold more than the limit. JSON is parsed strictly (UTF-8, no NaN, bounded
nesting) and anything wrong is a 422 naming no secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

from starlette.requests import Request

from paylink_tui.backend.api_errors import InvalidRequest, RequestTooLarge

MAX_DEPTH = 32


def declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise InvalidRequest("Content-Length no válido.", field="Content-Length")
    return int(raw)


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    size = declared_length(request)
    if size is not None and size > limit:
        raise RequestTooLarge(limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise RequestTooLarge(limit)
        yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    parts = [chunk async for chunk in _chunks(request, limit)]
    return b"".join(parts)


async def copy_body(request: Request, limit: int, out: BinaryIO) -> int:
    """Write the body to `out` (an upload), at most `limit` bytes; the bytes written."""
    written = 0
    async for chunk in _chunks(request, limit):
        out.write(chunk)
        written += len(chunk)
    return written


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _depth(value: Any, level: int = 0) -> None:
    if level > MAX_DEPTH:
        raise InvalidRequest("El cuerpo JSON anida demasiados niveles.", field="")
    if isinstance(value, dict):
        for item in value.values():
            _depth(item, level + 1)
    elif isinstance(value, list):
        for item in value:
            _depth(item, level + 1)


def parse_json(raw: bytes) -> Any:
    """The JSON value of a body (None when empty)."""
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRequest("El cuerpo de la solicitud no es JSON válido (UTF-8).",
                             field="") from None
    _depth(value)
    return value
