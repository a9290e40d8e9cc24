"""Money in the database: exact on both engines, whole cents in INTEGERs on SQLite."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import StatementError

import paylink_tui.store.db as db
from paylink_tui.backend.first_page import first_page
from paylink_tui.config import Settings
from paylink_tui.services.context import AppContext
from paylink_tui.services.receipts import pending_page, pending_totals
from paylink_tui.store.bulk import executemany
from paylink_tui.store.db import make_engine, read_session, write_session
from paylink_tui.store.models import Client, LinkReceipt, Notification, PaymentLink, Policy, Receipt
from paylink_tui.store.types import Money, sum_in_cents
from tests.helpers import migrate

NOW = datetime(2021, 10, 7, 21, 4, 56, tzinfo=timezone.utc)
AWKWARD = ["0.01", "0.07", "0.10", "5906.07", "1234567.89", "9999999999.99", "100.00", "0.00"]


def _policy(conn) -> int:
    executemany(conn, insert(Client.__table__), [
        {"id": 1, "first_name": "Rosa", "last_name": "Peña", "second_last_name": "",
         "email": None, "phone": None}])
    executemany(conn, insert(Policy.__table__), [
        {"id": 1, "number": "AU1", "ramo": "Autos", "client_id": 1}])
    return 1


def _receipt(number: str, amount: Decimal, currency: str = "MXN") -> dict:
    return {"number": number, "policy_id": 1, "policy_number": "AU1", "amount": amount,
            "currency": currency, "due_date": date(2021, 10, 15), "status": "pending",
            "search_text": f"au1 {number.lower()}", "created_at": NOW, "updated_at": NOW}


def _raw_amounts(engine, table: str = "receipt", key: str = "number") -> dict:
    """What the database itself holds: (SQLite type, value) or PostgreSQL's text."""
    sql = (f"SELECT {key}, typeof(amount), amount FROM {table}" if db.is_sqlite(engine)
           else f"SELECT {key}, pg_typeof(amount)::text, amount::text FROM {table}")
    with engine.connect() as conn:
        return {k: (t, v) for k, t, v in conn.execute(text(sql))}


def test_awkward_amounts_come_back_as_the_same_decimals(engine):
    amounts = [Decimal(a) for a in AWKWARD]
    with write_session(engine) as session:
        conn = session.connection()
        _policy(conn)
        executemany(conn, insert(Receipt.__table__),  # the import's path
                    [_receipt(f"B{i}", a) for i, a in enumerate(amounts)])
        for i, a in enumerate(amounts):  # the ORM's path
            session.add(Receipt(**_receipt(f"O{i}", a)))

    with read_session(engine) as session:
        orm = {r.number: r.amount for r in session.scalars(select(Receipt))}
    with engine.connect() as conn:
        core = dict(conn.execute(select(Receipt.number, Receipt.amount)).all())
    for i, a in enumerate(amounts):
        for got in (orm[f"B{i}"], orm[f"O{i}"], core[f"B{i}"], core[f"O{i}"]):
            assert got == a and str(got) == str(a)  # two places, as written: "0.10", "100.00"

    raw = _raw_amounts(engine)
    for i, a in enumerate(amounts):
        if db.is_sqlite(engine):
            assert raw[f"B{i}"] == raw[f"O{i}"] == ("integer", int(a * 100))
        else:
            assert raw[f"B{i}"] == raw[f"O{i}"] == ("numeric", str(a))


def test_sqlite_keeps_every_money_column_as_integer_cents(sqlite_engine):
    with write_session(sqlite_engine) as session:
        _policy(session.connection())
        session.add(Receipt(**_receipt("R1", Decimal("5906.07"))))
        link = PaymentLink(reference="REF1", policy_id=1, amount=Decimal("5906.07"), currency="MXN",
                           email="a@example.com", agent="ana", state="active", created_at=NOW,
                           last_valid_day=date(2021, 10, 10), expires_at=NOW, hidden_until=NOW,
                           updated_at=NOW)
        session.add(link)
        session.flush()
        session.add(LinkReceipt(link_id=link.id, receipt_id=1, amount=Decimal("5906.07")))
        session.add(Notification(folio="F1", reference="REF1", amount=Decimal("5906.07"),
                                 raw_xml="<r/>", received_at=NOW))
        session.add(Notification(folio="F2", reference="REF1", amount=None, raw_xml="<r/>",
                                 received_at=NOW))
    with sqlite_engine.connect() as conn:
        stored = {table: conn.execute(text(f"SELECT typeof(amount), amount FROM {table}")).all()
                  for table in ("receipt", "payment_link", "link_receipt", "notification")}
    assert stored == {
        "receipt": [("integer", 590607)],
        "payment_link": [("integer", 590607)],
        "link_receipt": [("integer", 590607)],
        "notification": [("integer", 590607), ("null", None)],
    }


