"""`paylink-tui serve [--host] [--port] [--workers] [--proxy-headers] [--equipo]
[--ssl-certfile --ssl-keyfile]`: the notification receiver under uvicorn (plus the sandbox
gateway when PAYLINK_GATEWAY=sandbox, and in team mode the agents' API: web/api/transport.py
says when and on what terms), with its limits (web/server.py) and, behind a trusted proxy,
the client's address from X-Forwarded-For."""

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
    parser.add_argument("--proxy-headers", action="store_true",
                        help="tomar la dirección del cliente de X-Forwarded-For (solo detrás de "
                             "un proxy de confianza; igual que PAYLINK_PROXY_HEADERS=1)")
    parser.add_argument("--forwarded-allow-ips", default=None, metavar="DIRECCIONES",
                        help="los proxies cuyo X-Forwarded-For se cree, separados por comas "
                             "(por omisión 127.0.0.1; igual que PAYLINK_FORWARDED_ALLOW_IPS)")
    parser.add_argument("--equipo", action="store_true",
                        help="modo equipo: también la API de los agentes en /api/v1/ (se activa "
                             "sola cuando la base tiene usuarios: paylink-tui users add)")
    parser.add_argument("--ssl-certfile", default=None, metavar="ARCHIVO",
                        help="certificado TLS (PEM) para servir HTTPS; con --ssl-keyfile")
    parser.add_argument("--ssl-keyfile", default=None, metavar="ARCHIVO",
                        help="llave privada del certificado TLS (PEM)")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from paylink_tui.domain.errors import AgentError
    from paylink_tui.web.app import preflight
    from paylink_tui.web.server import GuardedH11Protocol, uvicorn_limits

    if args.workers < 1:
        fail("--workers debe ser 1 o más.")
    # Workers read the settings again: the environment carries the flags to them.
    if args.proxy_headers:
        os.environ["PAYLINK_PROXY_HEADERS"] = "1"
    if args.forwarded_allow_ips is not None:
        os.environ["PAYLINK_FORWARDED_ALLOW_IPS"] = args.forwarded_allow_ips
    settings = settings_or_exit()
    try:
        # Once, before any worker starts: the schema, and the gateway's key (the receiver
        # needs it to read notifications).
        preflight(settings, notify=lambda message: print(message, file=sys.stderr))
    except AgentError as exc:
        fail(exc.message)
    from paylink_tui.web.api.transport import TEAM_ENV, has_users, transport_refusal

    try:
        team = args.equipo or has_users(settings)
    except Exception:  # noqa: BLE001 - preflight opened it: an older schema has no users
        team = args.equipo
    refusal = transport_refusal(host=args.host, team=team, certfile=args.ssl_certfile,
                                keyfile=args.ssl_keyfile, proxy_headers=settings.proxy_headers)
    if refusal:
        fail(refusal)
    if team:
        os.environ[TEAM_ENV] = "1"  # the workers build their app with the API
    tls = {"ssl_certfile": args.ssl_certfile, "ssl_keyfile": args.ssl_keyfile} \
        if args.ssl_certfile else {}
    workers = args.workers
    base = f"{'https' if tls else 'http'}://{args.host}:{args.port}"
    if settings.gateway == "sandbox":
        if not settings.sandbox_notify_url:
            # Workers read the settings again: the environment carries it to them. The
            # sandbox posts to itself, so a wildcard address becomes loopback.
            own = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host  # noqa: S104
            os.environ["PAYLINK_SANDBOX_NOTIFY_URL"] = f"http://{own}:{args.port}/mit/notificacion"
        own_host = args.host not in ("0.0.0.0", "::", "")  # noqa: S104
        if own_host and not settings.sandbox_hosts:
            os.environ["PAYLINK_SANDBOX_HOSTS"] = args.host  # its pages, at the address given
        if workers > 1:
            print("Aviso: con el sandbox se usa un solo proceso (sus ligas viven en memoria).",
                  file=sys.stderr)
            workers = 1
        print(f"Sandbox de MIT en {base}/ (generación: {base}/gen).", file=sys.stderr)
    print(f"Receptor de notificaciones en {base}/mit/notificacion (salud: {base}/salud), "
          f"{workers} proceso(s). Ctrl+C para salir.", file=sys.stderr)
    if settings.gateway == "mit" and not settings.mit_query_url:
        print("Aviso: sin PAYLINK_MIT_QUERY_URL, cada aprobación se aplica sin confirmarla con "
              "MIT: quien tenga la llave de MIT puede hacer pasar un pago falso por bueno.",
              file=sys.stderr)
    if team:
        print(f"Modo equipo: API de los agentes en {base}/api/v1/ (inicio de sesión: "
              f"{base}/api/v1/sesion).", file=sys.stderr)
    if settings.proxy_headers:
        print(f"Dirección del cliente: X-Forwarded-For de {settings.forwarded_allow_ips}.",
              file=sys.stderr)
    try:
        uvicorn.run(FACTORY, factory=True, host=args.host, port=args.port, workers=workers,
                    log_level="info", access_log=False, http=GuardedH11Protocol,
                    **tls, **uvicorn_limits(settings.serve_max_connections))
    except OSError as exc:
        fail(f"No se pudo escuchar en {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0
