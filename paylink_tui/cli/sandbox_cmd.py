"""`paylink-tui sandbox [--host] [--port]`: the MIT emulator alone, under uvicorn."""

from __future__ import annotations

import argparse
import sys

SANDBOX_HOST = "127.0.0.1"
SANDBOX_PORT = 8765


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sandbox",
        help="el emulador local de MIT (generación de ligas y página de pago)",
        description=(
            "Sirve el emulador de MIT Web Pay Plus: POST /gen genera ligas con el protocolo "
            "real, /i/ID es la página de pago del cliente y cada pago se notifica a "
            "PAYLINK_SANDBOX_NOTIFY_URL."
        ),
    )
    parser.add_argument("--host", default=SANDBOX_HOST, help="dirección (127.0.0.1)")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT, help="puerto (8765)")
    parser.set_defaults(handler=run)
    return parser


def build_app(settings):  # noqa: ANN001, ANN201 - Settings/Starlette, imported lazily
    from paylink_tui.web.app import sandbox_app_from_settings

    return sandbox_app_from_settings(settings)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from paylink_tui.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    app = build_app(settings)
    print(
        f"Sandbox de MIT en http://{args.host}:{args.port}/ "
        f"(generación: http://{args.host}:{args.port}/gen). Ctrl+C para salir.",
        file=sys.stderr,
    )
    if not settings.sandbox_notify_url:
        print("Aviso: sin PAYLINK_SANDBOX_NOTIFY_URL, los pagos no se notifican.", file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    except (OSError, SystemExit):  # uvicorn exits when it cannot bind
        print(
            f"No se pudo iniciar el sandbox en {args.host}:{args.port} "
            "(¿el puerto ya está en uso o la dirección no es de esta máquina?).",
            file=sys.stderr,
        )
        return 1
    return 0
