"""`paylink-tui link --all [--search TEXT] [--yes]`: many links at once (services/batch.py).

First the plan (how many links, to how many clients, for how much, who is skipped and why),
then a confirmation unless --yes, then the links with a progress bar on a terminal, then the
summary: made, skipped with the reason, failed. Ctrl+C stops it after the links under way;
running it again continues without a second link for anyone.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 130
LIST_LIMIT = 20  # names listed per group; the rest counted


def run_all(search: str, *, yes: bool) -> int:
    from paylink_tui.cli.common import backend_or_exit, settings_or_exit
    from paylink_tui.domain.errors import AgentError

    backend = backend_or_exit(settings_or_exit())
    try:
        try:
            plan = backend.batch_preview(search=search)
        except AgentError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        print_plan(plan)
        if not plan.links:
            return EXIT_OK
        if not yes:
            if not sys.stdin.isatty():
                print("Error: no se generó nada: confirme con --yes (la entrada no es una "
                      "terminal para preguntar).", file=sys.stderr)
                return EXIT_USAGE
            try:
                answer = input(f"¿Generar {_n(len(plan.links), 'liga', 'ligas')}? [s/N] ")
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("s", "si", "sí"):
                print("No se generó ninguna liga.")
                return EXIT_OK
        try:
            outcome = _run(backend, plan)
        except AgentError as exc:  # nothing could be made (no gateway configured...)
            print(f"Error: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        print_outcome(outcome)
        if outcome.stopped:
            return EXIT_STOPPED
        return EXIT_FAILED if outcome.failed else EXIT_OK
    finally:
        backend.close()


def _n(count: int, one: str, many: str) -> str:
    from paylink_tui.domain.text import plural

    return plural(count, one, many)


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:LIST_LIMIT])
    if len(items) > LIST_LIMIT:
        shown += f" y {len(items) - LIST_LIMIT:,} más"
    return shown


def print_plan(plan: Any) -> None:
    """Plain text on purpose: names are printed literally, never as markup."""
    print(plan.summary)
    if not plan.skipped:
        return
    verb = "Se omite" if len(plan.skipped) == 1 else "Se omiten"
    print(f"{verb} {_n(len(plan.skipped), 'recibo', 'recibos')}:")
    _print_skips(plan.skipped)


def _print_skips(skipped: Sequence[Any]) -> None:
    from paylink_tui.domain.labels import BATCH_SKIP

    by_reason: dict[str, list[Any]] = {}
    for skip in skipped:
        by_reason.setdefault(skip.reason, []).append(skip)
    for reason, skips in by_reason.items():
        who = [f"{s.receipt} (póliza {s.policy}, {s.holder})" if s.policy else s.receipt
               for s in skips]
        print(f"  {BATCH_SKIP.get(reason, reason)} ({len(skips):,}): {_listed(who)}")


def _run(backend: Any, plan: Any) -> Any:
    """run_batch with a progress bar on a terminal and Ctrl+C as its stop key."""
    stop = {"asked": False}

    def ask_to_stop(signum: int, frame: object) -> None:
        if not stop["asked"]:
            print("\nDeteniendo: se terminan las ligas en curso…", file=sys.stderr)
        stop["asked"] = True

    previous = signal.signal(signal.SIGINT, ask_to_stop)
    try:
        with _Bar(len(plan.links)) as bar:
            return backend.run_batch(plan, on_progress=bar.update,
                                     should_stop=lambda: stop["asked"])
    finally:
        signal.signal(signal.SIGINT, previous)


def print_outcome(outcome: Any) -> None:
    from paylink_tui.domain.batch import amounts_text
    from paylink_tui.domain.labels import EMAIL
    from paylink_tui.domain.status import EmailStatus

    made = outcome.made
    print(f"Ligas generadas: {len(made):,}"
          + (f" por {amounts_text(outcome.amounts)}" if made else ""))
    if made and len(made) <= LIST_LIMIT:
        for r in made:
            label = EMAIL.get(EmailStatus(r.email_status), r.email_status) if r.email_status else ""
            print(f"  {r.policy}: {r.reference}, correo {label} a {r.email}")
    elif made:
        print("  (cada una, con su referencia, en «paylink-tui history»)")
    waiting = [r for r in made if r.email_status and r.email_status != EmailStatus.SENT.value]
    if waiting:
        print(f"  {_n(len(waiting), 'correo quedó', 'correos quedaron')} en cola: se reintentan "
              "mientras la aplicación o «paylink-tui serve» estén abiertos.")
    skipped = list(outcome.skipped)
    if outcome.plan_skipped or skipped:
        count = len(outcome.plan_skipped) + sum(len(r.receipts) for r in skipped)
        print(f"Omitidos: {_n(count, 'recibo', 'recibos')}")
        _print_skips(outcome.plan_skipped)
        if skipped:
            print(f"  al generar, ya con liga o ya pagados ({len(skipped):,}):")
            for r in skipped:
                print(f"    {r.policy} ({', '.join(r.receipts)}): {r.message}")
    unconfirmed = outcome.unconfirmed
    definite = [r for r in outcome.failed if r not in unconfirmed]
    if outcome.failed:
        print(f"Fallidas: {len(outcome.failed):,}")
        for r in definite:
            print(f"  {r.policy} ({', '.join(r.receipts)}): {r.message}")
        for r in unconfirmed:
            print(f"  {r.policy} ({', '.join(r.receipts)}): sin confirmar por MIT "
                  f"(referencia {r.reference}); vuelva a ejecutar el comando: se reintenta con "
                  "la misma referencia.")
    if outcome.stopped:
        print(f"Detenida: {_n(len(outcome.not_run), 'liga no se intentó', 'ligas no se intentaron')}; "
              "vuelva a ejecutar el comando para continuar (no se duplica ninguna liga).")


class _Bar:
    """A Rich progress bar on stderr, only on a terminal."""

    def __init__(self, total: int) -> None:
        self._progress: Any = None
        self._task: Any = None
        self.total = total
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("Generando ligas"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[made]} hechas, {task.fields[failed]} fallidas"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=True)

    def __enter__(self) -> _Bar:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total, made=0, failed=0)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, progress: Any) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=progress.done, made=progress.made,
                                  failed=progress.failed)
