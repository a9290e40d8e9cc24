"""`paylink-tui review [apply ID --link REFERENCE | dismiss ID --note TEXT]`: the payment
notifications kept for review, and their resolution."""

from __future__ import annotations

import argparse

from paylink_tui.cli.common import (
    add_format_argument,
    backend_or_exit,
    fail,
    print_table,
    write_csv,
    write_json,
)

HEADERS = ["id", "recibida", "referencia", "folio", "respuesta", "monto", "autorización",
           "motivo", "liga", "nota"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "review",
        help="notificaciones de pago por revisar y su resolución",
        description=(
            "Sin acción, lista las notificaciones de MIT guardadas para revisión (referencia "
            "desconocida, monto distinto, segunda aprobación, pago tardío, liga cancelada...).\n"
            "  review apply ID --link REFERENCIA   aplica la notificación a esa liga\n"
            "  review dismiss ID --note TEXTO      la marca como resuelta, con una nota\n"
            "Un pago cuyo monto no es el de la liga, tomado antes de que la liga existiera o\n"
            "después de su vigencia, o que MIT no ha confirmado, no se aplica sin\n"
            "--aceptar-diferencia; se registra y se confirma al cliente el monto que MIT cobró."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_format_argument(parser)
    parser.set_defaults(handler=run_list)
    sub = parser.add_subparsers(title="acciones", metavar="ACCIÓN")
    apply = sub.add_parser("apply", help="aplica la notificación ID a la liga indicada")
    apply.add_argument("id", type=int, help="número de la notificación (columna id)")
    apply.add_argument("--link", required=True, metavar="REFERENCIA",
                       help="referencia de la liga a la que corresponde el pago")
    apply.add_argument("--aceptar-diferencia", action="store_true", dest="accept",
                       help="aplicarla aunque el monto o la fecha no coincidan con la liga, o "
                            "MIT no la haya confirmado (queda registrado)")
    apply.set_defaults(handler=run_apply)
    dismiss = sub.add_parser("dismiss", help="marca la notificación ID como resuelta sin aplicarla")
    dismiss.add_argument("id", type=int, help="número de la notificación (columna id)")
    dismiss.add_argument("--note", required=True, metavar="TEXTO",
                         help="por qué se resuelve (queda en el historial)")
    dismiss.set_defaults(handler=run_dismiss)
    return parser


def _rows(items, tz: str):  # type: ignore[no-untyped-def]
    from paylink_tui.domain.dates import local_datetime_text

    for it in items:
        yield [
            it.id, local_datetime_text(it.received_at, tz), it.reference or "", it.folio or "",
            label_response(it.response), f"{it.amount:.2f}" if it.amount is not None else "",
            it.authorization or "", it.reason_label, it.link_reference or "", it.note or "",
        ]


def label_response(response: str | None) -> str:
    from paylink_tui.domain.labels import ATTEMPT
    from paylink_tui.domain.status import AttemptResult

    try:
        return ATTEMPT[AttemptResult(response)]
    except ValueError:
        return response or ""


def run_list(args: argparse.Namespace) -> int:
    backend = backend_or_exit()
    tz = backend.identity().timezone
    items = backend.list_review()
    if args.format == "json":
        write_json([
            {
                "id": it.id, "received_at": it.received_at.isoformat(), "reference": it.reference,
                "folio": it.folio, "response": it.response,
                "amount": f"{it.amount:.2f}" if it.amount is not None else None,
                "authorization": it.authorization, "reason": it.reason,
                "reason_label": it.reason_label, "applied": it.applied,
                "link_reference": it.link_reference, "note": it.note,
            }
            for it in items
        ])
    elif args.format == "csv":
        write_csv(HEADERS, _rows(items, tz))
    elif not items:
        print("No hay notificaciones por revisar.")
    else:
        print_table(HEADERS, _rows(items, tz), title="Notificaciones por revisar")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    from paylink_tui.domain.errors import AgentError, NeedsConfirmation

    backend = backend_or_exit()
    try:
        got = backend.apply_review(args.id, reference=args.link,
                                   accept_differences=args.accept)
    except NeedsConfirmation as exc:
        fail(exc.message + " No se aplicó. Si lo revisó y es correcto, repita el comando con "
             "--aceptar-diferencia.", 1)
    except AgentError as exc:
        fail(exc.message, 1)
    print(got.message)
    return 0


def run_dismiss(args: argparse.Namespace) -> int:
    from paylink_tui.domain.errors import AgentError

    backend = backend_or_exit()
    try:
        got = backend.dismiss_review(args.id, note=args.note)
    except AgentError as exc:
        fail(exc.message, 1)
    print(got.message)
    return 0
