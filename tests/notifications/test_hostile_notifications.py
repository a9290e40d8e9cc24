"""What issue 11 measured as safe, kept so: XML bombs and entities refused, odd amounts kept
for review, SQL and template injection inert, secrets and card numbers absent from logs,
loopback-only listening by default. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import inspect

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.services import notifications as svc
from paylink_tui.web.app import NOTIFY_PATH, create_app
from tests.notifications.support import (
    all_notifications,
    client_from,
    confirmations,
    link_row,
    make_link,
    notification_xml,
    str_response,
)

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'
                            for i in range(1, 10)).replace("&lol0;", "&lol;")
                  + ']><CENTEROFPAYMENTS><reference>&lol9;</reference></CENTEROFPAYMENTS>')
XXE = ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       "<CENTEROFPAYMENTS><reference>&x;</reference></CENTEROFPAYMENTS>")
PARAMETER_ENTITY = ('<!DOCTYPE r [<!ENTITY % p SYSTEM "http://192.0.2.1/x.dtd"> %p;]>'
                    "<CENTEROFPAYMENTS/>")


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE, PARAMETER_ENTITY],
                         ids=["billion-laughs", "xxe", "parameter-entity"])
async def test_xml_bombs_and_external_entities_are_refused_like_any_forgery(ctx, xml):
    app = create_app(ctx, deliver_interval=0)
    async with client_from(app) as client:
        resp = await client.post(NOTIFY_PATH, data={"strResponse": encrypt(xml, sd.SANDBOX_KEY)})
    assert (resp.status_code, resp.text) == (400, "Notificación rechazada.")
    assert all_notifications(ctx) == []


@pytest.mark.parametrize("amount", ["75.171", "-75.17", "NaN", "1e10", "75,17", "Infinity", ""])
def test_an_odd_amount_is_kept_for_review_and_the_link_stays_unpaid(ctx, amount):
    link = make_link(ctx)
    got = svc.receive_notification(ctx, str_response(notification_xml(link.reference,
                                                                      amount=amount)),
                                   deliver=False)
    assert got.status == "review"
    assert link_row(ctx, link.reference).state == "active"
    [n] = all_notifications(ctx)
    assert n.amount is None or n.amount != link.amount


def test_sql_in_a_field_is_stored_as_text_and_runs_nowhere(ctx):
    evil = "x'); DROP TABLE notification; --"
    got = svc.receive_notification(ctx, str_response(notification_xml(
        evil, folio="1' OR '1'='1", nb_error="'; DELETE FROM payment_link; --")), deliver=False)
    assert (got.status, got.reason) == ("review", "unknown_reference")
    [n] = all_notifications(ctx)
    assert (n.reference, n.folio) == (evil, "1' OR '1'='1")
    assert {"notification", "payment_link"} <= set(inspect(ctx.engine).get_table_names())


def test_template_syntax_in_a_field_reaches_the_confirmation_as_plain_text(ctx):
    link = make_link(ctx)
    svc.receive_notification(ctx, str_response(notification_xml(
        link.reference, cc_type="{{ 7*7 }}{% if true %}SI{% endif %}<b>x</b>")), deliver=False)
    [email] = confirmations(ctx)
    assert "{{ 7*7 }}" in email.body_text and "49" not in email.body_text
    assert "&lt;b&gt;x&lt;/b&gt;" in email.body_html and "<b>x</b>" not in email.body_html


async def test_keys_and_card_numbers_never_reach_the_log_or_an_answer(ctx, caplog):
    link = make_link(ctx)
    full = "4111111111111111"
    bodies = [
        str_response(notification_xml(link.reference, cc_number=full, cc_mask=full)),
        encrypt(notification_xml(link.reference), "00112233445566778899AABBCCDDEEFF"),
        "no es base64",
        str_response("<CENTEROFPAYMENTS>" + "<a>" * 40 + "</a>" * 40 + "</CENTEROFPAYMENTS>"),
    ]
    app = create_app(ctx, deliver_interval=0)
    texts = []
    with caplog.at_level(logging.DEBUG):
        async with client_from(app) as client:
            for body in bodies:
                texts.append((await client.post(NOTIFY_PATH, data={"strResponse": body})).text)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in (sd.SANDBOX_KEY, sd.SANDBOX_KEY.lower(), full, sd.SANDBOX_PASSWORD):
        assert secret not in logged and all(secret not in t for t in texts)
    [n] = all_notifications(ctx)
    assert full not in n.raw_xml and full not in (n.card_mask or "")


def test_serve_sandbox_and_the_demo_listen_on_loopback_unless_told_otherwise(tmp_path):
    from paylink_tui.cli import build_parser
    from paylink_tui.demo.runtime import DemoRuntime

    parser = build_parser()
    assert parser.parse_args(["serve"]).host == "127.0.0.1"
    assert parser.parse_args(["sandbox"]).host == "127.0.0.1"
    with DemoRuntime(tmp_path / "demo", receipts=1, deliver_interval=0) as demo:
        assert demo.base_url.startswith("http://127.0.0.1:")
        assert demo._maildrop.host == "127.0.0.1"
