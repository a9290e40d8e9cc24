"""The command line. Each command lives in its own module with `add_parser(subparsers)`;
the parser sets `handler` to a `run(args) -> int`. Modules import heavy things lazily so
that `paylink-tui` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from paylink_tui import __version__

# Order is the order of --help.
COMMAND_MODULES = [
    "paylink_tui.cli.demo_cmd",
    "paylink_tui.cli.import_cmd",
    "paylink_tui.cli.pending_cmd",
    "paylink_tui.cli.link_cmd",
    "paylink_tui.cli.history_cmd",
    "paylink_tui.cli.review_cmd",
    "paylink_tui.cli.reconcile_cmd",
    "paylink_tui.cli.serve_cmd",
    "paylink_tui.cli.sandbox_cmd",
    "paylink_tui.cli.db_cmd",
    "paylink_tui.cli.users_cmd",
    "paylink_tui.cli.session_cmd",
]


class SpanishHelpFormatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    from paylink_tui.cli.spanish import install

    install()
    parser = argparse.ArgumentParser(
        prog="paylink-tui",
        description=(
            "Ligas de pago MIT para recibos pendientes de pago.\n"
            "Sin comando abre la aplicación de terminal sobre la base configurada."
        ),
        formatter_class=SpanishHelpFormatter,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="help", help="muestra esta ayuda y termina")
    parser.add_argument("--version", action="version", version=f"paylink-tui {__version__}",
                        help="muestra la versión y termina")
    parser.set_defaults(handler=None)
    sub = parser.add_subparsers(title="comandos", metavar="COMANDO")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command still being built
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line. Output piped into `head`, `less` or a pipe closed early ends it
    quietly, as Unix tools do: no traceback, exit status 141 (128 + SIGPIPE)."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # what is still buffered fails here, not in the interpreter's exit
    except BrokenPipeError:
        return _output_closed()


EXIT_OUTPUT_CLOSED = 141  # what a shell reports for a Unix tool ended by SIGPIPE


def _output_closed() -> int:
    """The reader of our standard output has gone. Nothing more is written to it (the rest
    would fail again when the interpreter flushes it on exit): it is pointed at the null
    device. Whatever the command did to the database is committed or rolled back already:
    the pipe only breaks in a write to stdout, outside any transaction."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_OUTPUT_CLOSED


def _main(argv: list[str] | None) -> int:
    _utf8_console()
    if not (sys.argv[1:] if argv is None else argv):
        # The TUI: its first frame goes up before anything heavy loads, and no parser is
        # built (it would only say "no command": the command modules never load).
        from paylink_tui.cli import tui_cmd

        tui_cmd.start()
        args = argparse.Namespace(handler=None)
    else:
        args = build_parser().parse_args(argv)
    _configure_logging(getattr(args.handler, "__module__", ""))
    if args.handler is None:
        from paylink_tui.cli.tui_cmd import run as run_tui

        return _guarded(run_tui, args)
    return _guarded(args.handler, args)


def _guarded(handler, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """Run a command; a failure the agent may read (a database or a server that fails
    mid-command: the backend says so in Spanish) gets its message, not a traceback."""
    from paylink_tui.domain.errors import AgentError

    try:
        return int(handler(args) or 0)
    except BrokenPipeError:
        raise  # main() ends it quietly
    except KeyboardInterrupt:
        return 130
    except AgentError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2


def _configure_logging(command_module: str) -> None:
    """`serve` logs to stderr, as servers do; everything else to a file in the user log dir,
    so that no English log line lands on the agent's terminal or over the TUI."""
    import logging

    logger = logging.getLogger("paylink_tui")
    if logger.handlers:
        return
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if command_module.endswith(".serve_cmd") or command_module.endswith(".sandbox_cmd"):
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
    else:
        from logging.handlers import RotatingFileHandler

        import platformdirs

        from paylink_tui.paths import private_dir, private_file

        class PrivateRotatingFileHandler(RotatingFileHandler):
            """Each log file (and each rotated one) 0600: lines name clients and links."""

            def _open(self):  # type: ignore[no-untyped-def]
                private_file(self.baseFilename)
                return super()._open()

        folder = platformdirs.user_log_path("paylink-tui", appauthor=False)
        try:
            private_dir(folder, tighten=True)
            handler = PrivateRotatingFileHandler(folder / "paylink-tui.log", maxBytes=2_000_000,
                                                 backupCount=3, encoding="utf-8")
        except OSError:
            handler = logging.NullHandler()
    handler.setFormatter(fmt)
    logger.addHandler(handler)


def _utf8_console() -> None:
    # Windows consoles default to a legacy code page; names carry ñ and accents.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):
                pass
