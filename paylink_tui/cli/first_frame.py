"""The TUI's first frame: the first page of pending receipts on the terminal at once.

Python needs about a second and a half on these machines to load SQLAlchemy,
pydantic-settings and Textual before the app can draw anything. So `paylink-tui` first
reads the first page with the standard library (backend/first_page.py) and paints it in the
alternate screen, in the app's layout, with plain ANSI codes; the app then loads and draws
over it. Keys typed meanwhile are not lost: the terminal keeps them queued, unechoed and
untranslated, until the app reads them, and the app handles them in order once its screen
is ready (ui/keys.py), as if they had been typed then.

Only on a real terminal, only for SQLite — or in team mode from the agency server, when it
answers within a third of a second (backend/first_page_remote.py) — and never at the cost of
starting: anything unusual (no terminal, a settings file that does not parse, a database
still to be created or upgraded, a server slow or down, a session ended) skips the frame and
the app starts as it always did.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TextIO

from paylink_tui.backend.first_page import FirstRow, first_page, sqlite_path
from paylink_tui.domain.lapse_words import lapse_day, lapse_words
from paylink_tui.domain.text import CONTROL_RE
from paylink_tui.paths import DEFAULT_TIMEZONE

# The app's layout, from the module the app lays itself out by (no Textual in it).
from paylink_tui.ui.layout import PENDING_ABOVE_TABLE as ABOVE_TABLE  # noqa: E402
from paylink_tui.ui.layout import detail_height, pending_columns  # noqa: E402

FOOTER_KEYS = (("espacio", "Marcar"), ("/", "Buscar"), ("l", "Liga de pago"), ("q", "Salir"),
               ("h", "Historial"), ("?", "Ayuda"))

RESET, BOLD, DIM, REVERSE, RED = "\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[7m", "\x1b[31m"


def peek_settings(environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """(database URL, time zone) as config.Settings will read them, without pydantic.

    The environment wins over the TOML file, as in config.py; None when the file can't be
    read (the app will say why), and in team mode (PAYLINK_SERVER, or a session `login`
    kept): no frame is better than this machine's rows passing for the server's.
    """
    import tomllib

    from paylink_tui.backend.client_session import session_path
    from paylink_tui.paths import config_path, default_database_url

    env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items()}
    if env.get("PAYLINK_SERVER"):
        return None  # team mode: the rows are the server's, not this machine's database
    url, zone = env.get("PAYLINK_DATABASE_URL"), env.get("PAYLINK_TIMEZONE")
    path = config_path()
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if data.get("server"):
            return None
        url = url if url is not None else data.get("database_url")
        zone = zone if zone is not None else data.get("timezone")
    if session_path().is_file():
        return None  # `login` chose a server: whatever a local file shows would not be it
    if url is not None and not isinstance(url, str) or zone is not None and not isinstance(zone, str):
        return None
    return url or default_database_url(), zone or DEFAULT_TIMEZONE


def peek_grace_days(environ: dict[str, str] | None = None) -> int:
    """PAYLINK_GRACE_DAYS as config.Settings reads it (environment, then the TOML file);
    the default, 30, when it is missing or not a number from 3 to 30 (the app says why)."""
    import tomllib

    from paylink_tui.paths import config_path

    env = {k.upper(): v for k, v in (os.environ if environ is None else environ).items()}
    value: object = env.get("PAYLINK_GRACE_DAYS")
    if value is None:
        path = config_path()
        if path.is_file():
            try:
                value = tomllib.loads(path.read_text(encoding="utf-8")).get("grace_days")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                value = None
    try:
        days = int(str(value).strip()) if value is not None else 30
    except ValueError:
        return 30
    return days if 3 <= days <= 30 else 30


def local_today(now: datetime, zone: str) -> date | None:
    local = local_now(now, zone)
    return local.date() if local is not None else None


def local_now(now: datetime, zone: str) -> datetime | None:
    try:
        from zoneinfo import ZoneInfo

        return now.astimezone(ZoneInfo(zone))
    except Exception:  # no tz database here (Windows without tzdata): no overdue marks
        return None


def columns(width: int) -> list[tuple[str, str, int]]:
    """(key, title, width) of the pending table's columns at this terminal width."""
    return [(f.key, f.label.strip(), f.width) for f in pending_columns(width)]


def table_rows(height: int) -> int:
    below = detail_height(height) + 1  # detail pane (its border included), footer
    return max(1, height - ABOVE_TABLE - below)


