"""The lapse clock: when a pending receipt's policy ceases (art. 40 LCS: 12:00 local of due
date + PAYLINK_GRACE_DAYS), in the agent's words, and the pending list sorted by it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from paylink_tui.config import ConfigError, Settings, load_settings
from paylink_tui.domain.lapse import LAPSED, LATER, SOON, TODAY, lapse_clock, lapse_instant, lapse_warning
from paylink_tui.domain.results import SORT_LAPSE, key_just_before
from paylink_tui.services.context import AppContext
from paylink_tui.services.receipts import iter_pending, pending_page, receipt_detail
from tests.helpers import seed, set_candidate_limit

MX = "America/Mexico_City"  # UTC-6 all year since 2022


def local(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh + 6, mm, tzinfo=timezone.utc) if hh + 6 < 24 else \
        datetime(y, m, d, hh + 6 - 24, mm, tzinfo=timezone.utc) + timedelta(days=1)


# -- the instant -------------------------------------------------------------------------------


def test_a_receipt_lapses_at_noon_local_of_due_date_plus_the_grace_days():
    assert lapse_instant(date(2026, 11, 3), 30, MX) == datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)
    assert lapse_instant(date(2026, 11, 3), 3, MX) == datetime(2026, 11, 6, 18, 0, tzinfo=timezone.utc)
    # Another insurer's zone: noon there, not in Mexico City.
    assert lapse_instant(date(2026, 11, 3), 30, "America/Cancun") == datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc)


def test_noon_is_kept_across_a_daylight_saving_change():
    # 2021: Mexico City left DST on 31/10; a due date before it lapses after it, at 12:00.
    assert lapse_instant(date(2021, 10, 15), 30, MX) == datetime(2021, 11, 14, 18, 0, tzinfo=timezone.utc)
    assert lapse_instant(date(2021, 9, 1), 30, MX) == datetime(2021, 10, 1, 17, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("grace", [2, 31, 0, -1])
def test_grace_days_outside_three_to_thirty_are_refused(grace):
    with pytest.raises(ValueError):
        lapse_instant(date(2026, 11, 3), grace, MX)


def test_the_grace_days_setting_defaults_to_thirty_and_is_bounded(monkeypatch):
    assert load_settings().grace_days == 30
    monkeypatch.setenv("PAYLINK_GRACE_DAYS", "15")
    assert load_settings().grace_days == 15
    for bad, why in (("2", "debe ser 3 o más"), ("31", "debe ser 30 o menos"),
                     ("treinta", "debe ser un número entero")):
        monkeypatch.setenv("PAYLINK_GRACE_DAYS", bad)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert f"PAYLINK_GRACE_DAYS: {why}" in str(caught.value)


# -- the words -----------------------------------------------------------------------------------


LAPSE = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)  # 03/12/2026 12:00 local


@pytest.mark.parametrize(("now", "text", "short", "urgency", "days"), [
    (local(2026, 11, 28, 10), "Cesa en 5 días", "Cesa en 5 días", SOON, 5),
    (local(2026, 11, 20, 10), "Cesa en 13 días", "Cesa en 13 días", LATER, 13),
    (local(2026, 12, 2, 8), "Cesa en 1 día", "Cesa en 1 día", SOON, 1),
    # 23:30 local on the 2nd is already the 3rd in UTC: the day counts in the insurer's zone.
    (local(2026, 12, 2, 23, 30), "Cesa en 1 día", "Cesa en 1 día", SOON, 1),
    (local(2026, 12, 3, 0, 0), "Cesa hoy a las 12:00", "Cesa hoy 12:00", TODAY, 0),
    (local(2026, 12, 3, 11, 59), "Cesa hoy a las 12:00", "Cesa hoy 12:00", TODAY, 0),
    (local(2026, 12, 3, 12, 0), "Cesó el 03/12/2026", "Cesó 03/12", LAPSED, 0),
    (local(2027, 1, 10, 9), "Cesó el 03/12/2026", "Cesó 03/12", LAPSED, -38),
])
def test_the_agent_reads_the_days_left_before_the_policy_lapses(now, text, short, urgency, days):
    clock = lapse_clock(LAPSE, now, MX)
    assert (clock.text, clock.short_text, clock.urgency, clock.days_left) == (text, short, urgency, days)
    assert clock.lapsed is (urgency == LAPSED)
    assert clock.lapse_day == date(2026, 12, 3)


def test_a_link_payable_after_the_lapse_instant_is_warned_about():
    now = local(2026, 11, 30, 16)
    # Generated on the 30th: valid through 03/12, expires at 00:00 of 04/12, after the lapse.
    text = lapse_warning(lapses_at=LAPSE, receipt="R-1", valid_through=date(2026, 12, 3),
                         expires_at=local(2026, 12, 4), now=now, tz=MX)
    assert text is not None
    assert "cesa el jueves 3 de diciembre de 2026 a las 12:00" in text
    assert "R-1" in text and "hasta el jueves 3 de diciembre de 2026" in text
    assert "no restablece por sí solo la cobertura" in text


def test_no_warning_when_the_link_expires_before_the_lapse():
    assert lapse_warning(lapses_at=LAPSE, receipt="R-1", valid_through=date(2026, 12, 2),
                         expires_at=local(2026, 12, 3), now=local(2026, 11, 29, 9), tz=MX) is None
    # Expiring exactly at the lapse instant: nothing can be paid after it.
    assert lapse_warning(lapses_at=LAPSE, receipt="R-1", valid_through=date(2026, 12, 3),
                         expires_at=LAPSE, now=local(2026, 11, 29, 9), tz=MX) is None


def test_an_already_lapsed_policy_is_said_to_have_ceased():
    text = lapse_warning(lapses_at=LAPSE, receipt="R-9", valid_through=date(2026, 12, 8),
                         expires_at=local(2026, 12, 9), now=local(2026, 12, 5, 10), tz=MX)
    assert text is not None and text.startswith("La póliza cesó el jueves 3 de diciembre de 2026 a las 12:00")
    assert "R-9" in text


# -- the list sorted by it ------------------------------------------------------------------------


def ctx_for(engine, clock, **settings):
    return AppContext(settings=Settings(database_url="sqlite:///unused.db", **settings),
                      engine=engine, clock=clock)


ROWS = [
    dict(policy="P-100", receipt="R-1", due=date(2021, 10, 1), first="José", last="Peña"),
    dict(policy="P-100", receipt="R-2", due=date(2021, 11, 1), first="José", last="Peña"),
    dict(policy="P-200", receipt="R-3", due=date(2021, 9, 20), first="María", last="Gómez"),
    dict(policy="P-300", receipt="R-4", due=date(2021, 10, 1), first="Ana", last="Peña"),
    dict(policy="P-050", receipt="R-5", due=date(2021, 12, 1), first="Luis", last="Paz"),
    dict(policy="P-060", receipt="R-6", due=date(2021, 9, 1), first="Eva", last="Paz", status="paid"),
]


def test_sorted_by_lapse_the_most_urgent_comes_first(engine, clock):
    seed(engine, ROWS)
    ctx = ctx_for(engine, clock)
    by_policy = pending_page(ctx).rows
    assert [r.receipt for r in by_policy] == ["R-5", "R-1", "R-2", "R-3", "R-4"]
    by_lapse = pending_page(ctx, sort=SORT_LAPSE)
    assert [r.receipt for r in by_lapse.rows] == ["R-3", "R-1", "R-4", "R-2", "R-5"]
    assert [r.lapses_at for r in by_lapse.rows] == sorted(r.lapses_at for r in by_lapse.rows)
    assert by_lapse.rows[0].lapses_at == datetime(2021, 10, 20, 17, 0, tzinfo=timezone.utc)  # CDT then


def test_each_row_carries_its_lapse_with_the_configured_grace_days(engine, clock):
    seed(engine, ROWS[:1])
    row = pending_page(ctx_for(engine, clock, grace_days=5)).rows[0]
    assert row.lapses_at == lapse_instant(date(2021, 10, 1), 5, MX)
    detail = receipt_detail(ctx_for(engine, clock, grace_days=5), row.receipt_id)
    assert detail is not None and detail.receipt.lapses_at == row.lapses_at


def test_lapse_order_pages_forward_and_back_without_gaps(engine, clock):
    rows = [dict(policy=f"P-{(i * 7) % 25:03d}", receipt=f"R-{i:03d}",
                 due=date(2021, 9, 1) + timedelta(days=i // 3)) for i in range(25)]
    seed(engine, rows)
    ctx = ctx_for(engine, clock)
    expected = [r.receipt for r in sorted(
        (pending_page(ctx, limit=100).rows), key=lambda r: (r.due_date, r.policy, r.receipt))]
    seen, page = [], pending_page(ctx, sort=SORT_LAPSE, limit=10)
    seen += page.rows
    while page.has_more:
        page = pending_page(ctx, sort=SORT_LAPSE, after=page.last_key, limit=10)
        seen += page.rows
    assert [r.receipt for r in seen] == expected
    last = pending_page(ctx, sort=SORT_LAPSE, last=True, limit=10)
    assert [r.receipt for r in last.rows] == expected[15:]
    prev = pending_page(ctx, sort=SORT_LAPSE, before=last.first_key, limit=10)
    assert [r.receipt for r in prev.rows] == expected[5:15]
    # The table's refresh: from just before a row, the page starts with that row.
    again = pending_page(ctx, sort=SORT_LAPSE, after=key_just_before(prev.first_key), limit=3)
    assert again.rows[0].receipt == expected[5]
    assert [r.receipt for r in iter_pending(ctx, sort=SORT_LAPSE, chunk=4)] == expected


@pytest.mark.parametrize("rare_limit", [0, 2000])
def test_a_search_sorted_by_lapse_is_the_same_on_both_query_paths(engine, clock, monkeypatch, rare_limit):
    """A rare term goes through the word index and is sorted in memory; a common one walks
    the sort index: both must give the same rows in the same order."""
    seed(engine, ROWS)
    set_candidate_limit(monkeypatch, rare_limit)
    ctx = ctx_for(engine, clock)
    page = pending_page(ctx, search="pena", sort=SORT_LAPSE, limit=2)
    assert [r.receipt for r in page.rows] == ["R-1", "R-4"] and page.has_more
    rest = pending_page(ctx, search="pena", sort=SORT_LAPSE, after=page.last_key, limit=2)
    assert [r.receipt for r in rest.rows] == ["R-2"] and not rest.has_more


def test_an_unknown_order_is_refused(engine, clock):
    with pytest.raises(ValueError):
        pending_page(ctx_for(engine, clock), sort="amount")


# -- the command ---------------------------------------------------------------------------------


def test_pending_command_sorts_by_lapse_and_carries_lapses_at(tmp_path):
    from paylink_tui.store.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed(engine, ROWS)
    engine.dispose()
    env = {**os.environ, "PAYLINK_DATABASE_URL": url, "PAYLINK_GRACE_DAYS": "10", "COLUMNS": "200"}

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", *args],
                             capture_output=True, text=True, env=env, encoding="utf-8")
        assert out.returncode == 0, out.stderr
        return out.stdout

    rows = json.loads(run("--sort", "lapse", "--format", "json"))
    assert [r["receipt"] for r in rows] == ["R-3", "R-1", "R-4", "R-2", "R-5"]
    # 20/09/2021 + 10 days = 30/09/2021 12:00 in Mexico City (CDT, UTC-5 then).
    assert rows[0]["lapses_at"] == "2021-09-30T12:00:00-05:00"
    assert rows[-1]["lapses_at"] == "2021-12-11T12:00:00-06:00"
    assert [r["receipt"] for r in json.loads(run("--format", "json"))] == ["R-5", "R-1", "R-2", "R-3", "R-4"]
    csv_lines = run("--sort", "lapse", "--format", "csv").splitlines()
    assert csv_lines[0].endswith(",vencimiento,cesa_el")
    assert csv_lines[1].startswith("R-3,") and csv_lines[1].endswith(",2021-09-30T12:00:00-05:00")
    table = run("--sort", "lapse")
    assert "Cese" in table and "Cesó 30/09" in table  # these lapsed long ago
    bad = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", "--sort", "monto"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "opción inválida" in bad.stderr
