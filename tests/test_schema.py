from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import paylink_tui.store.db as db


def test_head_revision_constant_matches_the_alembic_scripts():
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    assert ScriptDirectory.from_config(cfg).get_current_head() == db.HEAD_REVISION


def test_migrations_create_every_table(engine):
    names = set(inspect(engine).get_table_names())
    assert {"client", "policy", "receipt", "payment_link", "link_receipt", "notification",
            "payment_attempt", "email_message", "audit_event", "import_batch"} <= names
    assert db.current_revision(engine) == db.HEAD_REVISION


def test_sqlite_database_is_brought_up_to_date_on_open(tmp_path):
    url = f"sqlite:///{(tmp_path / 'new.db').as_posix()}"
    engine = db.open_database(url)
    assert db.current_revision(engine) == db.HEAD_REVISION


def test_outdated_postgres_schema_stops_with_a_message(pg_url):
    import pytest
    from sqlalchemy import text

    engine = db.make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(db.SchemaError, match="paylink-tui db upgrade"):
        db.ensure_schema(engine)
    engine.dispose()


def test_opening_an_up_to_date_database_does_not_load_alembic(tmp_path):
    """Alembic takes a tenth of a second to import: only a file that needs upgrading pays."""
    import subprocess
    import sys

    from paylink_tui.store.db import open_database

    url = f"sqlite:///{(tmp_path / 'x.db').as_posix()}"
    open_database(url).dispose()  # created and upgraded here
    code = ("import sys; from paylink_tui.store.db import open_database; "
            f"open_database({url!r}).dispose(); print('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
