"""The validity window at every boundary (domain.md, "Rules, precisely")."""

from datetime import date, datetime, timezone

import pendulum
import pytest

from paylink_tui.domain.status import LinkStatus, ReceiptStatus, link_status, receipt_status
from paylink_tui.domain.validity import link_window, taken_in_time

MX = "America/Mexico_City"


def local(y, m, d, hh=0, mm=0, ss=0, tz=MX):
    return pendulum.datetime(y, m, d, hh, mm, ss, tz=tz).in_timezone("UTC")


@pytest.mark.parametrize(
    ("generated", "tz", "fh_vigencia", "expires_local", "reappears_local"),
    [
        # The insurer's example: 07/10/2021 16:04 -> through 10/10, back on 12/10.
        (local(2021, 10, 7, 16, 4), MX, "10/10/2021", (2021, 10, 11), (2021, 10, 12)),
        # 22:00 local is already 03:00 UTC of the 8th: D is still the 7th.
        (local(2021, 10, 7, 22, 0), MX, "10/10/2021", (2021, 10, 11), (2021, 10, 12)),
        # 00:00:00 local belongs to the new day.
        (local(2021, 10, 8, 0, 0, 0), MX, "11/10/2021", (2021, 10, 12), (2021, 10, 13)),
        # 23:59:59 local is still the old day.
        (local(2021, 10, 7, 23, 59, 59), MX, "10/10/2021", (2021, 10, 11), (2021, 10, 12)),
        # Month end.
        (local(2021, 1, 30, 12), MX, "02/02/2021", (2021, 2, 3), (2021, 2, 4)),
        # Year end.
        (local(2021, 12, 30, 9), MX, "02/01/2022", (2022, 1, 3), (2022, 1, 4)),
        # Leap day: 27/02/2024 -> 01/03 through, 29/02 counted.
        (local(2024, 2, 27, 10), MX, "01/03/2024", (2024, 3, 2), (2024, 3, 3)),
        (local(2024, 2, 29, 10), MX, "03/03/2024", (2024, 3, 4), (2024, 3, 5)),
        # A zone with daylight saving time (Mexico City has none since 2022): calendar days hold.
        (local(2024, 3, 8, 23, 30, tz="America/Tijuana"), "America/Tijuana", "11/03/2024",
         (2024, 3, 12), (2024, 3, 13)),
        (local(2024, 11, 1, 12, tz="America/Tijuana"), "America/Tijuana", "04/11/2024",
         (2024, 11, 5), (2024, 11, 6)),
    ],
)
def test_link_window(generated, tz, fh_vigencia, expires_local, reappears_local):
    w = link_window(generated, tz)
    assert w.fh_vigencia == fh_vigencia
    assert w.expires_at == local(*expires_local, tz=tz)
    assert w.hidden_until == local(*reappears_local, tz=tz)
    assert w.expires_at.tzinfo is not None and w.expires_at.utcoffset().total_seconds() == 0


def test_dst_day_is_still_a_calendar_day():
    # 10/03/2024 has 23 hours in Tijuana; the window still ends at local midnight.
    w = link_window(local(2024, 3, 7, 12, tz="America/Tijuana"), "America/Tijuana")
    assert pendulum.instance(w.expires_at).in_timezone("America/Tijuana").format("HH:mm") == "00:00"
    assert w.last_valid_day == date(2024, 3, 10)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2021, 10, 10, 23, 59, 59), LinkStatus.ACTIVE),
        (local(2021, 10, 11, 0, 0, 0), LinkStatus.EXPIRED),
    ],
)
def test_link_expires_at_local_midnight_of_day_four(now, expected):
    w = link_window(local(2021, 10, 7, 16, 4), MX)
    assert link_status("active", w.expires_at, now) is expected


def test_paid_and_cancelled_links_are_never_expired():
    w = link_window(local(2021, 10, 7, 16, 4), MX)
    later = local(2022, 1, 1)
    assert link_status("paid", w.expires_at, later) is LinkStatus.PAID
    assert link_status("cancelled", w.expires_at, later) is LinkStatus.CANCELLED


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2021, 10, 11, 12), ReceiptStatus.WITH_LINK),  # expired, grace day
        (local(2021, 10, 11, 23, 59, 59), ReceiptStatus.WITH_LINK),
        (local(2021, 10, 12, 0, 0, 0), ReceiptStatus.PENDING),  # D+5: back in the list
    ],
)
def test_receipt_returns_to_pending_on_day_five(now, expected):
    w = link_window(local(2021, 10, 7, 16, 4), MX)
    assert receipt_status("pending", w.hidden_until, now) is expected


def test_payment_taken_at_2359_of_last_day_counts_and_one_second_later_does_not():
    w = link_window(local(2021, 10, 7, 16, 4), MX)
    assert taken_in_time(local(2021, 10, 10, 23, 59, 59), w.expires_at)
    assert not taken_in_time(local(2021, 10, 11, 0, 0, 0), w.expires_at)


def test_window_is_independent_of_the_machine_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        w = link_window(datetime(2021, 10, 8, 3, 0, tzinfo=timezone.utc), MX)
        assert w.fh_vigencia == "10/10/2021"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
