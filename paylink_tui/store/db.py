"""Engines, sessions and the schema version.

SQLite: WAL, foreign keys, a busy timeout, and `write_session()` starts with
BEGIN IMMEDIATE so that two writers serialise instead of failing at commit.
PostgreSQL: psycopg 3; `write_session()` is a normal transaction and callers lock rows
with SELECT ... FOR UPDATE. No statement is prepared on the server (`prepare_threshold`
None): psycopg prepares a query after its fifth run, and PostgreSQL then may keep one
generic plan for it for the life of the pooled connection. A plan made while the tables were
small (the first import into an empty database) then stayed when they were large: the
import's lookup by policy number became a nested loop over every client, and each 25,000
rows of a first import took 6 s at the start and 46 s at 175,000 receipts (8 s throughout
without it). Every query is planned for its own parameters, at the tables' present size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from paylink_tui.store.revision import HEAD_REVISION, REVISIONS


class SchemaError(Exception):
    """The database schema cannot be used as it is; the message is for the agent."""


def normalise_url(url: str) -> str:
    """`postgresql://…` -> the driver we ship (psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            _private_database_file(Path(parsed.database))
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, object] = {}
    if make_url(url).get_driver_name() == "psycopg":
        connect_args["prepare_threshold"] = None  # see the module's docstring
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args=connect_args)


def _private_database_file(path: Path) -> None:
    """The folder (0700 where we create it), and the file 0600 before SQLite opens it: its
    WAL and shared-memory files take the database file's mode (POSIX)."""
    from paylink_tui.paths import data_dir, private_dir, private_file

    private_dir(path.parent, tighten=path.parent == data_dir())
    private_file(path)
    for side in ("-wal", "-shm"):
        extra = path.with_name(path.name + side)
        if extra.exists():
            private_file(extra)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a notification answered 200 survives a power loss. With group commit in
        # `serve` it measured the same as NORMAL (bench/notifications.py).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Reads through a memory map, not a read() per page: a search at a million receipts
        # took half the time (bench/pending.py). 256 MiB of address space, not of memory.
        cur.execute("PRAGMA mmap_size=268435456")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get("paylink_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error.

    On SQLite the transaction takes the write lock at its start (BEGIN IMMEDIATE).
    """
    with Session(engine, expire_on_commit=False) as session:
        session.connection(execution_options={"paylink_write": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except Exception:
            return None
        return row[0] if row else None


def upgrade(engine: Engine) -> None:
    """Bring the schema up to date with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def newer_schema_message(rev: str | None) -> str:
    return (f"La base de datos está en la versión {rev} del esquema, que esta versión de "
            f"paylink-tui no conoce (conoce hasta la {HEAD_REVISION}). Actualice paylink-tui; "
            "la base de datos no se modificó.")


def ensure_schema(engine: Engine, notify: Callable[[str], None] | None = None) -> None:
    """SQLite is upgraded on start; an outdated PostgreSQL database stops with a message.

    `notify` hears, in Spanish, that an existing SQLite file is being upgraded: converting
    a million receipts takes seconds, and a silent start would look hung."""
    rev = current_revision(engine)
    if rev == HEAD_REVISION:
        return
    if rev is not None and rev not in REVISIONS:
        raise SchemaError(newer_schema_message(rev))
    if is_sqlite(engine):
        if rev is not None and notify is not None:
            notify(f"Actualizando la base de datos (versión {rev} → {HEAD_REVISION}); "
                   "puede tardar unos segundos…")
        upgrade(engine)  # imports Alembic: only a file that needs it pays the 0.1 s
        return
    if rev is None:
        raise SchemaError(
            "La base de datos PostgreSQL no tiene el esquema de paylink-tui. "
            "Ejecute «paylink-tui db upgrade» una vez para crearlo."
        )
    raise SchemaError(
        f"El esquema de la base de datos PostgreSQL está desactualizado (versión {rev}, "
        f"se requiere {HEAD_REVISION}). Ejecute «paylink-tui db upgrade»."
    )


def open_database(url: str, notify: Callable[[str], None] | None = None) -> Engine:
    engine = make_engine(url)
    ensure_schema(engine, notify)
    return engine
