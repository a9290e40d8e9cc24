"""Every path of the API, enumerated from the running app's own routes, refused as the
contract says: no token, a garbage or expired token, a disabled user's token (401); the
wrong role (403); another agent's receipt or link (404); an oversized body, declared or
chunked (413); a malformed body, an unknown field, a wrong type (422, naming the field).

A route added to the app without an entry here fails `test_every_api_route_is_covered`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from paylink_tui.backend import routes as table
from paylink_tui.backend.routes import ROUTES, encode_call
from paylink_tui.domain.results import Identity
from paylink_tui.services import batch_runs, users
from tests.api.conftest import PASSWORD, Team

CATCH_ALL = table.API_PREFIX + "/{rest:path}"
SPECIAL = {("POST", table.SESSION_PATH), ("DELETE", table.SESSION_PATH),
           ("GET", table.EVENTS_PATH), ("GET", CATCH_ALL)}

# Well-formed arguments of each route, as the user allowed to call it (`OWN`: ana's objects).
ARGS: dict[str, dict[str, Any]] = {
    "identity": {},
    "pending_page": {"search": "", "limit": 10, "last": False},
    "pending_totals": {"search": ""},
    "off_list": {"search": "PA-100", "limit": 5},
    "receipt_detail": {"receipt_id": "OWN_RECEIPT_ID"},
    "generate_link": {"receipt_numbers": ["PA-200-1"], "email": "c@example.com"},
    "link_preview": {"receipt_numbers": ["PA-200-1"]},
    "list_links": {"limit": 10},
    "link_detail": {"reference": "OWN_LINK"},
    "retry_link": {"reference": "OWN_LINK"},
    "cancel_link": {"reference": "OWN_LINK"},
    "resend_link_email": {"reference": "OWN_LINK"},
    "set_link_reminders": {"reference": "OWN_LINK", "enabled": False},
    "batch_preview": {"receipt_numbers": ["PA-200-1"]},
    "run_batch": {"plan": {"links": [], "skipped": []}},
    "stop_batch": {"batch_id": "OWN_BATCH"},
    "summary": {},
    "list_review": {},
    "apply_review": {"notification_id": 999, "reference": "OWN_LINK"},
    "dismiss_review": {"notification_id": 999, "note": "revisada"},
    "reconcile": {},
    "import_file": {"full": False, "filename": "recibos.csv"},
    "events": {"cursor": "0"},
}
# The routes that name a receipt, a link or a batch: the same call with another agent's one
# -> 404.
OTHERS: dict[str, dict[str, Any]] = {
    "receipt_detail": {"receipt_id": "OTHER_RECEIPT_ID"},
    "generate_link": {"receipt_numbers": ["PB-200-1"], "email": "c@example.com"},
    "link_preview": {"receipt_numbers": ["PB-200-1"]},
    "link_detail": {"reference": "OTHER_LINK"},
    "retry_link": {"reference": "OTHER_LINK"},
    "cancel_link": {"reference": "OTHER_LINK"},
    "resend_link_email": {"reference": "OTHER_LINK"},
    "set_link_reminders": {"reference": "OTHER_LINK", "enabled": False},
    "stop_batch": {"batch_id": "OTHER_BATCH"},
}
# Routes that name no receipt or link of an agent (nothing to hide by 404), and why.
NO_OBJECT = {
    "identity": "who is asking", "pending_page": "a list: its query is scoped",
    "pending_totals": "a sum: its query is scoped", "off_list": "a list: scoped",
    "list_links": "a list: scoped", "summary": "figures: scoped", "events": "a list: scoped",
    "batch_preview": "another agent's receipts are skipped as not found (the plan says so)",
    "run_batch": "each link goes through generate_link, which refuses them",
    "list_review": "supervisors only", "apply_review": "supervisors only",
    "dismiss_review": "supervisors only", "reconcile": "supervisors only",
    "import_file": "administrador only",
}
# A wrong-typed value per route with parameters: (parameter, value as sent).
WRONG: dict[str, tuple[str, Any]] = {
    "pending_page": ("limit", "cien"), "pending_totals": (None, None),  # text: no wrong type

    "off_list": ("limit", "cinco"), "receipt_detail": ("receipt_id", "doce"),
    "generate_link": ("receipt_numbers", "PA-200-1"), "link_preview": ("policy_number", 7),
    "list_links": ("mine", "si"), "link_detail": (None, None),
    "retry_link": ("email", 5), "cancel_link": (None, None), "resend_link_email": ("to", []),
    "set_link_reminders": ("enabled", "no"), "batch_preview": ("search", {"a": 1}),
    "run_batch": ("plan", "ninguno"), "stop_batch": ("batch_id", "uno"),
    "apply_review": ("accept_differences", "si"), "dismiss_review": ("note", 3),
    "reconcile": ("day", "07/10/2021"), "import_file": ("full", "quizá"),
    "events": (None, None),
}
CALLER = {table.ROLE_AGENT: "ana", table.ROLE_SUPERVISOR: "sofia", table.ROLE_ADMIN: "admin"}
LESSER = {table.ROLE_SUPERVISOR: "ana", table.ROLE_ADMIN: "sofia"}
BIG = table.MAX_BODY + 1


def app_routes(team: Team) -> list[tuple[str, str]]:
    out = []
    for route in team.server.app.routes:
        path = getattr(route, "path", "")
        if not path.startswith(table.API_PREFIX):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                out.append((method, path))
    return out


def _route_of(method: str, path: str) -> table.Route | None:
    for route in ROUTES.values():
        verb = "POST" if route.kind in (table.UPLOAD, table.STREAM) else route.method
        if (verb, route.path) == (method, path):
            return route
    return None


def test_every_api_route_is_covered(team: Team) -> None:
    found = app_routes(team)
    assert len(found) >= len(ROUTES)
    for method, path in found:
        if (method, path) in SPECIAL or (path == CATCH_ALL):
            continue
        route = _route_of(method, path)
        assert route is not None, f"{method} {path}: an API route outside backend/routes.py"
        assert route.name in ARGS, f"{route.name}: no arguments for its auth tests"
        assert route.name in WRONG or not route.params, f"{route.name}: no wrong-type case"
        assert route.name in WRONG or route.name in ("identity", "summary", "list_review")
        assert (route.name in OTHERS) != (route.name in NO_OBJECT), \
            f"{route.name}: say whether it names an agent's receipt or link (OTHERS/NO_OBJECT)"
    assert {(m, p) for m, p in found if (m, p) in SPECIAL} >= SPECIAL - {("GET", CATCH_ALL)}


@pytest.fixture
def world(team: Team) -> Iterator[dict[str, Any]]:
    """Ana's and Beto's links, a disabled user's token, and the values of the placeholders."""
    ana, beto = team.as_user("ana"), team.as_user("beto")
    own = ana.post("/api/v1/ligas", json={"receipt_numbers": ["PA-100-1"],
                                           "email": "c@example.com"})
    other = beto.post("/api/v1/ligas", json={"receipt_numbers": ["PB-100-1"],
                                              "email": "c@example.com"})
    assert own.status_code == 200 and other.status_code == 200, (own.text, other.text)
    users.add_user(team.ctx, "carla", role="agente", codes="A001", password=PASSWORD)
    carla = team.sign_in("carla")
    users.disable_user(team.ctx, "carla")
    runs = {name: batch_runs.start(team.ctx.for_principal(Identity(user=name, role="agente")))
            for name in ("ana", "beto")}
    yield {"OWN_LINK": own.json()["reference"], "OTHER_LINK": other.json()["reference"],
           "OWN_BATCH": runs["ana"], "OTHER_BATCH": runs["beto"],
           "OWN_RECEIPT_ID": team.receipt_id("PA-100-2"),
           "OTHER_RECEIPT_ID": team.receipt_id("PB-200-1"), "disabled": carla}


