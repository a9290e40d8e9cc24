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
  paylink-tui link 100633640 --email cliente@ejemplo.com --msi 3,6
  paylink-tui link 100633640 --email cliente@ejemplo.com --msi no

Con --policy la liga cubre todos los recibos pendientes de la póliza (de una sola moneda).
La liga vale 3 días naturales sin contar el de hoy; si no se paga, sus recibos vuelven
a la lista de pendientes a partir del 5.º día.

Meses sin intereses: sin --msi, una liga en pesos ofrece todos los planes de
PAYLINK_MIT_PROMOTIONS cuyo monto mínimo alcanza (además del pago en una sola exhibición);
--msi 3,6 ofrece solo esos (cada uno habilitado y alcanzado por el monto, o no se genera la
liga); --msi no, solo el pago en una sola exhibición. Las ligas en dólares no llevan meses.

Si MIT no responde a tiempo, la liga queda «sin confirmar» y el comando termina con
código 3: vuelva a ejecutarlo con los mismos recibos y se reintentará con la misma
referencia (sin duplicar la liga).

Avisa (sin cambiar el código de salida) si quedan fuera recibos anteriores pendientes de la
misma póliza y moneda, o si la liga se podrá pagar después del cese de la póliza; con un
teléfono válido del cliente imprime «WhatsApp: https://wa.me/…» con el mensaje listo.

muchas ligas a la vez:
  paylink-tui link --all                      una liga por póliza y moneda, para todos los
                                              recibos pendientes, al correo registrado
  paylink-tui link --all --search gomez --yes  solo los que coinciden, sin preguntar

Muestra antes cuántas ligas, a cuántos clientes y por cuánto, y quién se omite (sin correo,
con liga activa); pide confirmación (o --yes). Ctrl+C la detiene tras las ligas en curso;
volver a ejecutarla continúa sin duplicar ninguna liga.

códigos de salida: 0 liga generada (aunque el correo quede en cola), 1 no se generó,
2 argumentos o configuración inválidos, 3 sin confirmar (reintente); con --all: 0 sin
fallas, 1 alguna liga falló o quedó sin confirmar, 130 detenida."""


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
                   help="correo electrónico del cliente (obligatorio salvo con --all)")
    p.add_argument("--msi", metavar="MESES", default=None, type=_msi,
                   help="meses sin intereses que ofrece: «3,6», o «no» para pago en una sola "
                        "exhibición (por omisión, todos los que alcanza el monto)")
    p.add_argument("--all", action="store_true", dest="all",
                   help="una liga por póliza y moneda para todos los recibos pendientes (o los "
                        "de --search), cada una al correo registrado")
    p.add_argument("--search", metavar="TEXTO", default=None,
                   help="con --all: solo los recibos que coinciden (póliza, recibo o nombre)")
    p.add_argument("--yes", action="store_true",
                   help="con --all: generar sin preguntar")
    p.set_defaults(handler=run)


def _msi(text: str) -> tuple[int, ...]:
    from paylink_tui.domain.promotions import parse_msi_option

    try:
        return parse_msi_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from paylink_tui.cli.common import backend_or_exit, fail, settings_or_exit

    receipts = [r for r in (args.receipts or []) if r.strip()]
    if args.all:
        from paylink_tui.cli.link_all import run_all

        if receipts or args.policy or args.email:
            fail("con --all cada liga va al correo registrado de su póliza: no indique recibos, "
                 "--policy ni --email.", EXIT_USAGE)
        if args.msi is not None:
            fail("con --all cada liga ofrece los meses sin intereses que alcanza su monto: no "
                 "indique --msi.", EXIT_USAGE)
        return run_all(args.search or "", yes=args.yes)
    if args.search is not None or args.yes:
        fail("--search y --yes solo van con --all.", EXIT_USAGE)
    if not receipts and not args.policy:
        fail("indique uno o más recibos, o --policy POLIZA.", EXIT_USAGE)
    if receipts and args.policy:
        fail("indique recibos o --policy, no ambos.", EXIT_USAGE)
    if not args.email:
        fail("falta --email CORREO (el correo del cliente).", EXIT_USAGE)

    backend = backend_or_exit(settings_or_exit())
    try:
        return _generate(backend, receipts, args.policy, args.email, args.msi)
    finally:
        backend.close()


def _generate(backend, receipts: list[str], policy: str | None, email: str,  # type: ignore[no-untyped-def]
              plans: tuple[int, ...] | None = None) -> int:
    from paylink_tui.domain.dates import long_date
    from paylink_tui.domain.errors import AgentError, OutcomeUnknown
    from paylink_tui.domain.labels import EMAIL
    from paylink_tui.domain.promotions import payment_options
    from paylink_tui.domain.status import EmailStatus

    try:
        link = backend.generate_link(receipt_numbers=receipts, policy_number=policy, email=email,
                                     plans=plans)
    except OutcomeUnknown as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_UNCONFIRMED
    except AgentError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return EXIT_FAILED

    print(f"Liga generada para la póliza {link.policy_number} "
          f"(recibos {', '.join(link.receipt_numbers)}).")
    print(f"Referencia: {link.reference}")
    print(f"Liga: {link.url}")
    print(f"Monto: {link.amount_text}")
    print(f"Forma de pago: {payment_options(link.installment_plans)}")
    print(f"Vigente hasta el {long_date(link.valid_through)}")
    print(f"Si no se paga, los recibos vuelven a pendientes el {long_date(link.reappears_on)}.")
    if link.whatsapp_url:
        print(f"WhatsApp: {link.whatsapp_url}")
    for warning in link.warnings:  # older receipts left out; payable after the lapse
        print(f"Aviso: {warning}")
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
