"""`paylink-tui link`: generate and send one payment link without the TUI."""

from __future__ import annotations

import argparse
import sys

# Exit codes (documented in --help).
EXIT_OK = 0
EXIT_FAILED = 1  # no link: invalid data, receipts not available, MIT refused...
EXIT_USAGE = 2  # bad arguments or configuration (common.fail uses 2 as well)
EXIT_UNCONFIRMED = 3  # MIT's answer was lost: the link waits, unconfirmed, for a retry

EPILOG = """\
ejemplos:
  paylink-tui link 100633640 --email cliente@ejemplo.com
  paylink-tui link 100633640 100633641 --email cliente@ejemplo.com
  paylink-tui link --policy AXA-123456 --email cliente@ejemplo.com

Con --policy la liga cubre todos los recibos pendientes de la póliza (de una sola moneda).
La liga vale 3 días naturales sin contar el de hoy; si no se paga, sus recibos vuelven
a la lista de pendientes a partir del 5.º día.

Si MIT no responde a tiempo, la liga queda «sin confirmar» y el comando termina con
código 3: vuelva a ejecutarlo con los mismos recibos y se reintentará con la misma
referencia (sin duplicar la liga).

códigos de salida: 0 liga generada (aunque el correo quede en cola), 1 no se generó,
2 argumentos o configuración inválidos, 3 sin confirmar (reintente)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "link",
        help="genera y envía una liga de pago",
        description="Genera una liga de pago MIT para uno o varios recibos (o para los "
                    "recibos pendientes de una póliza) y la envía por correo al cliente.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument("-h", "--help", action="help", help="muestra esta ayuda y termina")
    p.add_argument("receipts", nargs="*", metavar="RECIBO", help="número de recibo")
    p.add_argument("--policy", metavar="POLIZA", default=None,
                   help="todos los recibos pendientes de esta póliza")
    p.add_argument("--email", metavar="CORREO", default=None,
                   help="correo electrónico del cliente (obligatorio)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from paylink_tui.cli.common import context_or_exit, fail, settings_or_exit

    receipts = [r for r in (args.receipts or []) if r.strip()]
    if not receipts and not args.policy:
        fail("indique uno o más recibos, o --policy POLIZA.", EXIT_USAGE)
    if receipts and args.policy:
        fail("indique recibos o --policy, no ambos.", EXIT_USAGE)
    if not args.email:
        fail("falta --email CORREO (el correo del cliente).", EXIT_USAGE)

    settings = settings_or_exit()
    ctx = context_or_exit(settings)
    try:
        return _generate(ctx, receipts, args.policy, args.email)
    finally:
        ctx.engine.dispose()


def _generate(ctx, receipts: list[str], policy: str | None, email: str) -> int:  # type: ignore[no-untyped-def]
    from paylink_tui.domain.dates import long_date
    from paylink_tui.domain.labels import EMAIL
    from paylink_tui.domain.status import EmailStatus
    from paylink_tui.services.links import LinkError, OutcomeUnknown, generate_link

    try:
        link = generate_link(ctx, receipt_numbers=receipts, policy_number=policy, email=email)
    except OutcomeUnknown as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_UNCONFIRMED
    except LinkError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        gateway = ctx.gateway
        if gateway is not None:
            gateway.close()

    print(f"Liga generada para la póliza {link.policy_number} "
          f"(recibos {', '.join(link.receipt_numbers)}).")
    print(f"Referencia: {link.reference}")
    print(f"Liga: {link.url}")
    print(f"Monto: {link.amount_text}")
    print(f"Vigente hasta el {long_date(link.valid_through)}")
    print(f"Si no se paga, los recibos vuelven a pendientes el {long_date(link.reappears_on)}.")
    label = EMAIL.get(EmailStatus(link.email_status), link.email_status)
    if link.email_status == EmailStatus.SENT.value:
        print(f"Correo: {label} a {link.email}")
    else:
        print(f"Correo a {link.email}: {label}")
        from paylink_tui.domain.labels import email_not_sent

        why = f" Motivo: {link.email_error}" if link.email_error else ""
        print(f"Aviso: la liga ya es válida. {email_not_sent(link.email, queued=link.email_queued)}"
              f"{why}", file=sys.stderr)
    return EXIT_OK