def _fill(args: dict[str, Any], world: dict[str, Any]) -> dict[str, Any]:
    return {k: world.get(v, v) if isinstance(v, str) else v for k, v in args.items()}


def _request(client: httpx.Client, route: table.Route, args: dict[str, Any], *,
             content: Any = None, body: Any = "default", headers: dict[str, str] | None = None
             ) -> httpx.Response:
    path, query, json_body = encode_call(route, args)
    verb = "POST" if route.kind in (table.UPLOAD, table.STREAM) else route.method
    if route.kind == table.UPLOAD and content is None:
        content = b"poliza,recibo\n"
    if content is not None:
        return client.request(verb, path, params=query, content=content, headers=headers)
    if body != "default":
        json_body = body
    return client.request(verb, path, params=query, json=json_body, headers=headers)


def _chunked(size: int) -> Iterator[bytes]:
    step = 64 * 1024
    sent = 0
    while sent < size:
        piece = min(step, size - sent)
        sent += piece
        yield b" " * piece


def _check(problems: list[str], what: str, got: httpx.Response, status: int,
           kind: str | None = None, field: str | None = None) -> None:
    try:
        data = got.json()
    except ValueError:
        data = {}
    ok = got.status_code == status
    if ok and kind is not None:
        ok = data.get("error") == kind
    if ok and status >= 400:
        ok = isinstance(data.get("message"), str) and bool(data["message"])
    if ok and field is not None:
        ok = data.get("field") == field
    if not ok:
        problems.append(f"{what}: {got.status_code} {got.text[:200]} (wanted {status} "
                        f"{kind or ''} {field or ''})")


