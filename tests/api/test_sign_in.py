"""Signing in and out over real HTTP: tokens, one-time passwords, the same refusal whatever
the cause, the throttle per user and per address (429 + Retry-After, telling nobody which
users exist), and no token or password in any log line."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pytest

from paylink_tui.backend.routes import EVENTS_PATH, SESSION_PATH, WHOAMI
from paylink_tui.services import users
from paylink_tui.web.api.throttle import SignInThrottle
from tests.api.conftest import PASSWORD, Team


def _sign_in(team: Team, user: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    return team.http().post(SESSION_PATH, json={"user": user, "password": password, **extra})


def test_a_sign_in_gives_a_token_its_expiry_and_who(team: Team) -> None:
    got = _sign_in(team, "Ana", PASSWORD)  # names are not case-sensitive
    assert got.status_code == 200, got.text
    data = got.json()
    assert len(data["token"]) >= 43  # 256 bits, url-safe
    expires = datetime.fromisoformat(data["expires_at"])
    assert expires.utcoffset() is not None
    assert expires == team.ctx.now() + timedelta(hours=12)
    assert data["identity"]["user"] == "ana" and data["identity"]["role"] == "agente"
    me = team.http(data["token"]).get(WHOAMI)
    assert me.status_code == 200 and me.json()["codes"] == ["A001"]
    assert got.headers["cache-control"] == "no-store"


def test_every_refusal_is_the_same_answer(team: Team) -> None:
    wrong = _sign_in(team, "ana", "otra-contraseña-123")
    unknown = _sign_in(team, "nadie", PASSWORD)
    users.add_user(team.ctx, "carla", role="agente", codes="A001", password=PASSWORD)
    users.disable_user(team.ctx, "carla")
    disabled = _sign_in(team, "carla", PASSWORD)
    for got in (wrong, unknown, disabled):
        assert got.status_code == 401
        assert got.json() == wrong.json()
    assert wrong.json()["error"] == "SignInRefused"
    assert "incorrectos" in wrong.json()["message"]


def test_a_one_time_password_must_be_changed_at_first_sign_in(team: Team) -> None:
    otp = users.add_user(team.ctx, "dora", role="agente", codes="A001")
    first = _sign_in(team, "dora", otp)
    assert first.status_code == 403
    assert first.json()["error"] == "PasswordChangeRequired"
    assert "temporal" in first.json()["message"]
    short = _sign_in(team, "dora", otp, new_password="corta")
    assert short.status_code == 422 and short.json()["field"] == "new_password"
    changed = _sign_in(team, "dora", otp, new_password="una-contraseña-nueva")
    assert changed.status_code == 200, changed.text
    assert _sign_in(team, "dora", otp).status_code == 401
    assert _sign_in(team, "dora", "una-contraseña-nueva").status_code == 200


def test_signing_out_ends_the_session(team: Team) -> None:
    token = team.sign_in("ana")
    client = team.http(token)
    assert client.get(WHOAMI).status_code == 200
    assert client.delete(SESSION_PATH).status_code == 204
    assert client.get(WHOAMI).status_code == 401
    assert client.delete(SESSION_PATH).status_code == 401


def test_too_many_failures_for_one_user_are_refused_with_retry_after(team: Team) -> None:
    team.state.throttle = SignInThrottle(slow_step=0.0)
    answers = {}
    for name in ("ana", "nadie"):  # an existing user and one that does not exist
        for _ in range(10):
            assert _sign_in(team, name, "mala-contraseña-1").status_code == 401
        refused = _sign_in(team, name, PASSWORD if name == "ana" else "x")
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        answers[name] = (refused.json(), refused.headers["Retry-After"])
    # Nothing tells them apart but the seconds that passed between the two.
    for body, retry_after in answers.values():
        assert body["error"] == "TooManyAttempts"
        assert body["message"] == answers["ana"][0]["message"]
        assert body["extra"] == {"retry_after": int(retry_after)}
        assert 850 < int(retry_after) <= 900
    # another user from the same address is not refused yet (30 per address)
    assert _sign_in(team, "beto", PASSWORD).status_code == 200


def test_too_many_failures_from_one_address_are_refused(team: Team) -> None:
    team.state.throttle = SignInThrottle(slow_step=0.0, address_limit=12)
    for i in range(12):
        assert _sign_in(team, f"nombre{i}", "mala-contraseña-1").status_code == 401
    refused = _sign_in(team, "beto", PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_failures_slow_the_answers_down(team: Team) -> None:
    team.state.throttle = SignInThrottle(slow_after=1, slow_step=0.6)
    _sign_in(team, "ana", "mala-contraseña-1")
    start = time.monotonic()
    _sign_in(team, "ana", "mala-contraseña-1")
    assert time.monotonic() - start >= 0.6


def test_the_throttle_forgets_after_its_window() -> None:
    now = [0.0]
    throttle = SignInThrottle(window=60, user_limit=2, address_limit=5, clock=lambda: now[0])
    throttle.failed("ana", "10.0.0.1")
    throttle.failed("ANA", "10.0.0.2")
    assert throttle.retry_after("ana", "10.0.0.3") == 60
    now[0] = 30
    assert throttle.retry_after("ana", "10.0.0.3") == 30
    now[0] = 61
    assert throttle.retry_after("ana", "10.0.0.3") is None
    for i in range(5):  # an IPv6 /64 is one address
        throttle.failed(f"u{i}", f"2001:db8::{i}")
    assert throttle.retry_after("otro", "2001:db8::99") is not None
    assert throttle.retry_after("otro", "2001:db8:1::1") is None
    throttle.failed("beto", "10.0.0.9")
    throttle.succeeded("beto", "10.0.0.9")
    assert throttle.delay("beto", "10.0.0.8") == 0.0


def test_no_token_or_password_reaches_a_log_line(team: Team, caplog: pytest.LogCaptureFixture
                                                 ) -> None:
    caplog.set_level(logging.DEBUG)
    otp = users.add_user(team.ctx, "eva", role="agente", codes="A001")
    secrets = [PASSWORD, otp, "la-nueva-de-eva-1", "mala-contraseña-xyz"]
    assert _sign_in(team, "eva", otp).status_code == 403
    assert _sign_in(team, "eva", otp, new_password="la-nueva-de-eva-1").status_code == 200
    assert _sign_in(team, "mala-contraseña-xyz", "mala-contraseña-xyz").status_code == 401
    token = team.sign_in("ana")
    secrets.append(token)
    client = team.http(token)
    assert client.get("/api/v1/pendientes").status_code == 200
    assert client.post("/api/v1/ligas", json={"receipt_numbers": ["PA-200-1"],
                                               "email": "c@example.com"}).status_code == 200
    assert client.get("/api/v1/ligas/NO-EXISTE").status_code == 404
    assert client.get("/api/v1/recibos/abc").status_code == 422
    with client.stream("GET", EVENTS_PATH) as stream:
        for line in stream.iter_lines():
            if line.startswith("id:"):
                break
    assert client.delete(SESSION_PATH).status_code == 204
    assert team.http(token).get(WHOAMI).status_code == 401
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "signed in" in text  # the log does say what happened
    for secret in secrets:
        assert secret not in text
