"""Who may post notifications and how their address is known (issue 11 §1), and one hostile
notification never stalling or failing the others (§2)."""

from __future__ import annotations

import asyncio

import pytest

from paylink_tui.gateway.crypto import encrypt
from paylink_tui.services import notifications as svc
from paylink_tui.services.notifications import receive as receive_step
from paylink_tui.web.app import NOTIFY_PATH, create_app
from paylink_tui.web.guard import NotificationGuard, RateLimitedLog, parse_networks, source_key
from tests.notifications.support import (
    Ticks,
    all_notifications,
    client_from,
    link_row,
    make_link,
    notification_xml,
    settings_for,
    str_response,
)

KEY = "5DCC67393750523CD165F17E1EFADD21"


def forged() -> str:
    return encrypt("<P_RESPONSE/>", "00112233445566778899AABBCCDDEEFF")


async def fail_times(client, n: int, **headers: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(n):
        resp = await client.post(NOTIFY_PATH, data={"strResponse": forged()}, headers=headers)
        assert resp.status_code == 400


# -- the allow-list ------------------------------------------------------------------------


async def test_outside_the_allow_list_nothing_is_read_and_inside_it_is_stored(ctx):
    link = make_link(ctx)
    guard = NotificationGuard(allowed=parse_networks("200.57.0.0/16, 2001:db8::/32"))
    app = create_app(ctx, deliver_interval=0, guard=guard)
    good = str_response(notification_xml(link.reference))
    async with client_from(app, "203.0.113.9") as outsider:
        resp = await outsider.post(NOTIFY_PATH, data={"strResponse": good})
    assert (resp.status_code, resp.text) == (403, "Origen no autorizado.")
    assert all_notifications(ctx) == []
    async with client_from(app, "200.57.3.4") as mit:
        resp = await mit.post(NOTIFY_PATH, data={"strResponse": good})
    assert resp.status_code == 200 and link_row(ctx, link.reference).state == "paid"


def test_the_allow_list_setting_is_read_and_checked():
    from paylink_tui.config import ConfigError, load_settings

    guard = NotificationGuard.from_settings(settings_for("sqlite:///x.db",
                                                         mit_allowed_ips="200.57.1.10"))
    assert guard.allowed("200.57.1.10") and guard.allowed("::ffff:200.57.1.10")
    assert not guard.allowed("200.57.1.11")
    assert NotificationGuard.from_settings(settings_for("sqlite:///x.db")).allowed("8.8.8.8")
    with pytest.raises(ConfigError, match="PAYLINK_MIT_ALLOWED_IPS: «mit.com.mx» no es"):
        load_settings(mit_allowed_ips="mit.com.mx")


# -- the source address ---------------------------------------------------------------------


async def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(ctx):
    guard = NotificationGuard(max_failures=3, clock=Ticks())
    app = create_app(ctx, deliver_interval=0, guard=guard)  # PAYLINK_PROXY_HEADERS unset
    async with client_from(app, "127.0.0.1") as proxy:
        await fail_times(proxy, 3, **{"X-Forwarded-For": "198.51.100.1"})
        # A forger rotating the header gains nothing: all of it is the proxy's address.
        resp = await proxy.post(NOTIFY_PATH, data={"strResponse": forged()},
                                headers={"X-Forwarded-For": "198.51.100.2"})
    assert resp.status_code == 429


async def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(ctx):
    guard = NotificationGuard(max_failures=3, clock=Ticks())
    app = create_app(ctx, deliver_interval=0, guard=guard, proxy_headers=True)
    async with client_from(app, "127.0.0.1") as proxy:
        await fail_times(proxy, 3, **{"X-Forwarded-For": "198.51.100.1"})
        first = await proxy.post(NOTIFY_PATH, data={"strResponse": forged()},
                                 headers={"X-Forwarded-For": "198.51.100.1"})
        other = await proxy.post(NOTIFY_PATH, data={"strResponse": forged()},
                                 headers={"X-Forwarded-For": "198.51.100.2"})
        # What the client wrote itself stays on the left of what the proxy appended.
        spoofed = await proxy.post(NOTIFY_PATH, data={"strResponse": forged()},
                                   headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.1"})
    assert (first.status_code, other.status_code, spoofed.status_code) == (429, 400, 429)


async def test_x_forwarded_for_from_an_untrusted_address_is_ignored_even_when_enabled(ctx):
    guard = NotificationGuard(max_failures=2, clock=Ticks())
    app = create_app(ctx, deliver_interval=0, guard=guard, proxy_headers=True)
    async with client_from(app, "198.51.100.7") as direct:
        await fail_times(direct, 2, **{"X-Forwarded-For": "10.0.0.1"})
        resp = await direct.post(NOTIFY_PATH, data={"strResponse": forged()},
                                 headers={"X-Forwarded-For": "10.0.0.2"})
    assert resp.status_code == 429


def test_failures_are_counted_per_ipv4_address_and_per_ipv6_64():
    assert source_key("203.0.113.5") == "203.0.113.5"
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:bbbb::2")
    assert source_key("2001:db8:1:2::1") != source_key("2001:db8:1:3::1")
    assert source_key("::ffff:203.0.113.5") == "203.0.113.5"


def test_the_rate_limited_log_says_how_many_lines_it_held_back(caplog):
    import logging

    ticks = Ticks()
    limited = RateLimitedLog(logging.getLogger("paylink_tui.test"), burst=3, period=60,
                             clock=ticks)
    with caplog.at_level(logging.WARNING, logger="paylink_tui.test"):
        for i in range(1000):
            limited.warning("refused %d", i)
        ticks.now += 61
        limited.warning("refused again")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:3] == ["refused 0", "refused 1", "refused 2"]
    assert "997 more lines like the above were held back" in messages[3]
    assert messages[4] == "refused again" and len(messages) == 5


def test_the_source_table_stays_bounded_however_many_addresses_try():
    guard = NotificationGuard(max_failures=2, clock=Ticks(), max_sources=100)
    for i in range(5000):
        host = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        with guard.attempt(host) as attempt:
            attempt.failed("bad padding")
    assert len(guard._sources) <= 100


# -- no stall, no shared failure --------------------------------------------------------------


async def test_the_issues_blank_padded_body_is_refused_while_good_ones_are_applied(ctx):
    links = [make_link(ctx) for _ in range(5)]
    app = create_app(ctx, deliver_interval=0)
    attack = b"strResponse=" + b"+" * 600 + b"AAAA" * 8 + b"+" * 600  # issue 11: held 26 s
    assert len(attack) == 1244
    async with client_from(app, "198.51.100.3") as attacker, client_from(app, "200.57.1.1") as mit:
        resps = await asyncio.gather(
            attacker.post(NOTIFY_PATH, content=attack,
                          headers={"Content-Type": "application/x-www-form-urlencoded"}),
            *(mit.post(NOTIFY_PATH, data={"strResponse": str_response(
                notification_xml(x.reference))}) for x in links))
    assert [r.status_code for r in resps] == [400] + [200] * 5
    assert all(link_row(ctx, x.reference).state == "paid" for x in links)


async def test_a_document_5000_deep_among_40_good_notifications_costs_none_of_them(ctx):
    links = [make_link(ctx) for _ in range(40)]
    deep = encrypt("<CENTEROFPAYMENTS>" + "<a>" * 5000 + "</a>" * 5000 + "</CENTEROFPAYMENTS>",
                   KEY)
    app = create_app(ctx, deliver_interval=0)
    async with client_from(app) as client:
        bodies = [str_response(notification_xml(x.reference)) for x in links]
        bodies.insert(17, deep)
        resps = await asyncio.gather(*(client.post(NOTIFY_PATH, data={"strResponse": b})
                                       for b in bodies))
    statuses = [r.status_code for r in resps]
    assert statuses.pop(17) == 400 and statuses == [200] * 40
    assert len(all_notifications(ctx)) == 40


def test_scrub_raw_xml_never_raises_on_a_document_5000_deep():
    deep = ("<CENTEROFPAYMENTS><cc_number>4111111111111111</cc_number>" + "<a>" * 5000
            + "</a>" * 5000 + "</CENTEROFPAYMENTS>")
    kept = svc.scrub_raw_xml(deep)  # raised RecursionError (issue 11 §2)
    assert kept.startswith("<CENTEROFPAYMENTS>") and "4111111111111111" not in kept


def test_one_notification_that_cannot_be_read_fails_alone_in_its_batch(ctx, monkeypatch):
    """A fault no well-formed input produces today (a bug, a resource limit): it is that
    notification's answer (503, MIT retries); the others in the batch are stored."""
    links = [make_link(ctx) for _ in range(3)]
    real = receive_step._row_values

    def fragile(ctx_, n, now):
        if n.reference == links[1].reference:
            raise RecursionError("maximum recursion depth exceeded")
        return real(ctx_, n, now)

    monkeypatch.setattr(receive_step, "_row_values", fragile)
    results = svc.receive_many(ctx, [str_response(notification_xml(x.reference)) for x in links])
    assert isinstance(results[1], RecursionError)
    assert [r.status for i, r in enumerate(results) if i != 1] == ["applied", "applied"]
    assert [link_row(ctx, x.reference).state for x in links] == ["paid", "active", "paid"]
