"""Signing in and out, and who a request is from.

`POST /api/v1/sesion` {user, password[, new_password]} -> {token, expires_at, identity};
a one-time password without `new_password` -> 403 PasswordChangeRequired (the password was
right: nothing is counted against the user). `DELETE /api/v1/sesion` ends the session of the
bearer token. Every refusal of a sign-in is the same answer whatever the cause, and the
throttle (web/api/throttle.py) counts names whether or not they exist.

Argon2id costs 32 MiB (users.ARGON2_MEMORY_KIB) and ~0.1 s a hash: at most
SIGN_IN_CONCURRENCY run at once in a process, the others wait their turn (20 agents signing
in at 9:00 take a second or two, not 640 MiB at once).

Nothing here logs a password, a token, or the name typed in a refused sign-in (people type
their password in the user field): a refusal is logged with the address alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from paylink_tui.backend.api_errors import InvalidRequest, TooManyAttempts
from paylink_tui.backend.codec import to_json
from paylink_tui.backend.routes import MAX_BODY
from paylink_tui.domain.errors import AgentError, PasswordChangeRequired, SignInRefused, UserError
from paylink_tui.domain.results import Identity
from paylink_tui.domain.text import loggable
from paylink_tui.web.api.body import parse_json, read_body
from paylink_tui.web.api.responses import error_response, not_signed_in

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.web.api import ApiState

log = logging.getLogger("paylink_tui.web.api")

SIGN_IN_CONCURRENCY = 4
_FIELDS = {"user": True, "password": True, "new_password": False}  # name -> required
_MAX_TOKEN_HEADER = 400


def client_host(request: Request) -> str:
    return request.client.host if request.client else "?"


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer …` (never from the query string: URLs get logged)."""
    raw = request.headers.get("authorization")
    if not raw or len(raw) > _MAX_TOKEN_HEADER:
        return None
    scheme, _, token = raw.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


async def identify(state: ApiState, request: Request) -> Identity | None:
    """The signed-in user of the request (None: no token, unknown, expired, disabled)."""
    from paylink_tui.services import sessions

    token = bearer_token(request)
    if token is None:
        return None
    return await run_in_threadpool(sessions.resolve, state.ctx, token)


def no_body(raw: bytes) -> None:
    """A request that takes no body: JSON `{}`/nothing is accepted, anything else is a 422."""
    if parse_json(raw) not in (None, {}):
        raise InvalidRequest("Esta operación no lleva cuerpo.", field="")


def _credentials(data: Any) -> dict[str, str]:
    if not isinstance(data, dict):
        raise InvalidRequest("Se esperaba un objeto JSON con «user» y «password».", field="")
    for name in data:
        if name not in _FIELDS:
            raise InvalidRequest(f"Campo desconocido: «{loggable(str(name))[:40]}».",
                                 field=str(name)[:100])
    out: dict[str, str] = {}
    for name, required in _FIELDS.items():
        value = data.get(name)
        if value is None:
            if required:
                raise InvalidRequest(f"Falta el campo «{name}».", field=name)
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"El campo «{name}» debe ser texto.", field=name)
        out[name] = value
    return out


async def sign_in(request: Request) -> Response:
    from paylink_tui.services import sessions, users

    state: ApiState = request.app.state.api
    host = client_host(request)
    try:
        creds = _credentials(parse_json(await read_body(request, MAX_BODY)))
        user = creds["user"]
        wait = state.throttle.retry_after(user, host)
        if wait is not None:
            log.warning("sign-in from %s answered 429 for %d s: too many failures",
                        loggable(host), wait)
            raise TooManyAttempts(wait)
        delay = state.throttle.delay(user, host)
        if delay:
            await asyncio.sleep(delay)
        async with state.sign_in_slots:
            try:
                identity = await run_in_threadpool(
                    lambda: users.authenticate(state.ctx, user, creds["password"],
                                               new_password=creds.get("new_password")))
            except SignInRefused:
                state.throttle.failed(user, host)
                log.info("sign-in refused from %s", loggable(host))
                raise
            except PasswordChangeRequired:
                log.info("sign-in from %s needs a new password", loggable(host))
                raise
            except UserError as exc:  # the new password does not meet the rules
                raise InvalidRequest(exc.message, field="new_password") from None
        state.throttle.succeeded(user, host)
        token, expires_at = await run_in_threadpool(sessions.open_session, state.ctx, identity)
    except AgentError as exc:
        return error_response(exc)
    log.info("user %s signed in from %s", loggable(identity.user), loggable(host))
    return JSONResponse({"token": token, "expires_at": to_json(expires_at),
                         "identity": to_json(identity)}, headers={"Cache-Control": "no-store"})


async def sign_out(request: Request) -> Response:
    from paylink_tui.services import sessions

    state: ApiState = request.app.state.api
    token = bearer_token(request)
    if token is None or await identify(state, request) is None:
        return not_signed_in()  # the client forgets its token all the same
    try:
        no_body(await read_body(request, MAX_BODY))
    except AgentError as exc:
        return error_response(exc)
    await run_in_threadpool(sessions.close_session, state.ctx, token)
    return Response(status_code=204)
