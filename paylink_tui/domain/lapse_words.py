"""The lapse clock in words (domain/lapse.py), with the standard library alone: the TUI's
first frame (cli/first_frame.py) writes the same words before pendulum or Textual load.

"Cesa en 5 días" (calendar days from today to the lapse day), "Cesa hoy 12:00" on the lapse
day before noon, "Cesó 03/12" from that instant on ("Cesa el 12/04" in the table when 100
days or more away); the long forms for sentences.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

LAPSE_HOUR = 12
SOON_DAYS = 7  # a lapse within a week is "soon" (coloured in the table)

# Urgency, most urgent first (the UI colours by it).
LAPSED = "lapsed"
TODAY = "today"
SOON = "soon"
LATER = "later"


def lapse_day(due_date: date, grace_days: int) -> date:
    """The local day a receipt due on `due_date` lapses (at 12:00 of it)."""
    return due_date + timedelta(days=grace_days)


def lapse_words(day: date, local_now: datetime) -> tuple[str, str, str, int, bool]:
    """(text, short text, urgency, days left, lapsed) of a lapse at local 12:00 of `day`,
    seen at `local_now` (a local wall-clock time, aware or naive)."""
    today = local_now.date()
    days_left = (day - today).days
    lapsed = days_left < 0 or (days_left == 0 and local_now.hour >= LAPSE_HOUR)
    if lapsed:
        return f"Cesó el {day:%d/%m/%Y}", f"Cesó {day:%d/%m}", LAPSED, days_left, True
    if days_left == 0:
        return "Cesa hoy a las 12:00", "Cesa hoy 12:00", TODAY, 0, False
    text = f"Cesa en {days_left} día" + ("" if days_left == 1 else "s")
    # The table's column holds 15 characters: "Cesa en 102 días" would be cut to "… 102 día",
    # so from 100 days on the short form names the day instead.
    short = text if days_left < 100 else f"Cesa el {day:%d/%m}"
    return text, short, SOON if days_left <= SOON_DAYS else LATER, days_left, False
