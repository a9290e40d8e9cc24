"""`paylink-tui login URL [--usuario NAME] [--password-stdin]`, `logout`, `whoami`: the
agent's session with the agency server (team-mode.md, "Commands").

`login` keeps the server's URL and the token in the user config dir (backend/client_session.py,
mode 0600); later commands and the TUI use that server. The password is read without echo
(or as the first line of standard input with --password-stdin; a second line is the new
password when the server asks for one) and never stored, printed or logged; nor is the token.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from paylink_tui.cli.common import fail

MIN_PASSWORD = 10


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    login = subparsers.add_parser(
        "login", help="entra al servidor de la agencia (modo equipo)",
        description=("Inicia sesión en el servidor de la agencia. La sesión queda guardada en "
                     "esta máquina (solo legible por su usuario) y desde entonces la "
                     "aplicación y los comandos trabajan sobre ese servidor."))
    login.add_argument("url", metavar="URL", help="dirección del servidor, p. ej. "
                       "https://pagos.agencia.mx")
    login.add_argument("--usuario", default=None, metavar="NOMBRE",
                       help="su usuario (por omisión lo pregunta, o el de la última vez)")
    login.add_argument("--password-stdin", action="store_true",
                       help="lee la contraseña de la primera línea de la entrada estándar (y "
                            "la nueva, si el servidor pide cambiarla, de la segunda)")
    login.set_defaults(handler=run_login)
    logout = subparsers.add_parser("logout", help="cierra la sesión en el servidor de la agencia",
                                   description="Cierra la sesión en el servidor y la olvida "
                                               "en esta máquina.")
    logout.set_defaults(handler=run_logout)
    whoami = subparsers.add_parser("whoami", help="con qué usuario, rol y cartera trabaja",
                                   description="Muestra el usuario, su rol, sus claves de "
                                               "agente y el servidor.")
    whoami.set_defaults(handler=run_whoami)


def _stdin_lines() -> list[str]:
    return [line.rstrip("\r\n") for line in sys.stdin.read().splitlines()]


def _new_password_interactive() -> str:
    print("Su contraseña es temporal: elija una nueva (al menos "
          f"{MIN_PASSWORD} caracteres).", file=sys.stderr)
    for _ in range(3):
        first = getpass.getpass("Contraseña nueva: ")
        if len(first) < MIN_PASSWORD:
            print(f"Debe tener al menos {MIN_PASSWORD} caracteres.", file=sys.stderr)
            continue
        if getpass.getpass("Repita la contraseña nueva: ") == first:
            return first
        print("Las dos contraseñas no coinciden.", file=sys.stderr)
    fail("No se cambió la contraseña.")


def run_login(args: argparse.Namespace) -> int:
    from paylink_tui.backend.client_session import StoredSession, load_session, save_session
    from paylink_tui.backend.remote import sign_in
    from paylink_tui.domain.errors import PasswordChangeRequired
    from paylink_tui.domain.hosts import check_server_url

    try:
        server = check_server_url(args.url)
    except ValueError as exc:
        fail(f"No se puede usar {args.url[:80]}: {exc}.")
    stored = load_session()
    user = args.usuario or (stored.user if stored and stored.server == server else "")
    lines = _stdin_lines() if args.password_stdin else []
    if not user:
        if args.password_stdin:
            fail("Indique el usuario con --usuario.")
        user = input("Usuario: ").strip()
        if not user:
            fail("Falta el usuario.")
    if args.password_stdin:
        if not lines or not lines[0]:
            fail("No llegó la contraseña por la entrada estándar.")
        password = lines[0]
    else:
        password = getpass.getpass(f"Contraseña de {user}: ")
    try:
        token, expires, identity = sign_in(server, user, password)
    except PasswordChangeRequired as exc:
        if args.password_stdin:
            if len(lines) < 2 or not lines[1]:
                fail(f"{exc.message} Dé la contraseña nueva en la segunda línea de la "
                     "entrada estándar.")
            new_password = lines[1]
        else:
            new_password = _new_password_interactive()
        token, expires, identity = sign_in(server, user, password, new_password=new_password)
    path = save_session(StoredSession(server=server, user=identity.user, token=token,
                                      expires_at=expires or None))
    print(f"Sesión iniciada en {server} como {identity.user} ({identity.role}). La aplicación "
          "y los comandos trabajan ahora sobre este servidor.")
    print(f"La sesión quedó guardada en {path} (solo su usuario puede leerla).")
    return 0


def run_logout(args: argparse.Namespace) -> int:
    from paylink_tui.backend.client_session import forget_session, load_session
    from paylink_tui.backend.remote import RemoteBackend
    from paylink_tui.domain.errors import AgentError

    stored = load_session()
    if stored is None or not stored.token:
        print("No hay una sesión abierta en esta máquina.")
        return 0
    backend = RemoteBackend(stored.server, stored.token, user=stored.user)
    try:
        backend.sign_out()
    except AgentError as exc:
        forget_session()
        print(f"La sesión se olvidó en esta máquina, pero el servidor no respondió: "
              f"{exc.message} En el servidor termina sola en 12 horas sin uso.", file=sys.stderr)
        return 1
    finally:
        backend.close()
    forget_session()
    print(f"Sesión cerrada en {stored.server}.")
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    from paylink_tui.backend.base import ALL_CODES
    from paylink_tui.cli.common import backend_or_exit

    backend = backend_or_exit()
    try:
        me = backend.identity()
    finally:
        backend.close()
    codes = "todas" if ALL_CODES in me.codes else ", ".join(me.codes) or "ninguna"
    print(f"Usuario:   {me.user}")
    print(f"Rol:       {me.role}")
    print(f"Cartera:   {codes}")
    print(f"Servidor:  {me.server or 'ninguno (modo de un agente: la base de esta máquina)'}")
    return 0