@pytest.mark.parametrize("amount", ["0.001", "1.005", "75.175", "9999999999.999"])
def test_an_amount_with_more_than_two_decimals_is_refused_not_rounded(engine, amount):
    with write_session(engine) as session:
        _policy(session.connection())

    with pytest.raises(StatementError) as orm_error, write_session(engine) as session:
        session.add(Receipt(**_receipt("R1", Decimal(amount))))
    assert isinstance(orm_error.value.orig, ValueError)
    assert "more than two decimal places" in str(orm_error.value.orig)

    with pytest.raises(ValueError, match="more than two decimal places"), \
            write_session(engine) as session:
        executemany(session.connection(), insert(Receipt.__table__), [_receipt("R2", Decimal(amount))])

    with pytest.raises(StatementError), engine.connect() as conn:  # a comparison too
        conn.execute(select(Receipt.number).where(Receipt.amount == Decimal(amount))).all()

    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Receipt)).scalar_one() == 0


def test_amounts_that_do_not_fit_or_are_not_decimals_are_refused(engine):
    with write_session(engine) as session:
        _policy(session.connection())
    for bad, error in [(Decimal("10000000000.00"), ValueError), (Decimal("NaN"), ValueError),
                       (10_000_000_000, ValueError), (75.17, TypeError), ("75.17", TypeError)]:
        with pytest.raises(StatementError) as caught, write_session(engine) as session:
            session.add(Receipt(**_receipt("R1", bad)))
        assert isinstance(caught.value.orig, error), bad
    # Trailing zeros lose nothing, and whole pesos may be ints.
    with write_session(engine) as session:
        session.add(Receipt(**_receipt("R1", Decimal("75.170"))))
        session.add(Receipt(**_receipt("R2", 75)))
    with engine.connect() as conn:
        got = dict(conn.execute(select(Receipt.number, Receipt.amount)).all())
    assert {k: str(v) for k, v in got.items()} == {"R1": "75.17", "R2": "75.00"}


def test_sums_over_thousands_of_amounts_are_exact(engine, clock):
    # 20,000 amounts of ten billion pesos: past 1e14 a binary float cannot even hold cents.
    big = [Decimal("9999999999.99") - Decimal(i * 37 % 100_000) / 100 for i in range(20_000)]
    big.append(Decimal("0.01"))
    small = [Decimal("0.07")] * 10_000
    with write_session(engine) as session:
        conn = session.connection()
        _policy(conn)
        executemany(conn, insert(Receipt.__table__),
                    [_receipt(f"M{i}", a, "MXN") for i, a in enumerate(big)]
                    + [_receipt(f"U{i}", a, "USD") for i, a in enumerate(small)])
    expected = {"MXN": sum(big), "USD": Decimal("700.00")}
    # Decimal adds exactly: the reference. Its cents are beyond a double at this size.
    assert expected["MXN"] > Decimal("1E14") and expected["MXN"] % 1 == Decimal("0.01")

    r = Receipt.__table__.c
    with engine.connect() as conn:
        summed = dict(conn.execute(select(r.currency, func.sum(r.amount)).group_by(r.currency)).all())
        cents = dict(conn.execute(select(r.currency, sum_in_cents(r.amount)).group_by(r.currency)).all())
    assert summed == expected and all(v.as_tuple().exponent == -2 for v in summed.values())
    assert {c: Decimal(v) / 100 for c, v in cents.items()} == expected
    ctx = AppContext(settings=Settings(database_url="sqlite:///unused.db"), engine=engine, clock=clock)
    totals = pending_totals(ctx)
    assert totals.count == 30_001 and totals.amounts == expected


