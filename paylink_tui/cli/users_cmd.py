"""`paylink-tui users add/list/disable/reset-password`: the users of the agency's server
(team mode). Run where the database is (the server): it opens the configured database
directly, as the administrador."""

from __future__ import annotations

import argparse
import sys

from paylink_tui.cli.common import fail, settings_or_exit

_STDIN_HELP = ("lee la contraseña de la entrada estándar (una línea) en vez de crear una "
               "temporal: para guiones y aprovisionamiento; no hará falta cambiarla")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "users",
        help="usuarios del servidor de la agencia (modo equipo)",
        description=(
            "Usuarios del servidor de la agencia (modo equipo): quién puede entrar, con qué "
            "rol y qué claves de agente ve.\n"
            "Se ejecuta donde está la base de datos (el servidor).\n\n"
            "Roles: agente (solo los recibos de sus claves), supervisor (todos los recibos y "
            "ligas, la bandeja por revisar, cancelar cualquier liga), administrador "
            "(usuarios e importación).\n"
            "«add» y «reset-password» imprimen una contraseña temporal que se debe cambiar "
            "al entrar por primera vez, salvo que --password-stdin dé la contraseña."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="acciones", metavar="ACCIÓN", dest="users_action")

    add = sub.add_parser("add", help="agrega un usuario",
                         description="Agrega un usuario e imprime su contraseña temporal.")
    add.add_argument("name", metavar="NOMBRE", help="nombre de usuario (p. ej. maria.lopez)")
    add.add_argument("--rol", required=True, choices=["agente", "supervisor", "administrador"],
                     help="rol del usuario")
    add.add_argument("--claves", default=None, metavar="A001,A002|*",
                     help="claves de agente separadas por comas, o «*» para todas "
                          "(obligatorio para el rol agente)")
    add.add_argument("--password-stdin", action="store_true", help=_STDIN_HELP)
    add.set_defaults(handler=run_add)

    ls = sub.add_parser("list", help="lista los usuarios")
    ls.set_defaults(handler=run_list)

    dis = sub.add_parser("disable", help="desactiva un usuario (y cierra sus sesiones)")
    dis.add_argument("name", metavar="NOMBRE")
    dis.set_defaults(handler=run_disable)

    reset = sub.add_parser("reset-password",
                           help="nueva contraseña temporal (cierra sus sesiones)")
    reset.add_argument("name", metavar="NOMBRE")
    reset.add_argument("--password-stdin", action="store_true", help=_STDIN_HELP)
    reset.set_defaults(handler=run_reset)

    parser.set_defaults(handler=lambda args: _usage(parser))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        fail("--password-stdin: la entrada estándar no trae ninguna contraseña.")
    return password


def _handed_over(name: str, secret: str, one_time: bool) -> None:
    if one_time:
        print(f"Contraseña temporal de {name}: {secret}")
        print("Entréguela en persona; se pedirá cambiarla al entrar por primera vez.")
    else:
        print(f"Contraseña de {name} establecida.")


def run_add(args: argparse.Namespace) -> int:
    from paylink_tui.backend import admin

    password = _password_from_stdin() if args.password_stdin else None
    settings = settings_or_exit()
    secret = admin.add_user(settings, args.name, role=args.rol, codes=args.claves,
                            password=password)
    print(f"Usuario {args.name.strip().lower()} agregado con rol {args.rol}.")
    _handed_over(args.name.strip().lower(), secret, password is None)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from paylink_tui.backend import admin

    rows = admin.list_users(settings_or_exit())
    if not rows:
        print("No hay usuarios. Agregue uno con «paylink-tui users add NOMBRE --rol ...».")
        return 0
    width = max(len("usuario"), *(len(r.name) for r in rows))
    print(f"{'usuario':<{width}}  {'rol':<13}  {'claves':<20}  estado")
    for r in rows:
        state = ("desactivado" if r.disabled
                 else "contraseña temporal" if r.must_change_password else "activo")
        print(f"{r.name:<{width}}  {r.role:<13}  {','.join(r.codes):<20}  {state}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from paylink_tui.backend import admin

    admin.disable_user(settings_or_exit(), args.name)
    print(f"Usuario {args.name.strip().lower()} desactivado; sus sesiones se cerraron.")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    from paylink_tui.backend import admin

    password = _password_from_stdin() if args.password_stdin else None
    secret = admin.reset_password(settings_or_exit(), args.name, password)
    _handed_over(args.name.strip().lower(), secret, password is None)
    return 0