def _refusals(team: Team, world: dict[str, Any], route: table.Route,
              problems: list[str]) -> None:
    name = route.name
    args = _fill(ARGS[name], world)
    anon = team.http()
    _check(problems, f"{name} without a token", _request(anon, route, args), 401, "NotSignedIn")
    _check(problems, f"{name} with a garbage token",
           _request(team.http("x" * 43), route, args), 401, "NotSignedIn")
    _check(problems, f"{name} with a disabled user's token",
           _request(team.http(world["disabled"]), route, args), 401, "NotSignedIn")
    caller = team.as_user(CALLER[route.role])
    clock = team.ctx.clock
    start = clock.now  # type: ignore[attr-defined]
    clock.set(start + timedelta(hours=12, minutes=1))  # type: ignore[attr-defined]
    try:
        _check(problems, f"{name} with an expired token", _request(caller, route, args), 401,
               "NotSignedIn")
    finally:
        clock.set(start)  # type: ignore[attr-defined]
    if route.role in LESSER:
        _check(problems, f"{name} as {LESSER[route.role]}",
               _request(team.as_user(LESSER[route.role]), route, args), 403, "Forbidden")
    if name in OTHERS:
        got = _request(team.as_user("ana"), route, _fill(OTHERS[name], world))
        _check(problems, f"{name} on another agent's receipt or link", got, 404)
    limit = table.IMPORT_MAX_BODY if route.kind == table.UPLOAD else table.MAX_BODY
    _check(problems, f"{name} with a body over the limit",
           _request(caller, route, args, content=b" " * (limit + 1)), 413, "RequestTooLarge")
    _check(problems, f"{name} with a chunked body over the limit",
           _request(caller, route, args, content=_chunked(limit + 1)), 413, "RequestTooLarge")
    if route.kind == table.UPLOAD:
        bad = _request(caller, route, {**args, "full": None}, content=b"x",
                       headers={"x-ignore": "1"})
        _check(problems, f"{name} with a query value that is no JSON", bad, 422,
               "InvalidRequest")
    else:
        _check(problems, f"{name} with a body that is no JSON",
               _request(caller, route, args, content=b"{no es json",
                        headers={"content-type": "application/json"}), 422, "InvalidRequest",
               "")
    _unknown_and_wrong(team, route, args, caller, problems)