def test_money_in_sql_expressions_means_money(engine):
    with write_session(engine) as session:
        conn = session.connection()
        _policy(conn)
        executemany(conn, insert(Receipt.__table__),
                    [_receipt(f"R{i}", Decimal(a)) for i, a in enumerate(["0.10", "5906.07", "100.00"])])
    r = Receipt.__table__.c
    with engine.connect() as conn:
        assert conn.execute(select(r.number).where(r.amount > Decimal("100.00"))).scalars().all() == ["R1"]
        assert conn.execute(select(r.number).where(r.amount == Decimal("0.1"))).scalars().all() == ["R0"]
        assert conn.execute(select(r.number).order_by(r.amount.desc())).scalars().all() == ["R1", "R2", "R0"]
        tripled = conn.execute(select(r.amount * 3, r.amount + Decimal("0.01"))
                               .where(r.number == "R1")).one()
    assert tuple(map(str, tripled)) == ("17718.21", "5906.08")
    # No exact meaning in whole cents: SQLite divides integers by truncating.
    for expr in (lambda: r.amount / 2, lambda: r.amount * Decimal("1.5"), lambda: r.amount % 7):
        with pytest.raises(TypeError, match="multiplied by an int"):
            expr()


# ------------------------------------------------------------------ migration 0002

OLD_AMOUNTS = {"R1": 5906.07, "R2": 0.01, "R3": 0.10, "R4": 1234567.89, "R5": 9999999999.99,
               "R6": 100.0, "R7": 75.17}


def _write_as_version_0001_did(conn) -> None:
    """Rows as the code of revision 0001 wrote them: each Decimal bound as a Python float."""
    sql = conn.exec_driver_sql
    sql("INSERT INTO client (id, first_name, last_name, second_last_name) VALUES (1, 'Rosa', 'Peña', '')")
    sql("INSERT INTO policy (id, number, ramo, client_id) VALUES (1, 'AU1', 'Autos', 1)")
    for i, (number, amount) in enumerate(OLD_AMOUNTS.items(), start=1):
        sql("INSERT INTO receipt (id, number, policy_id, policy_number, amount, currency, due_date, "
            "status, search_text, created_at, updated_at) VALUES (?, ?, 1, 'AU1', ?, 'MXN', "
            "'2021-10-15', 'pending', ?, '2021-10-01 00:00:00.000000', '2021-10-01 00:00:00.000000')",
            (i, number, amount, f"au1 {number.lower()}"))
    sql("INSERT INTO payment_link (id, reference, policy_id, amount, currency, email, agent, state, "
        "created_at, last_valid_day, expires_at, hidden_until, updated_at) VALUES (1, 'REF1', 1, ?, "
        "'MXN', 'a@example.com', 'ana', 'active', '2021-10-07 21:04:56.000000', '2021-10-10', "
        "'2021-10-11 05:00:00.000000', '2021-10-12 05:00:00.000000', '2021-10-07 21:04:56.000000')",
        (5906.07 + 0.01,))
    sql("INSERT INTO link_receipt (link_id, receipt_id, amount) VALUES (1, 1, ?), (1, 2, ?)",
        (5906.07, 0.01))
    for folio, amount in (("F1", 5906.08), ("F2", None)):
        sql("INSERT INTO notification (folio, reference, amount, raw_xml, received_at, status) "
            "VALUES (?, 'REF1', ?, '<r/>', '2021-10-08 00:00:00.000000', 'review')", (folio, amount))


def _money_columns() -> set[tuple[str, str]]:
    return {(t.name, c.name) for t in Receipt.metadata.sorted_tables for c in t.columns
            if isinstance(c.type, Money)}


