"""The team-mode API's one table: each `Backend` method, the HTTP request that carries it.

The server (web/api/) mounts its routes from `ROUTES` and the remote client calls from it,
with `encode_call` / `decode_call` below, so the two cannot drift. Parameters travel by the
types of the `Backend` Protocol's own hints (backend/codec.py):
- path parameters (`{reference}`, `{receipt_id}`) in the path, URL-quoted;
- GET: the others in the query string; a `str` parameter as plain text (an optional one is
  left out when None, its default), any other type as JSON text (`limit=500`, `last=true`,
  `after=["P1","2021-10-07","R1"]`, `limit=null`);
- POST / PUT: the others as one JSON object in the body;
- UPLOAD (import): the file itself is the body (at most `IMPORT_MAX_BODY`), the others in the
  query string as for GET, `filename` among them;
- STREAM (run_batch): a POST whose answer is NDJSON: a first `{"batch": id}` line, one
  `{"progress": BatchProgress}` line per link and a last `{"outcome": BatchOutcome}` (or
  `{"error": …}`) line. The client stops the batch with stop_batch(id) and reads on to the
  outcome (the links under way finish); closing the connection stops it too.

`LOCAL`: the methods the remote backend answers without a call, and why. `role`: the least
role a route needs (the server refuses a lesser one with 403 before calling; the services
check again). A method returning `None` for "not found" (`none_404`) answers 404 with the
not-found error kind, which the client turns back into None.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from paylink_tui.backend.codec import CodecError, from_json, hints, to_json
from paylink_tui.domain.results import ROLE_ADMIN, ROLE_AGENT, ROLE_SUPERVISOR

API_PREFIX = "/api/v1"
SESSION_PATH = f"{API_PREFIX}/sesion"  # POST {user, password[, new_password]}; DELETE
EVENTS_PATH = f"{API_PREFIX}/eventos"  # Server-Sent Events, Last-Event-ID = the cursor
WHOAMI = f"{API_PREFIX}/identidad"  # GET: the signed-in user's Identity
WHOAMI_PATH = WHOAMI

MAX_BODY = 1024 * 1024  # every request body: 413 beyond it
# The insurer's export for `import` only: ~64 MiB is some 400,000 receipts of a CSV as the
# insurer writes it (about 160 bytes a row) — more than any agency's monthly file; a larger
# one is split or imported on the server with the command.
IMPORT_MAX_BODY = 64 * 1024 * 1024

GET, POST, PUT = "GET", "POST", "PUT"
UPLOAD, STREAM = "UPLOAD", "STREAM"  # kinds besides plain JSON calls (both are POSTs)

ROLE_ORDER = {ROLE_AGENT: 0, ROLE_SUPERVISOR: 1, ROLE_ADMIN: 2}


@dataclass(frozen=True)
class Route:
    name: str  # the Backend method
    method: str  # GET | POST | PUT (the HTTP verb)
    path: str  # full path; `{name}` segments are path parameters
    params: tuple[str, ...]  # every parameter that travels, path ones included
    role: str = ROLE_AGENT
    kind: str = "json"  # json | UPLOAD | STREAM
    none_404: str | None = None  # error kind answered with 404 when the method returns None

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(p for p in self.params if "{" + p + "}" in self.path)

    @property
    def body_params(self) -> tuple[str, ...]:
        """Parameters in the JSON body (POST/PUT of kind json or STREAM)."""
        if self.method == GET or self.kind == UPLOAD:
            return ()
        return tuple(p for p in self.params if p not in self.path_params)

    @property
    def query_params(self) -> tuple[str, ...]:
        if self.method == GET or self.kind == UPLOAD:
            return tuple(p for p in self.params if p not in self.path_params)
        return ()


def _r(name: str, method: str, path: str, *params: str, **kw: Any) -> Route:
    return Route(name, method, API_PREFIX + path, tuple(params), **kw)


ROUTES: dict[str, Route] = {r.name: r for r in (
    _r("identity", GET, "/identidad"),
    # -- the pending list
    _r("pending_page", GET, "/pendientes", "search", "after", "before", "last", "limit", "sort"),
    _r("pending_totals", GET, "/pendientes/totales", "search"),
    _r("off_list", GET, "/pendientes/fuera-de-lista", "search", "limit"),
    _r("receipt_detail", GET, "/recibos/{receipt_id}", "receipt_id",
       none_404="ReceiptNotFound"),
    # -- links
    _r("generate_link", POST, "/ligas", "receipt_numbers", "policy_number", "email", "plans"),
    _r("link_preview", POST, "/ligas/vista-previa", "receipt_numbers", "policy_number"),
    _r("list_links", GET, "/ligas", "status", "mine", "limit", "search"),
    _r("link_detail", GET, "/ligas/{reference}", "reference", none_404="LinkNotFound"),
    _r("retry_link", POST, "/ligas/{reference}/reintento", "reference", "email"),
    _r("cancel_link", POST, "/ligas/{reference}/cancelacion", "reference"),
    _r("resend_link_email", POST, "/ligas/{reference}/reenvio", "reference", "to"),
    _r("set_link_reminders", PUT, "/ligas/{reference}/recordatorios", "reference", "enabled"),
    # -- many links at once
    _r("batch_preview", POST, "/lotes/vista-previa", "receipt_numbers", "search"),
    _r("run_batch", POST, "/lotes", "plan", kind=STREAM),
    _r("stop_batch", POST, "/lotes/{batch_id}/detencion", "batch_id", none_404="BatchNotFound"),
    # -- history
    _r("summary", GET, "/resumen"),
    # -- review (supervisor)
    _r("list_review", GET, "/revision", role=ROLE_SUPERVISOR),
    _r("apply_review", POST, "/revision/{notification_id}/aplicacion", "notification_id",
       "reference", "accept_differences", role=ROLE_SUPERVISOR),
    _r("dismiss_review", POST, "/revision/{notification_id}/descarte", "notification_id",
       "note", role=ROLE_SUPERVISOR),
    # -- reconciliation with MIT (supervisor: it applies payments of every agent's links)
    _r("reconcile", POST, "/conciliacion", "day", role=ROLE_SUPERVISOR),
    # -- import (administrador): the file is the body
    _r("import_file", POST, "/importacion", "full", "yes", "filename", role=ROLE_ADMIN,
       kind=UPLOAD),
    # -- live: one poll (the TUI may use the stream at EVENTS_PATH instead)
    _r("events", GET, "/eventos/lote", "cursor"),
)}

# Backend methods that are no call to the server, and what the remote backend does instead.
LOCAL: dict[str, str] = {
    "now": "the client's own clock",
    "close": "closes the client's HTTP connections (the session stays: logout ends it)",
    "link_plans": "pure: computed from identity().promotions",
    "iter_pending": "paged over pending_page (after= the last key of each page)",
    "deliver_outbox": "nothing: the server delivers the outbox and the reminders",
}

# Parameters that are not plain JSON: the upload's `filename` stands for import_file's
# `path`; the callables of run_batch / import_file stay on the client.
CLIENT_ONLY_PARAMS: dict[str, tuple[str, ...]] = {
    "run_batch": ("on_progress", "should_stop"),
    "import_file": ("path", "on_progress"),
}
UPLOAD_PARAM_TYPES: dict[str, Any] = {"filename": str}


def role_allows(role: str, needed: str) -> bool:
    return ROLE_ORDER.get(role, -1) >= ROLE_ORDER[needed]


def param_types(route: Route) -> dict[str, Any]:
    """The type of each parameter of `route`, from the Backend Protocol's hints."""
    from paylink_tui.backend.base import Backend

    method = getattr(Backend, route.name)
    found = hints(method)
    return {p: UPLOAD_PARAM_TYPES[p] if p in UPLOAD_PARAM_TYPES else found[p]
            for p in route.params}


