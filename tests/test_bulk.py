"""store.bulk.executemany: the driver's executemany with SQLAlchemy's own conversions."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, insert, select, update

from paylink_tui.store.bulk import executemany
from paylink_tui.store.db import write_session
from paylink_tui.store.models import Client, Policy, Receipt

NOW = datetime(2026, 11, 27, 4, 30, tzinfo=timezone(timedelta(hours=-6)))


def _policy(conn) -> int:
    executemany(conn, insert(Client.__table__), [
        {"id": 1, "first_name": "[bold]Rosa[/bold]", "last_name": "Peña",
         "second_last_name": "", "email": None, "phone": None}])
    executemany(conn, insert(Policy.__table__), [
        {"id": 1, "number": "AU1", "ramo": "Autos", "client_id": 1}])
    return 1


def test_inserts_and_updates_convert_money_dates_and_instants_as_sqlalchemy_does(engine):
    receipts = Receipt.__table__
    with write_session(engine) as session:
        conn = session.connection()
        pid = _policy(conn)
        executemany(conn, insert(receipts), [
            {"number": f"R{i}", "policy_id": pid, "policy_number": "AU1",
             "amount": Decimal("1234.56") + i, "currency": "MXN", "due_date": date(2026, 2, 28),
             "status": "pending", "search_text": "au1", "created_at": NOW,
             "updated_at": NOW + timedelta(seconds=i)}
            for i in range(7)
        ], chunk=3)  # chunks of 3: the last one is short
        stmt = (update(receipts).where(receipts.c.number == bindparam("b_number"))
                .values(status="settled_elsewhere", amount=bindparam("b_amount")))
        executemany(conn, stmt, [{"b_number": "R1", "b_amount": Decimal("0.10")},
                                 {"b_number": "R2", "b_amount": Decimal("99999.99")}])
    with engine.connect() as conn:
        rows = {r.number: r for r in conn.execute(select(receipts))}
    assert len(rows) == 7
    assert rows["R0"].amount == Decimal("1234.56") and rows["R6"].amount == Decimal("1240.56")
    assert (rows["R1"].amount, rows["R1"].status) == (Decimal("0.10"), "settled_elsewhere")
    assert (rows["R2"].amount, rows["R2"].status) == (Decimal("99999.99"), "settled_elsewhere")
    assert rows["R3"].status == "pending"
    assert rows["R0"].due_date == date(2026, 2, 28)
    # Stored as UTC and read back as the same instant.
    assert rows["R0"].created_at == NOW and rows["R0"].created_at.tzinfo == timezone.utc
    assert rows["R6"].updated_at == NOW + timedelta(seconds=6)
    with engine.connect() as conn:
        client = conn.execute(select(Client.__table__)).one()
    assert client.first_name == "[bold]Rosa[/bold]" and client.last_name == "Peña"


def test_a_parameter_without_a_value_is_an_error_not_a_null(engine):
    with write_session(engine) as session, pytest.raises(KeyError, match="last"):
        executemany(session.connection(), insert(Client.__table__).values(
            first_name=bindparam("first"), last_name=bindparam("last")), [{"first": "Ana"}])


def test_no_rows_is_nothing_to_do(engine):
    with write_session(engine) as session:
        executemany(session.connection(), insert(Client.__table__), [])