def _unknown_and_wrong(team: Team, route: table.Route, args: dict[str, Any],
                       caller: httpx.Client, problems: list[str]) -> None:
    name = route.name
    path, query, body = encode_call(route, args)
    verb = "POST" if route.kind in (table.UPLOAD, table.STREAM) else route.method
    content = b"poliza\n" if route.kind == table.UPLOAD else None
    if route.body_params:
        got = caller.request(verb, path, params=query, json={**(body or {}), "zzz": 1})
    else:
        got = caller.request(verb, path, params={**query, "zzz": "1"}, content=content)
    _check(problems, f"{name} with an unknown field", got, 422, "InvalidRequest", "zzz")
    param, value = WRONG.get(name, (None, None))
    if param is None:
        return
    if param in route.path_params:
        bad_path = route.path.replace("{" + param + "}", str(value))
        for p in route.path_params:
            bad_path = bad_path.replace("{" + p + "}", str(args[p]))
        got = caller.request(verb, bad_path, params=query, json=body)
    elif param in route.body_params:
        got = caller.request(verb, path, params=query, json={**(body or {}), param: value})
    else:
        raw = value if isinstance(value, str) else "null"
        got = caller.request(verb, path, params={**query, param: raw}, content=content)
    _check(problems, f"{name} with a wrong type for {param}", got, 422, "InvalidRequest", param)


def _special_refusals(team: Team, world: dict[str, Any], problems: list[str]) -> None:
    anon = team.http()
    ana = team.as_user("ana")
    s, e = table.SESSION_PATH, table.EVENTS_PATH
    # sign-in: it takes no token; its body is limited and checked like any other
    _check(problems, "sign-in over the limit", anon.post(s, content=b" " * BIG), 413)
    _check(problems, "sign-in chunked over the limit",
           anon.post(s, content=_chunked(BIG)), 413)
    _check(problems, "sign-in no JSON", anon.post(s, content=b"{"), 422, "InvalidRequest", "")
    _check(problems, "sign-in unknown field",
           anon.post(s, json={"user": "ana", "password": PASSWORD, "rol": "admin"}), 422,
           "InvalidRequest", "rol")
    _check(problems, "sign-in wrong type", anon.post(s, json={"user": "ana", "password": 1}),
           422, "InvalidRequest", "password")
    # sign-out and the event stream: like every other route
    for verb, path in (("DELETE", s), ("GET", e), ("GET", "/api/v1/no-existe")):
        what = f"{verb} {path}"
        _check(problems, f"{what} without a token", anon.request(verb, path), 401,
               "NotSignedIn")
        _check(problems, f"{what} with a disabled user's token",
               team.http(world["disabled"]).request(verb, path), 401, "NotSignedIn")
        start = team.ctx.clock.now  # type: ignore[attr-defined]
        team.ctx.clock.set(start + timedelta(days=8))  # type: ignore[attr-defined]
        try:
            _check(problems, f"{what} with an expired token", ana.request(verb, path), 401)
        finally:
            team.ctx.clock.set(start)  # type: ignore[attr-defined]
    for verb, path in (("DELETE", s), ("GET", e)):
        what = f"{verb} {path}"
        _check(problems, f"{what} over the limit",
               ana.request(verb, path, content=b" " * BIG), 413)
        _check(problems, f"{what} chunked over the limit",
               ana.request(verb, path, content=_chunked(BIG)), 413)
        _check(problems, f"{what} with a body", ana.request(verb, path, content=b"[1]"), 422,
               "InvalidRequest")
    _check(problems, "events with a bad Last-Event-ID",
           ana.get(e, headers={"Last-Event-ID": "abc"}), 422, "InvalidRequest", "Last-Event-ID")
    _check(problems, "an unknown path, signed in", ana.get("/api/v1/no-existe"), 404,
           "PathNotFound")


def test_every_route_refuses_as_the_contract_says(team: Team, world: dict[str, Any]) -> None:
    problems: list[str] = []
    seen = set()
    for method, path in app_routes(team):
        route = _route_of(method, path)
        if route is None:
            continue
        seen.add(route.name)
        _refusals(team, world, route, problems)
    _special_refusals(team, world, problems)
    assert seen == set(ROUTES)
    assert not problems, "\n".join(problems)
