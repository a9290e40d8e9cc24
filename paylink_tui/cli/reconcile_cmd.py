"""`paylink-tui reconcile [--fecha dd/mm/yyyy]`: ask MIT's transaction query about every link
that can still receive a payment and has none, and apply what MIT took that never arrived
as a notification (services/reconcile.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime

from paylink_tui.cli.common import backend_or_exit, fail, print_table


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "reconcile",
        help="pregunta a MIT por los pagos cuya notificación nunca llegó",
        description=(
            "Consulta a MIT (PAYLINK_MIT_QUERY_URL) por cada liga que aún puede recibir un pago "
            "y no tiene ninguno (activas, sin confirmar, vencidas dentro del día de gracia y "
            "canceladas que MIT aún cobra), en cada día desde que se generó, y aplica lo que "
            "MIT cobró con las mismas reglas que una notificación: lo que no coincide queda "
            "por revisar.\nCon --fecha, solo ese día, para las ligas que pudieron pagarse ese "
            "día.\nSalida: 0 si MIT respondió todo; 1 si alguna consulta no se pudo hacer "
            "(vuelva a intentarlo); 2 si falta configuración o un argumento es inválido."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fecha", metavar="dd/mm/aaaa", type=_day,
                        help="solo ese día (hora del asegurador)")
    parser.set_defaults(handler=run)
    return parser


def _day(text: str) -> date:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()  # noqa: DTZ007 - a calendar day
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"«{text}» no es una fecha dd/mm/aaaa (por ejemplo 07/10/2021)") from None


def outcome_text(item) -> str:  # type: ignore[no-untyped-def]
    from paylink_tui.domain import labels
    from paylink_tui.domain.status import NotificationStatus, ReviewReason

    if item.duplicate and not item.confirmed_waiting:
        return "Ya estaba registrado; nada cambió"
    text = labels.NOTIFICATION[NotificationStatus(item.status)]
    if item.reason:
        text += f": {labels.REVIEW_REASON[ReviewReason(item.reason)]}"
    if item.confirmed_waiting:
        text += " (la notificación esperaba esta confirmación)"
    return text


def run(args: argparse.Namespace) -> int:
    from paylink_tui.cli.review_cmd import label_response
    from paylink_tui.domain.errors import ReconcileError

    backend = backend_or_exit()
    try:
        report = backend.reconcile(day=args.fecha)
    except ReconcileError as exc:
        fail(exc.message)
    if report.found:
        print_table(
            ["Referencia", "Operación", "Respuesta", "Monto", "Resultado"],
            [[f.reference, f.operation, label_response(f.response),
              f"{f.amount:.2f}" if f.amount is not None else "", outcome_text(f)]
             for f in report.found],
            title="Transacciones que MIT registra",
        )
    applied = sum(1 for f in report.found if f.status == "applied" and
                  (not f.duplicate or f.confirmed_waiting))
    review = sum(1 for f in report.found if f.status == "review" and
                 (not f.duplicate or f.confirmed_waiting))
    known = sum(1 for f in report.found if f.duplicate and not f.confirmed_waiting)
    where = f" del {args.fecha.strftime('%d/%m/%Y')}" if args.fecha else ""
    print(f"Se consultaron {report.links} liga(s){where} en {report.queries} consulta(s) a MIT: "
          f"{len(report.found)} transacción(es) encontrada(s); {applied} aplicada(s), {review} "
          f"por revisar, {known} ya registrada(s).")
    if report.ignored:
        print(f"{report.ignored} movimiento(s) que no son ventas (cancelaciones, devoluciones, "
              "cargos automáticos) no se tomaron en cuenta.")
    if not report.answered:
        print(f"Error: MIT no respondió {report.failed} de {report.queries} consulta(s): "
              + " ".join(report.errors) + " Vuelva a ejecutar «paylink-tui reconcile» más tarde.",
              file=sys.stderr)
        return 1
    return 0
