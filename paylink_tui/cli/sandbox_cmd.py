"""`paylink-tui sandbox [--host] [--port]`: the MIT emulator alone, under uvicorn."""

from __future__ import annotations

import argparse
import sys

from paylink_tui.gateway import sandbox_defaults as sd


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
    parser.add_argument("--host", default=sd.SANDBOX_HOST, help="dirección (127.0.0.1)")
    parser.add_argument("--port", type=int, default=sd.SANDBOX_PORT, help="puerto (8765)")
    parser.set_defaults(handler=run)
    return parser


def build_app(settings):  # noqa: ANN001, ANN201 - Settings/Starlette, imported lazily
    from paylink_tui.gateway.sandbox import create_sandbox_app

    return create_sandbox_app(
        key=settings.mit_key.get_secret_value() if settings.mit_key else sd.SANDBOX_KEY,
        data0=settings.mit_data0 or sd.SANDBOX_DATA0,
        id_company=settings.mit_id_company or sd.SANDBOX_ID_COMPANY,
        id_branch=settings.mit_id_branch or sd.SANDBOX_ID_BRANCH,
        users=(settings.mit_user,) if settings.mit_user else sd.SANDBOX_USERS,
        password=(
            settings.mit_password.get_secret_value() if settings.mit_password
            else sd.SANDBOX_PASSWORD
        ),
        company=settings.company,
        timezone=settings.timezone,
        notify_url=settings.sandbox_notify_url,
    )


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
