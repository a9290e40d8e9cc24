"""Every form a real notification takes is read like a clean one (issue 12 §1), starting
from MIT's own encrypted samples; and what is not MIT's is refused without a stall."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paylink_tui.gateway.crypto import MAX_EDGE_BLANKS, base64_candidates, decrypt, encrypt
from paylink_tui.gateway.errors import NotificationRejected
from paylink_tui.gateway.messages import parse_notification
from tests.mit_samples import (
    KEY,
    WPP_JAVA,
    WPP_PYTHON,
    folded,
    plain,
    plus_as_space,
    with_values,
)


def test_mit_python_sdk_sample_is_read_as_mit_posts_it():
    assert "%0D%0A" in WPP_PYTHON  # folded every 64 characters, URL-encoded
    n = parse_notification(WPP_PYTHON, KEY)
    assert (n.reference, n.response, n.folio, n.auth) == ("MIFACTURA001", "approved",
                                                          "000551635", "0SNBX1")
    assert (n.date, n.time, n.amount) == ("29/09/2021", "08:37:03", Decimal("2500.00"))
    assert (n.cc_mask, n.cc_number, n.promocion) == ("545454XXXXXX1234", "0001", "3")
    assert n.extra == (("Talla", "Grande"), ("Color", "Azul"))


def test_mit_java_sdk_sample_pretty_printed_with_a_two_digit_year_is_read():
    n = parse_notification(WPP_JAVA, KEY)
    assert "\n  <reference>" in n.raw_xml  # pretty-printed as MIT sent it
    assert (n.reference, n.response, n.folio, n.date, n.time) == (
        "MIFACTURA001", "approved", "000551635", "05/09/22", "17:40:45")
    assert n.amount == Decimal("2500.00") and n.promocion == ""
    assert n.extra == (("Talla", "Grande"), ("Color", "Azul"))


@pytest.mark.parametrize("declaration", [
    "<?xml version='1.0'encoding='UTF-8'?>",  # no space: what Python integrations strip by hand
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    "\ufeff<?xml version='1.0' encoding='ISO-8859-1' standalone='yes'?>",
])
def test_a_declaration_in_front_of_the_root_well_formed_or_not_is_ignored(declaration):
    n = parse_notification(encrypt(declaration + plain(WPP_JAVA), KEY), KEY)
    assert (n.reference, n.folio) == ("MIFACTURA001", "000551635")


def test_a_stray_text_node_after_the_roots_start_tag_is_ignored():
    xml = plain(WPP_PYTHON).replace("<CENTEROFPAYMENTS>", "<CENTEROFPAYMENTS>null", 1)
    n = parse_notification(encrypt(xml, KEY), KEY)
    assert (n.reference, n.amount) == ("MIFACTURA001", Decimal("2500.00"))


def test_a_bare_ampersand_in_a_name_is_read_as_the_sender_meant():
    xml = with_values(plain(WPP_JAVA), nb_company="PEÑA & HIJOS")
    n = parse_notification(encrypt(xml, KEY), KEY)
    assert n.nb_company == "PEÑA & HIJOS" and n.reference == "MIFACTURA001"


@pytest.mark.parametrize("width", [64, 76])
def test_base64_folded_every_64_or_76_characters_is_read(width):
    value = folded(plain(WPP_JAVA), width)
    assert value.count("%0D%0A") >= 10
    assert parse_notification(value, KEY).folio == "000551635"


def test_plus_arriving_as_a_space_is_read():
    assert parse_notification(plus_as_space(plain(WPP_JAVA)), KEY).folio == "000551635"


def test_newer_fields_are_ignored_but_promocion_is_read():
    xml = plain(WPP_PYTHON).replace(
        "<cc_number>0001</cc_number>",
        "<cc_number>0001</cc_number><cc_expmonth>12</cc_expmonth><cc_expyear>27</cc_expyear>"
    ).replace("<amount>2500.00</amount>", "<amount>2500.00</amount><emv_key_date>0921</emv_key_date>")
    n = parse_notification(encrypt(xml, KEY), KEY)
    assert (n.promocion, n.cc_number, n.amount) == ("3", "0001", Decimal("2500.00"))


def test_blanks_around_a_value_are_weighed_a_few_at_a_time_not_every_split():
    # issue 11 §2: 600 '+' on each side held the single writer 26 s (every split tried).
    value = " " * 600 + "AAAA" * 10 + " " * 600
    candidates = base64_candidates(value)
    assert 1 <= len(candidates) <= (MAX_EDGE_BLANKS + 1) ** 2
    assert all(len(c) <= 40 + 2 * MAX_EDGE_BLANKS for c in candidates)
    with pytest.raises(NotificationRejected):
        parse_notification("+" * 600 + "AAAA" * 300 + "+" * 600, KEY)


def test_a_ciphertext_starting_with_plus_still_decrypts_among_many_transport_blanks():
    body = next(b for b in (encrypt("hola", KEY) for _ in range(2000)) if b.startswith("+"))
    assert decrypt(" " * 30 + body.replace("+", " ") + " " * 30, KEY) == "hola"
