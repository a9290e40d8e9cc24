"""`paylink-tui` with no command: the TUI on the configured database."""

from __future__ import annotations

import argparse

from paylink_tui.cli.common import context_or_exit, settings_or_exit


def run(args: argparse.Namespace | None = None) -> int:
    settings = settings_or_exit()
    ctx = context_or_exit(settings)
    from paylink_tui.ui.app import make_app  # Textual loads only when the TUI runs

    app = make_app(ctx)
    app.run()
    return int(app.return_code or 0)
