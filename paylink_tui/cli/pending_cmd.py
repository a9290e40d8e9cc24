"""`paylink-tui pending`: the pending list as the TUI shows it."""

from __future__ import annotations

import argparse

from paylink_tui.cli.common import add_format_argument

HEADERS = ["recibo", "poliza", "ramo", "nombre", "apellido_paterno", "apellido_materno", "email",
           "monto", "moneda", "vencimiento", "cesa_el"]
JSON_KEYS = ["receipt", "policy", "ramo", "first_name", "last_name", "second_last_name", "email",
             "amount", "currency", "due_date", "lapses_at"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pending", help="lista los recibos pendientes de pago",
                       description="Los recibos pendientes, con las mismas reglas y búsqueda que la "
                                   "aplicación (póliza, recibo o cualquier parte del nombre), y "
                                   "cuándo cesa la cobertura de cada póliza si no se pagan "
                                   "(12:00 del vencimiento más PAYLINK_GRACE_DAYS días).")
    p.add_argument("--search", default="", metavar="TEXTO", help="filtra por póliza, recibo o nombre")
    p.add_argument("--sort", choices=["policy", "lapse"], default="policy",
                   help="orden: policy (póliza, por omisión) o lapse (cese más próximo primero)")
    add_format_argument(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from paylink_tui.cli.common import backend_or_exit, print_table, write_csv, write_json
    from paylink_tui.cli.history_cmd import iso
    from paylink_tui.domain.lapse import lapse_clock
    from paylink_tui.domain.money import format_amount

    backend = backend_or_exit()
    tz = backend.identity().timezone
    rows = backend.iter_pending(search=args.search, sort=args.sort)

    def values(r):  # type: ignore[no-untyped-def]
        return [r.receipt, r.policy, r.ramo, r.first_name, r.last_name, r.second_last_name,
                r.email or "", r.amount, r.currency, r.due_date.isoformat(), iso(r.lapses_at, tz)]

    if args.format == "json":
        write_json([
            {k: (str(v) if k == "amount" else v) for k, v in zip(JSON_KEYS, values(r), strict=True)}
            for r in rows
        ])
    elif args.format == "csv":
        write_csv(HEADERS, (values(r) for r in rows))
    else:
        now = backend.now()
        table_rows = [
            [r.policy, r.receipt, r.ramo, r.holder, format_amount(r.amount), r.currency,
             r.due_date.strftime("%d/%m/%Y"),
             lapse_clock(r.lapses_at, now, tz).short_text if r.lapses_at else ""]
            for r in rows
        ]
        order = " (el cese más próximo primero)" if args.sort == "lapse" else ""
        print_table(["Póliza", "Recibo", "Ramo", "Contratante", "Monto", "Moneda", "Vencimiento",
                     "Cese"],
                    table_rows, title=f"Recibos pendientes: {len(table_rows)}{order}")
    return 0
