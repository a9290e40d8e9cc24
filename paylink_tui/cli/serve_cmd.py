"""`paylink-tui serve [--host] [--port] [--workers]`: the notification receiver under uvicorn
(plus the sandbox gateway when PAYLINK_GATEWAY=sandbox)."""

from __future__ import annotations

import argparse
import os
import sys

from paylink_tui.cli.common import fail, settings_or_exit

FACTORY = "paylink_tui.web.app:app_from_settings"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "serve",
        help="recibe las notificaciones de pago de MIT y envía la cola de correos",
        description=(
            "Sirve POST /mit/notificacion (campo strResponse, la URL de respuesta que se "
            "configura en MIT) y GET /salud, y entrega la cola de correos cada pocos segundos.\n"
            "Con PAYLINK_GATEWAY=sandbox también sirve el sandbox de MIT (/gen, /i/...)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="dirección (por omisión 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="puerto (por omisión 8080)")
    parser.add_argument("--workers", type=int, default=1,
                        help="procesos de trabajo (por omisión 1; varios requieren PostgreSQL "
                             "o aceptan la espera de escritura de SQLite)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from paylink_tui.domain.errors import AgentError
    from paylink_tui.web.app import preflight

    if args.workers < 1:
        fail("--workers debe ser 1 o más.")
    settings = settings_or_exit()
    try:
        # Once, before any worker starts: the schema, and the gateway's key (the receiver
        # needs it to read notifications).
        preflight(settings, notify=lambda message: print(message, file=sys.stderr))
    except AgentError as exc:
        fail(exc.message)
    workers = args.workers
    base = f"http://{args.host}:{args.port}"
    if settings.gateway == "sandbox":
        if not settings.sandbox_notify_url:
            # Workers read the settings again: the environment carries it to them. The
            # sandbox posts to itself, so a wildcard address becomes loopback.
            own = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
            os.environ["PAYLINK_SANDBOX_NOTIFY_URL"] = f"http://{own}:{args.port}/mit/notificacion"
        if workers > 1:
            print("Aviso: con el sandbox se usa un solo proceso (sus ligas viven en memoria).",
                  file=sys.stderr)
            workers = 1
        print(f"Sandbox de MIT en {base}/ (generación: {base}/gen).", file=sys.stderr)
    print(f"Receptor de notificaciones en {base}/mit/notificacion (salud: {base}/salud), "
          f"{workers} proceso(s). Ctrl+C para salir.", file=sys.stderr)
    try:
        uvicorn.run(FACTORY, factory=True, host=args.host, port=args.port, workers=workers,
                    log_level="info", access_log=False)
    except OSError as exc:
        fail(f"No se pudo escuchar en {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0
