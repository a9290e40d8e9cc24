"""`paylink-tui import FILE [--full] [--yes]`: load the insurer's pending receipts.

Exit codes (architecture.md): 0 every row accepted; 1 some rows rejected (or an amount change
refused), the valid rows imported; 2 nothing imported (unreadable file, or --full needing
--yes).
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

PROGRESS_MIN_BYTES = 1_000_000  # below this a file imports before a bar would draw


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="importa los recibos pendientes desde un CSV o XLSX",
        description=(
            "Importa los recibos pendientes exportados por la aseguradora (CSV en UTF-8 o "
            "Windows-1252, o XLSX).\nColumnas: poliza, recibo, ramo, nombre, apellido_paterno, "
            "apellido_materno, email, telefono, monto, moneda, vencimiento y, opcional, "
            "agente (la clave de agente de la aseguradora: en modo equipo decide qué agente "
            "ve el recibo; volver a importar con otra clave lo pasa a ese agente).\n"
            "Volver a importar el mismo archivo no duplica nada.\n\n"
            "Salida: 0 todas las filas aceptadas; 1 hubo filas rechazadas (las válidas se "
            "importaron); 2 no se importó nada."
        ),
    )
    p.add_argument("file", metavar="ARCHIVO", help="el archivo CSV o XLSX")
    p.add_argument("--full", action="store_true",
                   help="el archivo es la lista completa: los recibos pendientes que no aparecen "
                        "se marcan «Liquidado fuera»")
    p.add_argument("--yes", action="store_true",
                   help="con --full, confirma aunque se liquide más del 10%% de los pendientes")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings=None) -> int:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from paylink_tui.cli.common import backend_or_exit
    from paylink_tui.domain.errors import AgentError, ImportFileError

    path = Path(args.file)
    backend = backend_or_exit(settings)
    try:
        with _Progress(path) as progress:
            report = backend.import_file(path, full=args.full, yes=args.yes,
                                         on_progress=progress.update)
    except ImportFileError as exc:
        print(f"Error: {exc} No se importó nada.", file=sys.stderr)
        return 2
    except AgentError as exc:  # the database (or the server) did not take it
        print(f"Error: {exc.message} No se importó nada.", file=sys.stderr)
        return 2
    finally:
        backend.close()
    print_report(report, args.full)
    return report.exit_code


def print_report(report, full: bool, out: TextIO | None = None) -> None:  # type: ignore[no-untyped-def]
    """Plain text on purpose: names and values are printed literally, never as markup."""
    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out)

    say(f"Archivo: {report.filename} ({report.total_rows:,} filas)")
    if report.needs_confirmation:
        say(f"No se importó nada: con --full se marcarían {report.would_settle:,} de "
            f"{report.pending_total:,} recibos pendientes como «Liquidado fuera» (más del 10%).")
        say("Si el archivo es de verdad la lista completa de la aseguradora, repita con --yes.")
        return
    say(f"Recibos nuevos:        {report.added:,}")
    say(f"Recibos actualizados:  {report.updated:,}")
    say(f"Recibos sin cambios:   {report.unchanged:,}")
    say(f"Filas rechazadas:      {report.rejected:,}")
    for error in report.errors:
        say(f"  {error}")
    if report.phone_warnings:
        say(f"Teléfonos sin WhatsApp:  {len(report.phone_warnings):,} (las filas sí se importaron)")
        for warning in report.phone_warnings:
            say(f"  {warning}")
    if report.refused_changes:
        say(f"Cambios de monto no aplicados: {len(report.refused_changes):,}")
        for refused in report.refused_changes:
            say(f"  {refused}")
    if full:
        if report.settle_blocked_by_errors:
            say("Lista completa (--full): no se marcó ningún recibo como «Liquidado fuera» "
                "porque hubo filas rechazadas; corríjalas e importe de nuevo.")
        else:
            say(f"Liquidados fuera:      {report.settled_elsewhere:,}")
            if report.kept_with_live_link:
                say(f"  {report.kept_with_live_link:,} recibos ausentes siguen pendientes "
                    "porque tienen una liga vigente.")
    if report.exit_code == 0:
        say("Importación completa: todas las filas se aceptaron.")
    else:
        say("Importación parcial: las filas válidas se importaron; revise las indicadas.")


class _Progress:
    """A Rich progress display on stderr, only on a terminal and only for large files."""

    def __init__(self, path) -> None:  # type: ignore[no-untyped-def]
        self._progress = None
        self._task = None
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                TextColumn("{task.fields[rows]:,} filas"), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("Leyendo el archivo", total=None, rows=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, stage: str, rows: int) -> None:
        """The backend's progress: `reading` rows of the file, then `saving` them."""
        if self._progress is None or self._task is None:
            return
        if stage == "saving":
            self._progress.update(self._task, description="Guardando en la base de datos",
                                  rows=rows)
        else:
            self._progress.update(self._task, rows=rows)
