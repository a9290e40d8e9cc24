"""`paylink-tui` with no command: the TUI on the configured database."""

from __future__ import annotations

import argparse
from typing import Any

_frame: Any = None


def start() -> None:
    """The first page on screen before the heavy imports (cli/first_frame.py), and the
    collector paused while they run (see `run`)."""
    import gc

    gc.disable()
    show_first_frame()


def show_first_frame() -> None:
    global _frame
    import atexit

    from paylink_tui.cli import first_frame

    _frame = first_frame.show()
    if _frame is not None:
        atexit.register(_close_unclaimed_frame)  # whatever ends the process before run()


def _resume_collector() -> None:
    """What the imports built lives as long as the process: it is moved out of the
    collector's sight (gc.freeze) rather than walked again and again while SQLAlchemy,
    pydantic and Textual load (some 10^5 objects: collections cost ~50 ms of start-up,
    between the first frame and the first key the app can act on)."""
    import gc

    gc.freeze()
    gc.enable()


def _close_unclaimed_frame() -> None:
    global _frame
    if _frame is not None:
        _frame.close()
        _frame = None


def run(args: argparse.Namespace | None = None) -> int:
    global _frame
    frame, _frame = _frame, None
    # Over the frame nothing is printed: what opening the backend has to say (settings team
    # mode ignores, say) is held and printed on the agent's own screen once the app ended.
    held: list[str] = []

    def close_frame() -> None:
        nonlocal frame
        if frame is not None:
            frame.close()
            frame = None
        _print_held(held)

    try:
        from paylink_tui.cli.common import backend_or_exit, settings_or_exit

        backend = backend_or_exit(settings_or_exit(),
                                  notify=held.append if frame is not None else None)
        signed_in(backend, before_prompt=close_frame)
        from paylink_tui.ui.app import make_app  # Textual loads only when the TUI runs

        app = make_app(backend)
    except BaseException:
        close_frame()  # an error message goes to the agent's own screen
        raise
    finally:
        _resume_collector()
    try:
        app.run()
    finally:
        if frame is not None:
            frame.app_ended()  # the agent's shell gets its echo back
        _print_held(held)
    return int(app.return_code or 0)


def _print_held(held: list[str]) -> None:
    import sys

    while held:
        print(held.pop(0), file=sys.stderr)


def signed_in(backend, before_prompt=None) -> None:  # type: ignore[no-untyped-def]
    """Team mode: a session that ended while the app was closed is renewed here, on the
    terminal, before the app starts (once it runs, its own dialog does it)."""
    import getpass
    import sys

    from paylink_tui.domain.errors import PasswordChangeRequired, SessionExpired

    if not hasattr(backend, "sign_in"):
        return  # the local backend: no session
    try:
        backend.identity()
        return
    except SessionExpired:
        if not sys.stdin.isatty():
            raise
    if before_prompt is not None:
        before_prompt()  # the prompt goes to the agent's own screen, not over a frame
    print(f"Su sesión en {backend.server} terminó; escriba su contraseña para entrar de nuevo.",
          file=sys.stderr)
    password = getpass.getpass(f"Contraseña de {backend.user}: ")
    try:
        backend.sign_in(backend.user, password)
    except PasswordChangeRequired:
        from paylink_tui.cli.session_cmd import _new_password_interactive

        backend.sign_in(backend.user, password, new_password=_new_password_interactive())
    backend.identity()
