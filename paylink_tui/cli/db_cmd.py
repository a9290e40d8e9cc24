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
    from sqlalchemy.exc import SQLAlchemyError

    from paylink_tui.store.db import REVISIONS, current_revision, make_engine, newer_schema_message, upgrade

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        if before is not None and before not in REVISIONS:
            fail(newer_schema_message(before))
        upgrade(engine)
        after = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        fail(f"No se pudo actualizar la base de datos: {reason}")
    finally:
        engine.dispose()
    if before == after:
        print(f"El esquema ya estaba al día (versión {after}).")
    else:
        print(f"Esquema actualizado: versión {before or 'ninguna'} → {after}.")
    return 0
