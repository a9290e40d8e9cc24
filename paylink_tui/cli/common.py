"""What commands share: settings and database opened with Spanish errors, output formats."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.base import Backend
    from paylink_tui.config import Settings

# pydantic-settings loads only when a command needs the settings: `--help`, `--version`
# and the TUI's first frame (cli/first_frame.py) do not wait for it.


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(code)


def settings_or_exit() -> Settings:
    from paylink_tui.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc))


def backend_or_exit(settings: Settings | None = None,
                    notify: Callable[[str], None] | None = None) -> Backend:
    """The backend this machine uses (the configured database here; the agency's server in
    team mode), or a clear message and exit 2. What it has to say on the way (a database
    being upgraded, settings team mode ignores) goes to `notify`, by default stderr."""
    from paylink_tui.backend.factory import open_backend
    from paylink_tui.domain.errors import AgentError

    settings = settings or settings_or_exit()
    try:
        return open_backend(settings, notify=notify or (lambda message: print(message,
                                                                          file=sys.stderr)))
    except AgentError as exc:
        fail(exc.message)


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table",
                        help="formato de salida (por omisión: table)")


FORMULA_PREFIXES = ("=", "+", "-", "@")


def csv_safe(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]], out=None) -> None:  # type: ignore[no-untyped-def]
    # Row by row as they are read: a reader that stops early (`| head`) stops the query too.
    out = out or sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])


def write_json(data: Any, out=None) -> None:  # type: ignore[no-untyped-def]
    out = out or sys.stdout
    json.dump(data, out, ensure_ascii=False, indent=2)
    out.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """A Rich table; values are shown literally (no markup interpretation)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for h in headers:
        table.add_column(h)
    for row in rows:
        table.add_row(*[Text("" if v is None else str(v)) for v in row])
    Console().print(table)
