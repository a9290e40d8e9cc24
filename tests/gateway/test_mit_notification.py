"""Reading MIT's strResponse: every field, tolerant of missing optional ones, and strict
about bodies that are not ours."""

from __future__ import annotations

import base64
from decimal import Decimal
from urllib.parse import quote

import pytest

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.gateway.errors import NotificationRejected
from paylink_tui.gateway.messages import build_notification_xml, parse_notification

KEY = sd.SANDBOX_KEY
FULL = {
    "reference": "PL-000123", "response": "approved", "foliocpagos": "100633640472806",
    "auth": "426426", "cd_response": "0C", "cd_error": "", "nb_error": "",
    "time": "16:04:56", "date": "07/10/21", "nb_company": "AXA",
    "nb_merchant": "1234567 WEBPAYPLUS", "cc_type": "CREDITO/BANCO MIT/Visa",
    "tp_operation": "VENTA", "cc_name": "Ana Peña & Hijos", "cc_number": "1111",
    "amount": "75.17", "id_url": "3691PBW8", "email": "ana@example.com",
    "cc_mask": "411111XXXXXX1111",
}


def wrapped(b64: str, width: int = 76) -> str:
    return "\r\n".join(b64[i:i + width] for i in range(0, len(b64), width))


def test_every_field_of_an_approval_is_read():
    xml = build_notification_xml(FULL, (("Póliza", "P-1"),))
    n = parse_notification(encrypt(xml, KEY), KEY)
    assert (n.reference, n.response, n.folio, n.auth, n.cd_response) == (
        "PL-000123", "approved", "100633640472806", "426426", "0C")
    assert (n.cd_error, n.nb_error, n.time, n.date) == ("", "", "16:04:56", "07/10/21")
    assert (n.nb_company, n.nb_merchant, n.cc_type, n.tp_operation) == (
        "AXA", "1234567 WEBPAYPLUS", "CREDITO/BANCO MIT/Visa", "VENTA")
    assert (n.cc_name, n.cc_number, n.amount, n.id_url) == (
        "Ana Peña & Hijos", "1111", Decimal("75.17"), "3691PBW8")
    assert (n.email, n.cc_mask, n.extra) == ("ana@example.com", "411111XXXXXX1111",
                                             (("Póliza", "P-1"),))
    assert n.raw_xml == xml


def test_url_encoded_body_with_crlf_line_breaks_is_normalised():
    body = quote(wrapped(encrypt(build_notification_xml(FULL), KEY)), safe="")
    assert "%0D%0A" in body
    assert parse_notification(body, KEY).folio == "100633640472806"


def test_empty_and_missing_optional_elements_become_empty_text():
    xml = ("<CENTEROFPAYMENTS><reference>PL-9</reference><response>denied</response>"
           "<foliocpagos>508096866</foliocpagos><auth/><cd_response>62</cd_response>"
           "<cd_error/><nb_error/><amount/></CENTEROFPAYMENTS>")
    n = parse_notification(encrypt(xml, KEY), KEY)
    assert (n.reference, n.response, n.folio, n.cd_response) == ("PL-9", "denied",
                                                                  "508096866", "62")
    assert n.auth == n.cc_mask == n.email == n.date == n.time == ""
    assert n.amount is None and n.extra == ()


def test_a_notification_missing_even_the_reference_is_not_rejected():
    n = parse_notification(encrypt("<CENTEROFPAYMENTS/>", KEY), KEY)
    assert n.reference == "" and n.response == ""


def test_a_non_numeric_amount_is_kept_as_none_for_review():
    n = parse_notification(encrypt(build_notification_xml({**FULL, "amount": "12,5x"}), KEY), KEY)
    assert n.amount is None


@pytest.mark.parametrize(
    ("make_body", "reason"),
    [
        (lambda: "", "empty"),
        (lambda: "esto no es base64 ¿verdad?", "not base64"),
        (lambda: encrypt(build_notification_xml(FULL), "00112233445566778899AABBCCDDEEFF"),
         "bad padding"),
        (lambda: encrypt(build_notification_xml(FULL), KEY)[:40], "length"),
        (lambda: encrypt("<P_RESPONSE/>", KEY), "not a CENTEROFPAYMENTS document"),
        (lambda: encrypt("reference=PL-1&response=approved", KEY), "not well-formed"),
        (lambda: encrypt('<!DOCTYPE x [<!ENTITY e "e">]><CENTEROFPAYMENTS/>', KEY), "DTD"),
        (lambda: encrypt('<CENTEROFPAYMENTS><reference>&e;</reference></CENTEROFPAYMENTS>', KEY),
         "not well-formed"),
        (lambda: encrypt("<CENTEROFPAYMENTS>" + "x" * 70_000 + "</CENTEROFPAYMENTS>", KEY),
         "too large"),
        (lambda: encrypt("<CENTEROFPAYMENTS>" + "<a>" * 5000 + "</a>" * 5000
                         + "</CENTEROFPAYMENTS>", KEY), "levels deep"),
    ],
    ids=["empty", "not-base64", "wrong-key", "truncated", "other-root", "not-xml", "dtd",
         "undeclared-entity", "too-big", "too-deep"],
)
def test_bodies_that_are_not_ours_are_rejected_with_one_message_and_the_reason_apart(make_body,
                                                                                     reason):
    with pytest.raises(NotificationRejected) as info:
        parse_notification(make_body(), KEY)
    # One message whatever failed: a different answer per cause is a padding oracle.
    assert info.value.message == str(info.value) == "Notificación rechazada."
    assert reason in info.value.reason
    assert KEY not in info.value.reason


def test_a_tampered_ciphertext_is_rejected():
    raw = bytearray(base64.b64decode(encrypt(build_notification_xml(FULL), KEY)))
    raw[-1] ^= 0x01
    with pytest.raises(NotificationRejected):
        parse_notification(base64.b64encode(bytes(raw)).decode(), KEY)


def test_the_gateway_parses_with_its_own_key(gateway):
    body = encrypt(build_notification_xml(FULL), KEY)
    assert gateway.parse_notification(body).reference == "PL-000123"
