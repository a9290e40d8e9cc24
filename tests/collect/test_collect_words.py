"""The pure pieces the TUI's collection screens stand on: the lapse words with the standard
library alone (the first frame writes them before pendulum loads), the reminders still due
for the link's detail, and the grace days the first frame reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from paylink_tui.cli.first_frame import peek_grace_days
from paylink_tui.domain.lapse_words import LAPSED, LATER, SOON, TODAY, lapse_day, lapse_words
from paylink_tui.domain.reminders import upcoming_reminder_days


def test_lapse_words_at_the_edges_of_the_lapse_day():
    day = lapse_day(date(2021, 9, 30), 7)
    assert day == date(2021, 10, 7)
    assert lapse_words(day, datetime(2021, 10, 7, 11, 59))[1:3] == ("Cesa hoy 12:00", TODAY)
    assert lapse_words(day, datetime(2021, 10, 7, 12, 0))[1:3] == ("Cesó 07/10", LAPSED)
    assert lapse_words(day, datetime(2021, 10, 6, 23, 59))[1:3] == ("Cesa en 1 día", SOON)
    assert lapse_words(day, datetime(2021, 9, 30, 8, 0))[1:3] == ("Cesa en 7 días", SOON)
    assert lapse_words(day, datetime(2021, 9, 29, 8, 0))[1:3] == ("Cesa en 8 días", LATER)
    assert lapse_words(day, datetime(2021, 10, 9, 8, 0))[0] == "Cesó el 07/10/2021"


def test_the_reminders_still_due_skip_those_sent_and_a_day_whose_hours_ended():
    d = date(2021, 10, 6)
    assert upcoming_reminder_days(d, (1, 3), datetime(2021, 10, 7, 16, 4), set()) == [
        date(2021, 10, 7), date(2021, 10, 9)]
    assert upcoming_reminder_days(d, (1, 3), datetime(2021, 10, 7, 16, 4), {date(2021, 10, 7)}) == [
        date(2021, 10, 9)]
    assert upcoming_reminder_days(d, (1, 3), datetime(2021, 10, 7, 22, 0), set()) == [date(2021, 10, 9)]
    assert upcoming_reminder_days(d, (), datetime(2021, 10, 7, 9, 0), set()) == []


def test_the_first_frame_reads_the_grace_days_as_the_settings_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PAYLINK_CONFIG", str(tmp_path / "nada.toml"))
    assert peek_grace_days({}) == 30
    assert peek_grace_days({"PAYLINK_GRACE_DAYS": "7"}) == 7
    assert peek_grace_days({"paylink_grace_days": " 12 "}) == 12
    for bad in ("2", "31", "siete", ""):
        assert peek_grace_days({"PAYLINK_GRACE_DAYS": bad}) == 30, bad
    config = tmp_path / "config.toml"
    config.write_text("grace_days = 10\n", encoding="utf-8")
    monkeypatch.setenv("PAYLINK_CONFIG", str(config))
    assert peek_grace_days({}) == 10


def test_a_lapse_a_hundred_days_away_names_its_day_in_the_tables_short_form():
    day = date(2022, 1, 14)
    text, short, *_ = lapse_words(day, datetime(2021, 10, 6, 9, 0))
    assert (text, short) == ("Cesa en 100 días", "Cesa el 14/01")
    assert lapse_words(day, datetime(2021, 10, 7, 9, 0))[1] == "Cesa en 99 días"
    assert all(len(lapse_words(date(2021, 10, 6) + timedelta(days=n),
                               datetime(2021, 10, 6, 9, 0))[1]) <= 15 for n in range(-400, 4000))