def render(rows: list[FirstRow], today: date | None, width: int, height: int, *,
           now: datetime | None = None, grace_days: int = 30) -> str:
    """The frame, line by line from the top-left corner, each line cut to the width.
    `now` (local): the lapse column's words; without it the column is left blank."""
    lines: list[str] = []

    def line(text: str, style: str = "") -> None:
        lines.append(f"{style}{text[:width]}{RESET if style else ''}")

    title = "Pendientes de pago — por póliza (o: por cese)"  # texts.sort_subtitle's
    line(f" {'⭘':<{max(1, (width - len(title)) // 2 - 1)}}{title}", REVERSE)
    line(" ▊" + "▔" * 40 + "▎")
    line(f" ▊  {'Buscar póliza, recibo o nombre…':<38}▎  Calculando…", DIM)
    line(" ▊" + "▁" * 40 + "▎")
    shown = columns(width)
    line(_cells(shown, {key: title for key, title, _ in shown}, align_amount=False), BOLD)
    for index, row in enumerate(rows[:table_rows(height)]):
        style = REVERSE if index == 0 else (RED if today and row.due_date < today else "")
        line(_cells(shown, {"mark": "", "policy": row.policy, "receipt": row.receipt,
                            "ramo": row.ramo, "holder": row.holder, "email": row.email or "—",
                            "amount": f"{row.amount:,.2f} {row.currency}",
                            "due": row.due_date.strftime("%d/%m/%Y"),
                            "lapse": _lapse(row, now, grace_days)}),
             style)
    while len(lines) < height - 1:
        lines.append("")
    footer = "".join(f"{BOLD} {key} {RESET}{REVERSE}{label} " for key, label in FOOTER_KEYS)
    lines.append(f"{REVERSE}{footer}{RESET}")
    return "\r\n".join(lines[:height])


def _lapse(row: FirstRow, now: datetime | None, grace_days: int) -> str:
    if now is None:
        return ""
    if row.lapses_at is not None:  # the server's instant, on the local calendar
        return lapse_words(row.lapses_at.astimezone(now.tzinfo).date(), now)[1]
    return lapse_words(lapse_day(row.due_date, grace_days), now)[1]


def _cells(shown: list[tuple[str, str, int]], values: dict[str, str], *,
           align_amount: bool = True) -> str:
    out = []
    for key, _title, size in shown:
        text = _clean(values[key])
        text = text if len(text) <= size else text[: size - 1] + "…"
        right = align_amount and key == "amount"
        out.append(f" {text:>{size}} " if right else f" {text:<{size}} ")
    return "".join(out)


def _clean(value: str) -> str:
    """A value from the database as plain text: control characters never reach the terminal."""
    return CONTROL_RE.sub("?", value)


@dataclass
class FirstFrame:
    """The frame on screen; `app_ended()` after the app ran, `close()` if it won't run."""

    out: TextIO
    _restore_input: Callable[[], None]

    def app_ended(self) -> None:
        """The agent's own terminal modes again. The app saved the frame's quiet modes when
        it started (and put those back on exit): restoring ours only before it started would
        let a key typed in between be echoed and translated (Enter into Ctrl+J)."""
        self._restore_input()

    def close(self) -> None:
        self._restore_input()
        self.out.write("\x1b[?25h\x1b[?1049l")
        self.out.flush()


def show(now: datetime | None = None, out: TextIO | None = None,
         stdin: TextIO | None = None) -> FirstFrame | None:
    """Paint the first frame if this is a terminal and the database can be read so."""
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    try:
        if not (out.isatty() and stdin.isatty()) or os.environ.get("TERM") == "dumb":
            return None
        width, height = os.get_terminal_size(out.fileno())
        now = now or datetime.now(timezone.utc)
        got = _rows(now, table_rows(height))
        if got is None or not _enable_ansi(out):
            return None
        rows, zone = got
        restore = _quiet_input(stdin)
        out.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J")
        local = local_now(now, zone)
        out.write(render(rows, local.date() if local else None, width, height, now=local,
                         grace_days=peek_grace_days()))
        out.flush()
        return FirstFrame(out, restore)
    except Exception:  # noqa: BLE001 - a frame is a nicety: the app starts regardless
        return None


def _rows(now: datetime, limit: int) -> tuple[list[FirstRow], str] | None:
    """(the first page, the insurer's zone): from this machine's SQLite file, or in team
    mode from the agency server if it answers as fast (backend/first_page_remote.py)."""
    peeked = peek_settings()
    if peeked is None:
        from paylink_tui.backend.first_page_remote import remote_first_page, team_session

        team = team_session()
        return remote_first_page(*team, limit) if team is not None else None
    url, zone = peeked
    path = sqlite_path(url)
    rows = first_page(path, now, limit) if path is not None else None
    return (rows, zone) if rows is not None else None


def _enable_ansi(out: TextIO) -> bool:
    if sys.platform != "win32":
        return True
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.GetStdHandle(-11)  # STD_OUTPUT_HANDLE
    mode = ctypes.c_uint32()
    if not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
        return False
    return bool(kernel32.SetConsoleMode(handle, mode.value | 0x0004))  # VT processing


def _quiet_input(stdin: TextIO) -> Callable[[], None]:
    """Keys typed over the frame wait for the app exactly as typed; returns what undoes it.

    The terminal's line discipline acts on a key when it is typed, not when it is read, so
    the modes the app will use are set now: no echo, no line editing (ICANON, IEXTEN), no
    flow control (IXON/IXOFF would swallow Ctrl+S and Ctrl+Q), and no translation of
    carriage returns (ICRNL made an Enter typed over the frame arrive as Ctrl+J). Ctrl+C
    still interrupts (ISIG): a start-up the agent wants to stop can be stopped.
    """
    if sys.platform == "win32":
        return lambda: None  # nothing reads the console yet: keys wait unechoed
    import termios

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR)
    quiet[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    done = False

    def restore() -> None:
        nonlocal done
        if not done:
            done = True
            termios.tcsetattr(fd, termios.TCSANOW, saved)  # TCSANOW: queued keys stay

    return restore
