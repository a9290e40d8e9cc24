"""The padding-oracle attack of issue 11, tried against the receiver: it must learn nothing.

The attacker has no key. They send IV' || C and watch the answer: with CBC, exactly the
guesses that make the last decrypted byte 0x01 have valid padding, and an answer that differs
for them ("no es texto válido" instead of "no se pudo descifrar") leaks one byte of plaintext
per 256 tries: 61,000 requests forged an approval for a real link. Here every guess gets the
same bytes back, and after a few failures the source is refused outright."""

from __future__ import annotations

import base64
import logging
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.web.app import NOTIFY_PATH, create_app
from paylink_tui.web.guard import NotificationGuard
from tests.notifications.support import (
    Ticks,
    all_notifications,
    answer,
    client_from,
    link_row,
    make_link,
    notification_xml,
    str_response,
)

ATTACKER = "203.0.113.66"


def forgeries(target_block: bytes) -> list[str]:
    """The 256 bodies of one step of the attack on `target_block`'s last byte."""
    prefix = os.urandom(15)
    return [base64.b64encode(prefix + bytes([guess]) + target_block).decode()
            for guess in range(256)]


def padding_is_valid(body: str) -> bool:
    """What the server alone can know (it has the key): whether a forgery's padding is good."""
    raw = base64.b64decode(body)
    decryptor = Cipher(algorithms.AES(bytes.fromhex(sd.SANDBOX_KEY)),
                       modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        unpadder.update(decryptor.update(raw[16:]) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        return False
    return True


def captured_block(ctx) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """A link of ours and the last block of a real notification for it (the attacker's
    target: they want its plaintext, or to build one of their own)."""
    link = make_link(ctx)
    raw = base64.b64decode(str_response(notification_xml(link.reference)))
    return link.reference, raw[-16:]


async def test_valid_and_invalid_padding_get_byte_identical_answers(ctx):
    reference, block = captured_block(ctx)
    # A limit high enough to let the whole step through: the answers themselves are tested.
    app = create_app(ctx, deliver_interval=0, guard=NotificationGuard(max_failures=10_000))
    bodies = forgeries(block)
    valid = [b for b in bodies if padding_is_valid(b)]
    assert valid, "no forgery with valid padding: the attack step would prove nothing"
    seen: dict[bool, set] = {True: set(), False: set()}
    async with client_from(app, ATTACKER) as client:
        for body in bodies:
            resp = await client.post(NOTIFY_PATH, data={"strResponse": body})
            seen[padding_is_valid(body)].add(answer(resp))
    assert len(seen[True]) == len(seen[False]) == 1
    assert seen[True] == seen[False]
    [(status, _headers, content)] = seen[True]
    assert (status, content) == (400, "Notificación rechazada.".encode())
    assert all_notifications(ctx) == [] and link_row(ctx, reference).state == "active"


async def test_the_attack_is_throttled_and_said_loudly_in_a_few_log_lines(ctx, caplog):
    reference, block = captured_block(ctx)
    ticks = Ticks()
    guard = NotificationGuard(max_failures=10, window=600, clock=ticks)
    app = create_app(ctx, deliver_interval=0, guard=guard)
    statuses = []
    with caplog.at_level(logging.INFO, logger="paylink_tui"):
        async with client_from(app, ATTACKER) as client:
            for body in forgeries(block) * 2:  # 512 tries
                resp = await client.post(NOTIFY_PATH, data={"strResponse": body})
                statuses.append(resp.status_code)
                if resp.status_code == 429:
                    assert 1 <= int(resp.headers["retry-after"]) <= 600
    assert statuses[:10] == [400] * 10
    assert set(statuses[10:]) == {429}  # decrypted nothing more: no answer to learn from
    records = [r for r in caplog.records if r.name.startswith("paylink_tui.web")]
    assert len(records) <= 20  # not 512 lines
    alarms = [r for r in records if "POSSIBLE ATTACK" in r.getMessage()]
    assert len(alarms) == 1 and ATTACKER in alarms[0].getMessage()
    assert all_notifications(ctx) == [] and link_row(ctx, reference).state == "active"


async def test_mit_keeps_being_heard_while_an_attacker_is_throttled(ctx):
    reference, block = captured_block(ctx)
    guard = NotificationGuard(max_failures=10, window=600, clock=Ticks())
    app = create_app(ctx, deliver_interval=0, guard=guard)
    async with client_from(app, ATTACKER) as attacker:
        for body in forgeries(block)[:20]:
            await attacker.post(NOTIFY_PATH, data={"strResponse": body})
    async with client_from(app, "200.57.10.20") as mit:
        resp = await mit.post(NOTIFY_PATH,
                              data={"strResponse": str_response(notification_xml(reference))})
    assert resp.status_code == 200 and link_row(ctx, reference).state == "paid"


async def test_a_throttled_source_may_try_again_once_its_failures_leave_the_window(ctx):
    reference, block = captured_block(ctx)
    ticks = Ticks()
    app = create_app(ctx, deliver_interval=0,
                     guard=NotificationGuard(max_failures=3, window=60, clock=ticks))
    async with client_from(app, ATTACKER) as client:
        for body in forgeries(block)[:3]:
            await client.post(NOTIFY_PATH, data={"strResponse": body})
        good = str_response(notification_xml(reference))
        assert (await client.post(NOTIFY_PATH, data={"strResponse": good})).status_code == 429
        ticks.now += 61
        assert (await client.post(NOTIFY_PATH, data={"strResponse": good})).status_code == 200


async def test_a_burst_of_forgeries_sent_at_once_is_cut_at_the_limit(ctx):
    """In-flight notifications of a source that has failed count against it: a burst can't
    slip hundreds of tries past the limit before the first ones are counted."""
    import asyncio

    _reference, block = captured_block(ctx)
    app = create_app(ctx, deliver_interval=0,
                     guard=NotificationGuard(max_failures=5, window=600, clock=Ticks()))
    async with client_from(app, ATTACKER) as client:
        await client.post(NOTIFY_PATH, data={"strResponse": forgeries(block)[0]})  # one failure
        resps = await asyncio.gather(*(client.post(NOTIFY_PATH, data={"strResponse": b})
                                       for b in forgeries(block)[:100]))
    assert sum(r.status_code == 400 for r in resps) <= 4
    assert sum(r.status_code == 429 for r in resps) >= 96