def test_migration_0002_turns_sqlite_floats_into_exact_cents(tmp_path, clock):
    url = f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    engine = make_engine(url)
    migrate(engine, "upgrade", "0001")
    with engine.begin() as conn:
        _write_as_version_0001_did(conn)
        before = conn.exec_driver_sql("SELECT typeof(amount) FROM receipt").scalars().all()
    assert "real" in before  # what the old code left behind
    engine.dispose()
    # This test writes every money column 0002 converts; payment_link.paid_amount comes with
    # 0007, after the conversion, copied from `amount` (cents already): tests/test_schema.py.
    assert _money_columns() == {("receipt", "amount"), ("payment_link", "amount"),
                                ("link_receipt", "amount"), ("notification", "amount"),
                                ("payment_link", "paid_amount")}

    engine = db.open_database(url)  # the app's start: SQLite is upgraded on open
    assert db.current_revision(engine) == db.HEAD_REVISION

    raw = _raw_amounts(engine)
    assert raw == {n: ("integer", round(a * 100)) for n, a in OLD_AMOUNTS.items()}
    assert _raw_amounts(engine, "link_receipt", "receipt_id") == {1: ("integer", 590607),
                                                                   2: ("integer", 1)}
    assert _raw_amounts(engine, "notification", "folio") == {"F1": ("integer", 590608),
                                                             "F2": ("null", None)}
    with read_session(engine) as session:
        receipts = {r.number: r.amount for r in session.scalars(select(Receipt))}
        link = session.scalars(select(PaymentLink)).one()
        notes = {n.folio: n.amount for n in session.scalars(select(Notification))}
    assert {n: str(a) for n, a in receipts.items()} == {
        "R1": "5906.07", "R2": "0.01", "R3": "0.10", "R4": "1234567.89", "R5": "9999999999.99",
        "R6": "100.00", "R7": "75.17"}
    assert link.amount == Decimal("5906.08") and notes == {"F1": Decimal("5906.08"), "F2": None}

    # The TUI's first frame (sqlite3 alone) reads the same amounts as the services.
    ctx = AppContext(settings=Settings(database_url=url), engine=engine, clock=clock)
    quick = first_page(Path(engine.url.database), clock(), 10)
    assert quick is not None
    assert [(q.receipt, q.amount) for q in quick] == [(p.receipt, p.amount) for p in pending_page(ctx).rows]
    assert pending_totals(ctx).amounts == {"MXN": sum(receipts.values())}

    # Down and up again: the same cents.
    migrate(engine, "downgrade", "0001")
    assert first_page(Path(engine.url.database), clock(), 10) is None  # an older schema
    migrate(engine, "upgrade", "head")
    assert _raw_amounts(engine) == raw
    engine.dispose()


def test_migration_0002_leaves_postgresql_numeric_alone(pg_url):
    engine = make_engine(pg_url)
    assert db.current_revision(engine) == db.HEAD_REVISION
    with write_session(engine) as session:
        _policy(session.connection())
        session.add(Receipt(**_receipt("R1", Decimal("5906.07"))))
        session.add(Receipt(**_receipt("R2", Decimal("9999999999.99"))))
    before = _raw_amounts(engine)
    migrate(engine, "downgrade", "0001")
    assert _raw_amounts(engine) == before
    migrate(engine, "upgrade", "head")
    assert db.current_revision(engine) == db.HEAD_REVISION
    assert _raw_amounts(engine) == before == {"R1": ("numeric", "5906.07"),
                                              "R2": ("numeric", "9999999999.99")}
    engine.dispose()


def test_the_cli_says_an_old_sqlite_file_is_being_upgraded(tmp_path):
    """A million receipts take seconds to convert: the agent is told, not left with a silent
    terminal. The command then works on the upgraded file."""
    import os
    import subprocess
    import sys

    url = f"sqlite:///{(tmp_path / 'old.db').as_posix()}"
    engine = make_engine(url)
    migrate(engine, "upgrade", "0001")
    with engine.begin() as conn:
        _write_as_version_0001_did(conn)
    engine.dispose()
    env = {**os.environ, "PAYLINK_DATABASE_URL": url}
    out = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", "--format", "csv"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"Actualizando la base de datos (versión 0001 → {db.HEAD_REVISION})" in out.stderr
    assert "5906.07" in out.stdout
    again = subprocess.run([sys.executable, "-m", "paylink_tui", "pending", "--format", "csv"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and "Actualizando" not in again.stderr
