"""The route table covers the Backend Protocol exactly, and a call goes through it unchanged."""

from __future__ import annotations

import inspect
import json
from datetime import date
from urllib.parse import unquote

import pytest

from paylink_tui.backend import routes
from paylink_tui.backend.base import Backend
from paylink_tui.backend.codec import CodecError
from paylink_tui.backend.routes import LOCAL, ROUTES, decode_call, encode_call, param_types
from tests.backend.test_codec import sample


def _protocol_methods() -> set[str]:
    return {name for name, member in vars(Backend).items()
            if callable(member) and not name.startswith("_")}


def test_every_backend_method_has_a_route_or_a_stated_reason() -> None:
    methods = _protocol_methods()
    assert methods, "the Protocol has methods"
    missing = methods - set(ROUTES) - set(LOCAL)
    assert not missing, f"Backend methods without a route (add them to ROUTES): {missing}"
    assert not (set(ROUTES) & set(LOCAL))
    assert set(ROUTES) | set(LOCAL) == methods, "a route for a method the Protocol lacks"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_a_routes_parameters_are_the_methods(name: str) -> None:
    route = ROUTES[name]
    sig = inspect.signature(getattr(Backend, name))
    wanted = [p for p in sig.parameters if p != "self"
              and p not in routes.CLIENT_ONLY_PARAMS.get(name, ())]
    extra = [p for p in route.params if p in routes.UPLOAD_PARAM_TYPES]
    assert sorted(route.params) == sorted(wanted + extra)
    assert route.path.startswith(routes.API_PREFIX + "/")
    types_ = param_types(route)
    for p in route.query_params:  # an optional text parameter left out means None
        if types_[p] == (str | None):
            assert sig.parameters[p].default is None


def test_no_two_routes_share_a_method_and_path() -> None:
    seen = {(r.method, r.path) for r in ROUTES.values()}
    assert len(seen) == len(ROUTES)
    reserved = {routes.SESSION_PATH, routes.EVENTS_PATH}
    assert not {r.path for r in ROUTES.values()} & reserved
    assert ROUTES["identity"].path == routes.WHOAMI


def _args(name: str) -> dict[str, object]:
    route = ROUTES[name]
    types_ = param_types(route)
    args = {p: sample(types_[p]) for p in route.params}
    if name == "pending_page":
        args["sort"] = "policy"
        args["after"] = ("P1", date(2021, 10, 7), "R1")
        args["before"] = None
    if "reference" in args:
        args["reference"] = "PL/1 ?#%"
    return args


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_a_call_goes_through_the_table_unchanged(name: str) -> None:
    route = ROUTES[name]
    args = _args(name)
    path, query, body = encode_call(route, args)
    body = json.loads(json.dumps(body)) if body is not None else None
    # What the server's router would match: the raw segments, unquoted.
    template = route.path.split("/")
    actual = path.split("/")
    assert len(template) == len(actual)
    path_params = {t[1:-1]: unquote(a) for t, a in zip(template, actual, strict=True) if t.startswith("{")}
    back = decode_call(route, path_params, query, body)
    expected = {k: v for k, v in args.items()
                if not (v is None and k in route.query_params)}
    for key, value in expected.items():
        assert back[key] == value or list(back[key]) == list(value), key


def test_a_lapse_key_reads_in_its_own_order() -> None:
    route = ROUTES["pending_page"]
    key = (date(2021, 10, 7), "2021-10-08", "R1")  # a policy number that looks like a day
    path, query, body = encode_call(route, {"after": key, "sort": "lapse"})
    assert decode_call(route, {}, query, body)["after"] == key


@pytest.mark.parametrize(("query", "field"), [
    ({"limit": "cien"}, "limit"),
    ({"limit": '"100"'}, "limit"),
    ({"last": "1"}, "last"),
    ({"after": '["P1"]'}, "after"),
    ({"otro": "x"}, "otro"),
])
def test_bad_query_parameters_name_the_field(query: dict[str, str], field: str) -> None:
    with pytest.raises(CodecError) as caught:
        decode_call(ROUTES["pending_page"], {}, query, None)
    assert caught.value.field == field


def test_bad_bodies_name_the_field() -> None:
    route = ROUTES["generate_link"]
    with pytest.raises(CodecError) as caught:
        decode_call(route, {}, {}, {"email": "a@b.mx", "receipt_numbers": "R1"})
    assert caught.value.field == "receipt_numbers"
    with pytest.raises(CodecError) as caught:
        decode_call(route, {}, {}, {"email": "a@b.mx", "agent": "otro"})
    assert caught.value.field == "agent"  # who is asking is never a parameter
    with pytest.raises(CodecError) as caught:
        decode_call(route, {}, {}, {})
    assert caught.value.field == "email"
    with pytest.raises(CodecError):
        decode_call(route, {}, {}, ["R1"])
    with pytest.raises(CodecError) as caught:
        decode_call(ROUTES["receipt_detail"], {"receipt_id": "12a"}, {}, None)
    assert caught.value.field == "receipt_id"
