"""`paylink-tui db upgrade`: bring the database schema up to date (Alembic)."""

from __future__ import annotations

import argparse

from paylink_tui.cli.common import fail, settings_or_exit


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "db",
        help="mantenimiento de la base de datos (db upgrade)",
        description=(
            "Mantenimiento de la base de datos configurada (PAYLINK_DATABASE_URL).\n"
            "«db upgrade» crea o actualiza el esquema; es la única forma de actualizar una base "
            "PostgreSQL compartida (SQLite se actualiza sola al abrirse)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="acciones", metavar="ACCIÓN", dest="db_action")
    up = sub.add_parser("upgrade", help="crea o actualiza el esquema de la base de datos")
    up.set_defaults(handler=run_upgrade)
    parser.set_defaults(handler=lambda args: _usage(parser))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_upgrade(args: argparse.Namespace) -> int:
    from paylink_tui.backend.admin import upgrade_database
    from paylink_tui.domain.errors import AgentError

    settings = settings_or_exit()
    try:
        before, after = upgrade_database(settings)
    except AgentError as exc:
        fail(exc.message)
    if before == after:
        print(f"El esquema ya estaba al día (versión {after}).")
    else:
        print(f"Esquema actualizado: versión {before or 'ninguna'} → {after}.")
    return 0
