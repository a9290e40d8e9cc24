"""POST /mit/notificacion and GET /salud through the real Starlette app (httpx over ASGI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from paylink_tui.gateway.crypto import encrypt
from paylink_tui.web.app import MAX_BODY, NOTIFY_PATH, create_app
from tests.notifications.support import (
    all_notifications,
    attempts,
    link_row,
    make_link,
    mit_wire_value,
    notification_xml,
    str_response,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def client(ctx) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx, deliver_interval=0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://receptor") as c:
        yield c


async def test_mit_wire_format_with_crlf_inside_urlencoded_base64_is_stored_and_applied(ctx, client):
    link = make_link(ctx)
    value = mit_wire_value(notification_xml(link.reference, folio="100633640472806"))
    assert "%0D%0A" in value
    # The form value itself is URL-encoded once more by the form encoding.
    resp = await client.post(NOTIFY_PATH, data={"strResponse": value})
    assert resp.status_code == 200
    assert link_row(ctx, link.reference).state == "paid"
    [n] = all_notifications(ctx)
    assert (n.folio, n.status) == ("100633640472806", "applied")


async def test_raw_body_with_single_url_encoding_is_understood(ctx, client):
    link = make_link(ctx)
    body = "strResponse=" + mit_wire_value(notification_xml(link.reference))
    resp = await client.post(NOTIFY_PATH, content=body.encode(), headers=FORM)
    assert resp.status_code == 200
    assert link_row(ctx, link.reference).state == "paid"


async def test_duplicate_post_answers_200_and_changes_nothing(ctx, client):
    link = make_link(ctx)
    xml = notification_xml(link.reference, folio="4242")
    for _ in range(3):
        resp = await client.post(NOTIFY_PATH, data={"strResponse": str_response(xml)})
        assert resp.status_code == 200
    assert len(all_notifications(ctx)) == 1
    assert len(attempts(ctx, link.id)) == 1


async def test_notification_kept_for_review_still_answers_200(ctx, client):
    resp = await client.post(NOTIFY_PATH,
                             data={"strResponse": str_response(notification_xml("NOEXISTE"))})
    assert resp.status_code == 200
    [n] = all_notifications(ctx)
    assert (n.status, n.review_reason) == ("review", "unknown_reference")


async def test_bad_bodies_get_one_identical_400_and_nothing_is_stored(ctx, client):
    link = make_link(ctx)
    good = str_response(notification_xml(link.reference))
    bodies = {
        "tampered": good[:40] + ("Q" if good[40] != "Q" else "R") + good[41:],
        "truncated": good[:-24],
        "wrong key": encrypt(notification_xml(link.reference), "00112233445566778899AABBCCDDEEFF"),
        "not base64": "¡hola!",
        "not xml": encrypt("hola mundo", "5DCC67393750523CD165F17E1EFADD21"),
        "dtd": encrypt('<!DOCTYPE x [<!ENTITY e "e">]><CENTEROFPAYMENTS/>',
                       "5DCC67393750523CD165F17E1EFADD21"),
        "other root": encrypt("<P_RESPONSE/>", "5DCC67393750523CD165F17E1EFADD21"),
    }
    answers = set()
    for value in bodies.values():
        resp = await client.post(NOTIFY_PATH, data={"strResponse": value})
        answers.add((resp.status_code, tuple(resp.headers.multi_items()), resp.content))
    resp = await client.post(NOTIFY_PATH, data={"otro": "campo"})
    answers.add((resp.status_code, tuple(resp.headers.multi_items()), resp.content))
    [(status, _headers, content)] = answers  # one answer, whatever failed
    assert (status, content.decode()) == (400, "Notificación rechazada.")
    assert all_notifications(ctx) == []
    assert link_row(ctx, link.reference).state == "active"


async def test_oversized_body_gets_413_by_its_declared_length(ctx, client):
    resp = await client.post(NOTIFY_PATH, content=b"strResponse=" + b"A" * MAX_BODY, headers=FORM)
    assert resp.status_code == 413
    assert all_notifications(ctx) == []


async def test_oversized_chunked_body_is_cut_off_at_the_cap(ctx, client):
    sent = 0

    async def chunks():
        nonlocal sent
        yield b"strResponse="
        for _ in range(64):  # 4 MiB if it were all read
            sent += 1
            yield b"A" * 65536

    resp = await client.post(NOTIFY_PATH, content=chunks(), headers=FORM)
    assert resp.status_code == 413
    assert sent < 64
    assert all_notifications(ctx) == []


async def test_unstorable_notification_answers_5xx_so_mit_retries(ctx, client, monkeypatch):
    from paylink_tui.services.notifications import receive as receive_step

    link = make_link(ctx)

    def broken_store(*args, **kwargs):
        raise OSError("disco lleno")

    monkeypatch.setattr(receive_step, "_insert", broken_store)
    resp = await client.post(NOTIFY_PATH,
                             data={"strResponse": str_response(notification_xml(link.reference))})
    assert resp.status_code == 503
    assert all_notifications(ctx) == []


async def test_concurrent_notifications_share_transactions_and_each_gets_its_200(ctx, client,
                                                                               monkeypatch):
    from paylink_tui.services import notifications as svc

    links = [make_link(ctx) for _ in range(12)]
    batches: list[int] = []
    real = svc.receive_many

    def spy(ctx_, values):
        batches.append(len(values))
        return real(ctx_, values)

    monkeypatch.setattr(svc, "receive_many", spy)
    bodies = [str_response(notification_xml(x.reference)) for x in links]
    bodies.append("¡hola!")  # a bad one among them still gets its own 400
    resps = await asyncio.gather(*(client.post(NOTIFY_PATH, data={"strResponse": b})
                                   for b in bodies))
    assert [r.status_code for r in resps] == [200] * len(links) + [400]
    assert sum(batches) == len(links)  # the bad one never reached the writer
    assert len(batches) < len(bodies)  # grouped: fewer transactions than notifications
    for link in links:
        assert link_row(ctx, link.reference).state == "paid"
    assert len(all_notifications(ctx)) == len(links)


async def test_health_reports_database_ok(client):
    resp = await client.get("/salud")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "ok"}


async def test_health_reports_503_when_database_is_gone(ctx, client, monkeypatch):
    from paylink_tui.web import app as web_app

    def down(_ctx):
        raise OSError("sin base")

    monkeypatch.setattr(web_app, "_ping", down)
    resp = await client.get("/salud")
    assert resp.status_code == 503
    assert resp.json()["database"] == "error"


async def _first_delivery_after(ctx, monkeypatch, busy, max_defer: float) -> float:
    """Seconds until the delivery loop's first round, given `busy`."""
    import contextlib
    import time

    from paylink_tui.services import outbox
    from paylink_tui.web import app as web_app

    rounds: list[float] = []

    def record(ctx_, **kwargs):
        rounds.append(time.monotonic())
        return outbox.DeliveryReport()

    monkeypatch.setattr(outbox, "deliver_due", record)
    start = time.monotonic()
    task = asyncio.create_task(web_app._delivery_loop(ctx, 60, asyncio.Event(), busy=busy,
                                                      max_defer=max_defer))
    while not rounds and time.monotonic() - start < 5:
        await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert rounds, "no delivery round at all"
    return rounds[0] - start