def param_defaults(route: Route) -> dict[str, Any]:
    """Each parameter's default in the Protocol (absent: required)."""
    from paylink_tui.backend.base import Backend

    sig = inspect.signature(getattr(Backend, route.name))
    return {name: p.default for name, p in sig.parameters.items()
            if p.default is not inspect.Parameter.empty}


def _is_text(type_: Any) -> bool:
    return type_ is str or type_ == (str | None)


def encode_call(route: Route, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, str], Any]:
    """(path, query, JSON body or None) for calling `route` with these arguments."""
    types_ = param_types(route)
    path = route.path
    for p in route.path_params:
        path = path.replace("{" + p + "}", quote(str(kwargs[p]), safe=""))
    query: dict[str, str] = {}
    for p in route.query_params:
        if p not in kwargs:
            continue
        value = kwargs[p]
        if _is_text(types_[p]):
            if value is not None:
                query[p] = value
        else:
            query[p] = json.dumps(to_json(value), separators=(",", ":"))
    body = None
    if route.body_params:
        body = {p: to_json(kwargs[p]) for p in route.body_params if p in kwargs}
    return path, query, body


def decode_call(route: Route, path_params: Mapping[str, str], query: Mapping[str, str],
                body: Any) -> dict[str, Any]:
    """The keyword arguments a request carries; CodecError (-> 422) naming the bad field,
    for an unknown one too."""
    types_ = param_types(route)
    defaults = param_defaults(route)
    out: dict[str, Any] = {}
    for p in route.path_params:
        raw = path_params[p]
        if types_[p] is int:
            if not raw.isdigit() or len(raw) > 18:
                raise CodecError(p, "se esperaba un número entero")
            out[p] = int(raw)
        else:
            out[p] = from_json(types_[p], raw, p)
    for name in query:
        if name not in route.query_params:
            raise CodecError(name, "parámetro desconocido")
    for p in route.query_params:
        if p not in query:
            continue
        raw = query[p]
        if _is_text(types_[p]):
            out[p] = raw
        else:
            try:
                data = json.loads(raw)
            except ValueError:
                raise CodecError(p, "valor no válido") from None
            out[p] = from_json(types_[p], data, p)
    if route.body_params:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise CodecError("", "se esperaba un objeto JSON")
        for name in body:
            if name not in route.body_params:
                raise CodecError(str(name), "campo desconocido")
        for p in route.body_params:
            if p in body:
                out[p] = from_json(types_[p], body[p], p)
    elif body not in (None, {}):
        raise CodecError("", "esta operación no lleva cuerpo")
    for p in route.params:
        if p not in out and p not in defaults and p not in UPLOAD_PARAM_TYPES:
            raise CodecError(p, "campo obligatorio")
    if route.name == "pending_page":
        _keys_in_their_order(out, query)
    return out


def _keys_in_their_order(out: dict[str, Any], query: Mapping[str, str]) -> None:
    """pending_page's `after`/`before` are keys of the order `sort` names: a lapse key
    (date, policy, receipt) whose policy looks like a date would read as a policy key."""
    from paylink_tui.domain.results import SORT_LAPSE, LapseKey, PolicyKey

    key_type = LapseKey if out.get("sort") == SORT_LAPSE else PolicyKey
    for p in ("after", "before"):
        if out.get(p) is not None:
            out[p] = from_json(key_type, json.loads(query[p]), p)
