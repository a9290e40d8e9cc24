"""`paylink-tui demo [--no-tui]`: the TUI with everything embedded on loopback (a seeded
demo database, the MIT sandbox, the notification receiver, an SMTP server that keeps every
message as a file); `--no-tui` runs the embedded services alone and prints their addresses."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="la aplicación con todo integrado (datos de ejemplo, sandbox de MIT, correo local)",
        description=(
            "Abre la aplicación sobre una base de demostración, sin configurar nada y sin red: "
            "el sandbox de MIT, el receptor de notificaciones y un servidor de correo local que "
            "guarda cada mensaje como archivo .eml corren en esta misma máquina."
        ),
    )
    parser.add_argument("--no-tui", action="store_true",
                        help="solo los servicios integrados: muestra sus direcciones y espera Ctrl+C")
    parser.add_argument("--equipo", action="store_true",
                        help="en modo equipo: el servidor de la agencia en esta máquina con dos "
                             "agentes y una supervisora, y la aplicación como el primer agente")
    parser.set_defaults(handler=run)
    return parser


def describe(runtime) -> str:  # type: ignore[no-untyped-def]
    return "\n".join([
        "Demostración de paylink-tui en marcha:",
        f"  Sandbox de MIT (ligas y pagos):  {runtime.base_url}/",
        f"  Generación de ligas:             {runtime.gen_url}",
        f"  Receptor de notificaciones:      {runtime.notify_url}",
        f"  Consulta de transacciones:       {runtime.query_url}",
        f"  Servidor de correo (SMTP):       127.0.0.1:{runtime.smtp_port}",
        f"  Correos recibidos (.eml):        {runtime.mail_folder}",
        f"  Base de datos:                   {runtime.database_path}",
    ])


def run_team(args: argparse.Namespace) -> int:
    import time

    from paylink_tui.demo.team import describe_team, start_team_demo

    try:
        demo = start_team_demo()
    except Exception as exc:
        print(f"Error: no se pudo iniciar la demostración en modo equipo: {exc}", file=sys.stderr)
        return 1
    try:
        print(describe_team(demo), flush=True)
        if args.no_tui:
            print("Pulse Ctrl+C para terminar.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\nDemostración terminada.")
            return 0
        from paylink_tui.ui.app import make_app

        app = make_app(demo.backend, demo_info={  # type: ignore[arg-type]
            "base_url": demo.runtime.base_url, "mail_folder": demo.runtime.mail_folder})
        app.run()
        print(describe_team(demo))  # the passwords again, once the app's screen is gone
        return int(app.return_code or 0)
    finally:
        demo.backend.close()  # type: ignore[attr-defined]
        demo.runtime.stop()


def run(args: argparse.Namespace) -> int:
    import time

    from paylink_tui.demo.runtime import DemoRuntime

    if getattr(args, "equipo", False):
        return run_team(args)

    runtime = DemoRuntime()
    try:
        runtime.start()
    except Exception as exc:
        print(f"Error: no se pudo iniciar la demostración: {exc}", file=sys.stderr)
        return 1
    try:
        if args.no_tui:
            print(describe(runtime))
            print("Pulse Ctrl+C para terminar.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("\nDemostración terminada.")
            return 0
        try:
            from paylink_tui.ui.app import run_demo_app
        except ImportError:
            print(describe(runtime))
            print("Error: la aplicación de terminal aún no está disponible en esta versión; "
                  "use «paylink-tui demo --no-tui».", file=sys.stderr)
            return 1
        return int(run_demo_app(runtime) or 0)
    finally:
        runtime.stop()