async def test_email_delivery_waits_while_notifications_pour_in(ctx, monkeypatch):
    import time

    quiet_at = time.monotonic() + 0.4
    waited = await _first_delivery_after(ctx, monkeypatch, lambda: time.monotonic() < quiet_at,
                                         max_defer=3.0)
    assert 0.35 <= waited < 2.0


async def test_email_delivery_waits_no_longer_than_max_defer_under_endless_load(ctx, monkeypatch):
    waited = await _first_delivery_after(ctx, monkeypatch, lambda: True, max_defer=0.3)
    assert 0.25 <= waited < 2.0


async def test_a_database_upgraded_under_a_running_receiver_is_refused_until_restart(ctx, client):
    """A newer build upgraded the file (0002 made money cents): this receiver would misread
    every amount, so it answers 503, stores nothing and MIT retries."""
    from sqlalchemy import text

    first = make_link(ctx)
    resp = await client.post(NOTIFY_PATH,
                             data={"strResponse": str_response(notification_xml(first.reference))})
    assert resp.status_code == 200
    with ctx.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    await asyncio.sleep(2.1)  # the receiver looks again every 2 s
    second = make_link(ctx)
    resp = await client.post(NOTIFY_PATH, data={"strResponse": str_response(
        notification_xml(second.reference, folio="777"))})
    assert resp.status_code == 503
    assert "reinicie «paylink-tui serve»" in resp.text
    assert link_row(ctx, second.reference).state == "active"
    assert len(all_notifications(ctx)) == 1
    health = await client.get("/salud")
    assert health.status_code == 503 and health.json()["database"] == "schema"
