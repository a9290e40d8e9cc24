"""Every form a real notification takes is applied (or recorded) exactly as a clean one
(issue 12 §1; docs: "What real notifications look like"), on SQLite and PostgreSQL.

Built from MIT's own encrypted samples (tests/mit_samples.py): the clock is set to the day
MIT's sample was taken and a link of ours carries the sample's reference and amount, so the
sample goes in as MIT published it, or decrypted, changed in the one way the case needs, and
encrypted again."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from paylink_tui.gateway.crypto import encrypt
from paylink_tui.services import notifications as svc
from tests.mit_samples import (
    KEY,
    WPP_JAVA,
    WPP_PYTHON,
    folded,
    plain,
    plus_as_space,
    with_values,
    without,
)
from tests.notifications.support import all_notifications, attempts, link_row, make_link

REFERENCE = "MIFACTURA001"  # the samples' reference, given to a link of ours
# A few minutes before each sample was taken (Mexico City is UTC-5 on both days).
PYTHON_DAY = datetime(2021, 9, 29, 13, 0, tzinfo=timezone.utc)  # sample: 29/09/2021 08:37:03
JAVA_DAY = datetime(2022, 9, 5, 22, 0, tzinfo=timezone.utc)  # sample: 05/09/22 17:40:45


def receive(ctx, value: str) -> svc.Received:
    return svc.receive_notification(ctx, value, deliver=False)


def link_for(ctx, clock, day: datetime):
    clock.set(day)
    return make_link(ctx, reference=REFERENCE, amounts=("2500.00",))


def assert_paid(ctx, got: svc.Received, taken: datetime) -> None:
    assert (got.status, got.reason) == ("applied", None)
    link = link_row(ctx, REFERENCE)
    assert (link.state, link.folio, link.authorization) == ("paid", "000551635", "0SNBX1")
    assert link.paid_at == taken


def test_mit_python_sample_as_posted_with_a_four_digit_year_pays_the_link(ctx, clock):
    link_for(ctx, clock, PYTHON_DAY)
    got = receive(ctx, WPP_PYTHON)  # MIT's ciphertext itself, folded every 64 characters
    assert_paid(ctx, got, datetime(2021, 9, 29, 13, 37, 3, tzinfo=timezone.utc))
    [n] = all_notifications(ctx)
    assert n.promotion == "3"  # the plan the client chose
    # The card token MIT sends is never stored.
    assert "ABCD545454545454" not in n.raw_xml and "number_tkn" not in n.raw_xml
    assert "<promocion>3</promocion>" in n.raw_xml and "Talla" in n.raw_xml


def test_mit_java_sample_pretty_printed_with_a_two_digit_year_pays_the_link(ctx, clock):
    link_for(ctx, clock, JAVA_DAY)
    got = receive(ctx, WPP_JAVA)
    assert_paid(ctx, got, datetime(2022, 9, 5, 22, 40, 45, tzinfo=timezone.utc))
    [n] = all_notifications(ctx)
    assert n.promotion is None and n.amount == Decimal("2500.00")


def test_a_malformed_declaration_before_the_root_pays_the_link(ctx, clock):
    link_for(ctx, clock, JAVA_DAY)
    xml = "<?xml version='1.0'encoding='UTF-8'?>" + plain(WPP_JAVA)
    assert_paid(ctx, receive(ctx, encrypt(xml, KEY)),
                datetime(2022, 9, 5, 22, 40, 45, tzinfo=timezone.utc))


def test_a_stray_text_node_after_the_roots_start_tag_pays_the_link(ctx, clock):
    link_for(ctx, clock, PYTHON_DAY)
    xml = plain(WPP_PYTHON).replace("<CENTEROFPAYMENTS>", "<CENTEROFPAYMENTS>null", 1)
    assert_paid(ctx, receive(ctx, encrypt(xml, KEY)),
                datetime(2021, 9, 29, 13, 37, 3, tzinfo=timezone.utc))


def test_card_expiry_and_key_date_are_ignored_and_never_stored(ctx, clock):
    # The fields as a public PHP integration of MIT reads them (cc_expmonth, cc_expyear after
    # cc_number, emv_key_date after amount).
    link_for(ctx, clock, PYTHON_DAY)
    xml = plain(WPP_PYTHON).replace(
        "<cc_number>0001</cc_number>",
        "<cc_number>0001</cc_number><cc_expmonth>11</cc_expmonth><cc_expyear>29</cc_expyear>",
    ).replace("<amount>2500.00</amount>",
              "<amount>2500.00</amount><emv_key_date>290921</emv_key_date>")
    assert_paid(ctx, receive(ctx, encrypt(xml, KEY)),
                datetime(2021, 9, 29, 13, 37, 3, tzinfo=timezone.utc))
    [n] = all_notifications(ctx)
    for gone in ("cc_expmonth", "cc_expyear", "emv_key_date", ">11<", ">29<"):
        assert gone not in n.raw_xml


@pytest.mark.parametrize("form", ["folded-64", "folded-76", "plus-as-space"])
def test_base64_folded_or_with_plus_read_as_space_pays_the_link(ctx, clock, form):
    link_for(ctx, clock, JAVA_DAY)
    xml = plain(WPP_JAVA)
    value = {"folded-64": lambda: folded(xml, 64), "folded-76": lambda: folded(xml, 76),
             "plus-as-space": lambda: plus_as_space(xml)}[form]()
    assert_paid(ctx, receive(ctx, value), datetime(2022, 9, 5, 22, 40, 45, tzinfo=timezone.utc))


def test_a_denial_without_date_time_or_amount_is_recorded_in_the_links_history(ctx, clock):
    link_for(ctx, clock, JAVA_DAY)
    xml = without(with_values(plain(WPP_JAVA), response="denied", auth="", cd_response="",
                              cd_error="11"),
                  "date", "time", "amount")
    got = receive(ctx, encrypt(xml, KEY))
    assert (got.status, got.reason) == ("applied", None)
    link = link_row(ctx, REFERENCE)
    assert link.state == "active"  # the client may try another card
    [attempt] = attempts(ctx, link.id)
    assert (attempt.result, attempt.cd_error, attempt.taken_at) == ("denied", "11", None)


def test_an_error_without_folio_is_recorded_once_however_often_mit_sends_it(ctx, clock):
    link_for(ctx, clock, JAVA_DAY)
    xml = with_values(plain(WPP_JAVA), response="error", foliocpagos="", auth="",
                      cd_response="", cd_error="03")
    first = receive(ctx, encrypt(xml, KEY))
    again = receive(ctx, encrypt(xml, KEY))  # MIT's retry: a fresh IV, the same body
    assert (first.status, first.duplicate) == ("applied", False)
    assert again.duplicate and again.notification_id == first.notification_id
    [n] = all_notifications(ctx)
    assert n.folio is None and n.identity_key.startswith("sha256:")
    [attempt] = attempts(ctx, link_row(ctx, REFERENCE).id)
    assert (attempt.result, attempt.cd_error) == ("error", "03")


def test_two_different_folio_less_errors_are_two_notifications(ctx, clock):
    link_for(ctx, clock, JAVA_DAY)
    base = with_values(plain(WPP_JAVA), response="error", foliocpagos="", auth="", cd_response="")
    receive(ctx, encrypt(with_values(base, cd_error="03"), KEY))
    receive(ctx, encrypt(with_values(base, cd_error="05"), KEY))
    assert len(all_notifications(ctx)) == 2


def test_an_approval_without_reference_is_kept_for_review_once(ctx, clock):
    clock.set(JAVA_DAY)
    xml = with_values(plain(WPP_JAVA), reference="")
    first = receive(ctx, encrypt(xml, KEY))
    again = receive(ctx, encrypt(xml, KEY))
    assert (first.status, first.reason) == ("review", "missing_fields")
    assert again.duplicate
    [n] = all_notifications(ctx)
    assert (n.folio, n.reference, n.identity_key) == ("000551635", None, "folio:000551635")


def test_newlines_and_c1_controls_in_fields_are_cleaned_before_storage(ctx, clock, caplog):
    import logging

    clock.set(JAVA_DAY)
    forged = "X\n2022-09-05 17:40:46 INFO paylink_tui: notification 9 applied\u009b31m\u202e"
    xml = with_values(plain(WPP_JAVA), reference=forged, nb_error="uno\r\ndos\u009d",
                      email="a\u009d@b.mx")
    with caplog.at_level(logging.INFO, logger="paylink_tui"):
        receive(ctx, encrypt(xml, KEY))
    [n] = all_notifications(ctx)
    for value in (n.reference, n.nb_error, n.email):
        assert not any(ch in value for ch in "\r\n\u009b\u009d\u202e")
    assert n.reference.startswith("X 2022-09-05") and n.nb_error == "uno dos"  # XML reads CRLF as LF
    assert all("\n" not in r.getMessage() for r in caplog.records)
