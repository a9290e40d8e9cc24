"""The API's answers: results as the codec's JSON, refusals as `{"error": kind, "message":
Spanish, "retryable": …, "extra": {…}}` (422 adds `"field"`), with the status each kind
deserves. Nothing here echoes a header or a body: no token or password can leave this way."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse

from paylink_tui.backend import api_errors as api
from paylink_tui.backend.codec import error_to_json, to_json
from paylink_tui.domain import errors as e

log = logging.getLogger("paylink_tui.web.api")

# The status of an AgentError kind (its nearest class in this table wins).
STATUS: dict[type[e.AgentError], int] = {
    e.NotSignedIn: 401,
    e.SignInRefused: 401,
    e.Forbidden: 403,
    e.PasswordChangeRequired: 403,
    api.PathNotFound: 404,
    e.ReceiptNotFound: 404,
    e.LinkNotFound: 404,
    e.BatchNotFound: 404,
    api.RequestTooLarge: 413,
    api.InvalidRequest: 422,
    api.TooManyAttempts: 429,
    e.AlreadyLinked: 409,
    e.NotPending: 409,
    e.LinkStateError: 409,
    e.NeedsConfirmation: 409,
    e.OutcomeUnknown: 504,
    e.GatewayFailure: 502,
    e.BackendUnavailable: 503,
    api.ServerError: 500,
}
DEFAULT_STATUS = 400  # any other AgentError: understood, and refused for the reason given

NOT_SIGNED_IN = ("Inicie sesión en el servidor de la agencia (paylink-tui login): no hay "
                 "sesión, o terminó.")


def status_of(exc: e.AgentError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return DEFAULT_STATUS


def error_response(exc: e.AgentError, status: int | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = error_to_json(exc)
    if isinstance(exc, api.InvalidRequest):
        body["field"] = exc.field
    code = status or status_of(exc)
    if code == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="paylink"', **(headers or {})}
    if isinstance(exc, api.TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after), **(headers or {})}
    return JSONResponse(body, status_code=code, headers=headers)


def not_signed_in() -> JSONResponse:
    return error_response(e.NotSignedIn(NOT_SIGNED_IN))


def result_response(value: Any, status: int = 200) -> JSONResponse:
    """200 with the result's JSON as it is (`null` for None)."""
    return JSONResponse(to_json(value), status_code=status)
