from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import paylink_tui.store.db as db


def test_head_revision_constant_matches_the_alembic_scripts():
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    scripts = ScriptDirectory.from_config(cfg)
    assert scripts.get_current_head() == db.HEAD_REVISION
    oldest_first = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(oldest_first) == db.REVISIONS


def test_a_schema_from_a_newer_build_is_refused_before_anything_is_said_or_done(engine, capsys):
    """SQLite and PostgreSQL alike: not "updating", not "out of date", but "update paylink-tui"."""
    import pytest
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    told: list[str] = []
    with pytest.raises(db.SchemaError, match="versión 0099 del esquema") as caught:
        db.ensure_schema(engine, told.append)
    assert told == []
    assert "desactualizado" not in str(caught.value)
    assert db.current_revision(engine) == "0099"


def test_db_upgrade_refuses_a_newer_schema_in_spanish(tmp_path):
    import os
    import subprocess
    import sys

    url = f"sqlite:///{(tmp_path / 'newer.db').as_posix()}"
    engine = db.open_database(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    engine.dispose()
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "db", "upgrade"], capture_output=True,
                         text=True, env={**os.environ, "PAYLINK_DATABASE_URL": url}, timeout=60)
    assert out.returncode != 0
    assert "versión 0099 del esquema" in out.stderr and "Traceback" not in out.stderr


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
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))  # a release behind
    with pytest.raises(db.SchemaError, match="desactualizado.*paylink-tui db upgrade"):
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


def test_migration_0007_records_what_was_charged_for_links_paid_before_it(engine):
    """A link paid before 0007 was charged its own amount: paid_amount is filled from it (the
    same representation on each engine), and 0007 goes down and up again."""
    from decimal import Decimal

    from sqlalchemy import select, text

    from paylink_tui.store.db import read_session
    from paylink_tui.store.models import PaymentLink
    from tests.helpers import migrate as _migrate

    _migrate(engine, "downgrade", "0006")
    with engine.begin() as conn:  # SQL of that schema: today's models have newer columns
        conn.execute(text("INSERT INTO client (first_name, last_name, second_last_name) "
                          "VALUES ('Rosa', 'Peña', '')"))
        conn.execute(text("INSERT INTO policy (number, ramo, client_id) "
                          "SELECT 'AU1', '', id FROM client"))
        policy_id = conn.execute(text("SELECT id FROM policy")).scalar_one()
        for ref, state, cents in (("PAID", "paid", 590608), ("LIVE", "active", 7517)):
            amount = cents if engine.dialect.name == "sqlite" else Decimal(cents) / 100
            conn.execute(text(
                "INSERT INTO payment_link (reference, policy_id, amount, currency, email, agent, "
                "state, created_at, last_valid_day, expires_at, hidden_until, updated_at) VALUES "
                "(:ref, :pid, :amount, 'MXN', 'a@example.com', 'ana', :state, :t, '2021-10-10', "
                ":t, :t, :t)"), {"ref": ref, "pid": policy_id, "amount": amount, "state": state,
                                 "t": "2021-10-07 21:04:56"})
    _migrate(engine, "upgrade", "head")
    with read_session(engine) as s:
        links = {x.reference: x for x in s.scalars(select(PaymentLink))}
    assert links["PAID"].paid_amount == Decimal("5906.08") == links["PAID"].amount
    assert links["LIVE"].paid_amount is None and links["LIVE"].reconciled_at is None
    _migrate(engine, "downgrade", "0006")
    _migrate(engine, "upgrade", "head")
    assert db.current_revision(engine) == db.HEAD_REVISION
