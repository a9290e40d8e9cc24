"""The import use case over a real database (SQLite and PostgreSQL): upsert, --full, links."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from paylink_tui.demo.data import generate_rows
from paylink_tui.domain.text import full_name, search_text
from paylink_tui.services.importing import import_receipts, import_rows
from paylink_tui.store.db import write_session
from paylink_tui.store.models import (
    AuditEvent,
    Client,
    ImportBatch,
    LinkReceipt,
    PaymentLink,
    Policy,
    Receipt,
)

NOW = datetime(2021, 10, 7, 21, 4, 56, tzinfo=timezone.utc)
HEADER = ("poliza,recibo,ramo,nombre,apellido_paterno,apellido_materno,email,telefono,"
          "monto,moneda,vencimiento")


def csv_file(tmp_path: Path, rows: list[str], name: str = "pendientes.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def row(policy: str, receipt: str, amount: str = "75.17", *, first: str = "José",
        last: str = "Peña", second: str = "Muñoz", email: str = "jose@example.com",
        due: str = "15/10/2021", currency: str = "MXN", ramo: str = "Autos") -> str:
    return f'{policy},{receipt},{ramo},{first},{last},{second},{email},,"{amount}",{currency},{due}'


def run(engine, path: Path, **kwargs):
    kwargs.setdefault("agent", "ana")
    kwargs.setdefault("now", NOW)
    return import_receipts(engine, path, **kwargs)


def receipts(engine) -> dict[str, Receipt]:
    with Session(engine) as s:
        return {r.number: r for r in s.exec(select(Receipt)).scalars()}


def snapshot(engine) -> list[tuple]:
    with Session(engine) as s:
        out = []
        for model in (Client, Policy, Receipt):
            out.append(sorted(tuple(r) for r in s.execute(select(model.__table__)).all()))
        return out


def add_link(engine, receipt_numbers: list[str], *, state: str, created: datetime = NOW,
             reference: str = "100633640472806") -> None:
    with write_session(engine) as s:
        recs = [s.exec(select(Receipt).where(Receipt.number == n)).scalars().one()
                for n in receipt_numbers]
        link = PaymentLink(
            reference=reference, policy_id=recs[0].policy_id,
            amount=sum((r.amount for r in recs), Decimal("0")), currency=recs[0].currency,
            email="jose@example.com", agent="ana", state=state, created_at=created,
            last_valid_day=date(2021, 10, 10),
            expires_at=created + timedelta(days=3), hidden_until=created + timedelta(days=4),
            updated_at=created,
        )
        s.add(link)
        s.flush()
        for r in recs:
            s.add(LinkReceipt(link_id=link.id, receipt_id=r.id, amount=r.amount))
            r.hidden_until = link.hidden_until
            s.add(r)


def test_first_import_creates_policies_clients_and_receipts(engine, tmp_path):
    path = csv_file(tmp_path, [
        row("AU1", "R1"), row("AU1", "R2", "1,234.56"),
        row("GM2", "R3", "310.00", first="[bold]Rosa[/bold]", last="Ibáñez", second="",
            email="", currency="USD", ramo="GMM"),
    ])
    report = run(engine, path)
    assert (report.added, report.updated, report.unchanged, report.rejected) == (3, 0, 0, 0)
    assert report.policies_added == 2 and report.exit_code == 0

    got = receipts(engine)
    assert got["R2"].amount == Decimal("1234.56") and got["R2"].currency == "MXN"
    assert got["R3"].currency == "USD" and got["R3"].status == "pending"
    assert got["R1"].due_date == date(2021, 10, 15) and got["R1"].policy_number == "AU1"
    # The denormalised search text is the store's definition.
    assert got["R1"].search_text == search_text("AU1", "R1", full_name('José', 'Peña', 'Muñoz'))
    assert got["R3"].search_text == "gm2 r3 bold rosa bold ibanez"
    with Session(engine) as s:
        rosa = s.execute(select(Client).join(Policy).where(Policy.number == "GM2")).scalars().one()
        assert (rosa.first_name, rosa.second_last_name, rosa.email) == ("[bold]Rosa[/bold]", "", None)
        assert got["R1"].policy_id != got["R3"].policy_id


def test_reimporting_the_same_file_changes_nothing(engine, tmp_path):
    path = csv_file(tmp_path, [row("AU1", "R1"), row("AU1", "R2"), row("VI3", "R3")])
    run(engine, path)
    before = snapshot(engine)
    report = run(engine, path, now=NOW + timedelta(days=1))
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    assert report.clients_updated == 0 and report.exit_code == 0
    assert snapshot(engine) == before


def test_newer_file_updates_amounts_dates_holder_and_adds_receipts(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1"), row("AU1", "R2"), row("VI3", "R3")]))
    newer = csv_file(tmp_path, [
        row("AU1", "R1", "80.00", due="20/10/2021", first="José Luis", email="jl@example.com"),
        row("AU1", "R4", "99.99", first="José Luis", email="jl@example.com"),
        row("VI3", "R3"),
    ], name="nuevo.csv")
    later = NOW + timedelta(days=1)
    report = run(engine, newer, now=later)
    assert (report.added, report.updated, report.unchanged) == (1, 1, 1)

    got = receipts(engine)
    assert got["R1"].amount == Decimal("80.00") and got["R1"].due_date == date(2021, 10, 20)
    assert got["R1"].updated_at == later and got["R3"].updated_at == NOW
    assert got["R2"].status == "pending"  # not --full: absent receipts stay as they are
    # The holder's new name is searchable on every receipt of the policy, even R2.
    assert got["R2"].search_text == search_text("AU1 R2 José Luis Peña Muñoz")
    with Session(engine) as s:
        client = s.execute(select(Client).join(Policy).where(Policy.number == "AU1")).scalars().one()
        assert (client.first_name, client.email) == ("José Luis", "jl@example.com")


def test_empty_email_in_a_newer_file_keeps_the_known_one(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1")]))
    run(engine, csv_file(tmp_path, [row("AU1", "R1", email="")], name="b.csv"))
    with Session(engine) as s:
        assert s.execute(select(Client.email)).scalar_one() == "jose@example.com"


def test_same_name_on_two_policies_is_two_clients(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1"), row("AU2", "R2")]))
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(Client)).scalar_one() == 2
        assert s.execute(select(func.count(func.distinct(Policy.client_id)))).scalar_one() == 2


def test_rejected_rows_are_listed_and_the_valid_ones_imported(engine, tmp_path):
    path = csv_file(tmp_path, [row("AU1", "R1"), row("AU1", "R2", "-5"), row("AU1", "R1")])
    report = run(engine, path)
    assert report.added == 1 and report.rejected == 2 and report.exit_code == 1
    assert [str(e) for e in report.errors] == [
        "línea 3, columna monto, valor «-5»: el monto no puede ser negativo",
        "línea 4, columna recibo, valor «R1»: el recibo ya aparece en la línea 2",
    ]
    assert set(receipts(engine)) == {"R1"}


def test_receipt_registered_under_another_policy_is_rejected(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1")]))
    report = run(engine, csv_file(tmp_path, [row("AU9", "R1", "90.00")], name="b.csv"))
    assert report.exit_code == 1
    assert "ya está registrado en la póliza AU1" in str(report.errors[0])
    assert receipts(engine)["R1"].amount == Decimal("75.17")
    with Session(engine) as s:  # and no empty policy AU9 was left behind
        assert s.execute(select(Policy.number)).scalars().all() == ["AU1"]


def test_import_writes_an_audit_event_and_a_batch(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1"), row("AU1", "R2", "x")]))
    with Session(engine) as s:
        event = s.exec(select(AuditEvent)).scalars().one()
        batch = s.exec(select(ImportBatch)).scalars().one()
    assert (event.agent, event.action, event.subject) == ("ana", "import", "pendientes.csv")
    assert '"added": 1' in event.detail and '"rejected": 1' in event.detail
    assert (batch.rows, batch.added, batch.rejected, batch.full) == (2, 1, 1, False)


# ---------------------------------------------------------------- amounts under links


@pytest.mark.parametrize("state", ["active", "creating", "unconfirmed"])
def test_amount_change_under_a_live_link_is_refused_and_reported(engine, tmp_path, state):
    run(engine, csv_file(tmp_path, [row("AU1", "R1"), row("AU1", "R2")]))
    add_link(engine, ["R1"], state=state)
    newer = csv_file(tmp_path, [row("AU1", "R1", "80.00", due="20/10/2021"),
                                row("AU1", "R2", "81.00")], name="b.csv")
    report = run(engine, newer, now=NOW + timedelta(days=1))
    assert report.exit_code == 1 and report.rejected == 0
    [refused] = report.refused_changes
    assert (refused.line, refused.receipt) == (2, "R1")
    assert str(refused) == ("línea 2, recibo R1: el monto no se cambió de 75.17 MXN a 80.00 MXN "
                            "porque tiene la liga activa 100633640472806")
    got = receipts(engine)
    assert got["R1"].amount == Decimal("75.17")
    assert got["R1"].due_date == date(2021, 10, 20)  # the rest of the row still applies
    assert got["R2"].amount == Decimal("81.00")


def test_amount_change_under_a_paid_link_is_refused(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1")]))
    add_link(engine, ["R1"], state="paid")
    report = run(engine, csv_file(tmp_path, [row("AU1", "R1", "80.00")], name="b.csv"))
    assert "ya se pagó" in str(report.refused_changes[0])
    assert receipts(engine)["R1"].amount == Decimal("75.17")


def test_amount_change_after_the_link_lapsed_is_applied(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1")]))
    add_link(engine, ["R1"], state="active")
    report = run(engine, csv_file(tmp_path, [row("AU1", "R1", "80.00")], name="b.csv"),
                 now=NOW + timedelta(days=6))
    assert report.refused_changes == [] and report.updated == 1
    assert receipts(engine)["R1"].amount == Decimal("80.00")


def test_paid_receipt_is_left_as_paid(engine, tmp_path):
    run(engine, csv_file(tmp_path, [row("AU1", "R1")]))
    with write_session(engine) as s:
        rec = s.exec(select(Receipt)).scalars().one()
        rec.status = "paid"
        s.add(rec)
    report = run(engine, csv_file(tmp_path, [row("AU1", "R1", due="01/11/2021")], name="b.csv"))
    assert report.unchanged == 1 and report.exit_code == 0
    assert receipts(engine)["R1"].status == "paid"


# ---------------------------------------------------------------- --full


def many(n: int, skip: set[int] = frozenset()) -> list[str]:
    return [row(f"P{i}", f"R{i}") for i in range(n) if i not in skip]


def test_full_import_settles_missing_pending_receipts(engine, tmp_path):
    run(engine, csv_file(tmp_path, many(20)))
    report = run(engine, csv_file(tmp_path, many(20, skip={3, 7}), name="b.csv"), full=True)
    assert report.settled_elsewhere == 2 and report.exit_code == 0
    got = receipts(engine)
    assert {n for n, r in got.items() if r.status == "settled_elsewhere"} == {"R3", "R7"}
    # Back in a later list: pending again.
    report = run(engine, csv_file(tmp_path, many(20), name="c.csv"), full=True)
    assert report.updated == 2 and report.settled_elsewhere == 0
    assert all(r.status == "pending" for r in receipts(engine).values())


def test_full_import_over_ten_percent_needs_yes_and_writes_nothing_without_it(engine, tmp_path):
    run(engine, csv_file(tmp_path, many(20)))
    before = snapshot(engine)
    partial = csv_file(tmp_path, many(20, skip={1, 2, 3}) + [row("NEW", "RNEW")], name="b.csv")
    report = run(engine, partial, full=True)
    assert report.needs_confirmation and report.would_settle == 3 and report.exit_code == 2
    assert report.added == 0 and report.settled_elsewhere == 0
    assert snapshot(engine) == before

    report = run(engine, partial, full=True, yes=True)
    assert report.settled_elsewhere == 3 and report.added == 1 and report.exit_code == 0


def test_full_import_with_a_rejected_row_settles_nothing(engine, tmp_path):
    run(engine, csv_file(tmp_path, many(20)))
    rows = many(20, skip={5}) + [row("P99", "R99", "-1")]
    report = run(engine, csv_file(tmp_path, rows, name="b.csv"), full=True, yes=True)
    assert report.settle_blocked_by_errors and report.settled_elsewhere == 0
    assert report.exit_code == 1
    assert receipts(engine)["R5"].status == "pending"


def test_full_import_does_not_settle_a_receipt_that_was_rejected(engine, tmp_path):
    # The rejected row names R5: R5 is not missing, even though its row was bad.
    run(engine, csv_file(tmp_path, many(20)))
    rows = many(20, skip={5}) + [row("P5", "R5", "abc")]
    report = run(engine, csv_file(tmp_path, rows, name="b.csv"), full=True)
    assert report.settled_elsewhere == 0 and receipts(engine)["R5"].status == "pending"


def test_full_import_keeps_receipts_under_a_live_link_and_paid_ones(engine, tmp_path):
    run(engine, csv_file(tmp_path, many(20)))
    add_link(engine, ["R1"], state="active")
    with write_session(engine) as s:
        rec = s.exec(select(Receipt).where(Receipt.number == "R2")).scalars().one()
        rec.status = "paid"
        s.add(rec)
    report = run(engine, csv_file(tmp_path, many(20, skip={1, 2, 3}), name="b.csv"), full=True)
    assert report.settled_elsewhere == 1 and report.kept_with_live_link == 1
    got = receipts(engine)
    assert (got["R1"].status, got["R2"].status, got["R3"].status) == (
        "pending", "paid", "settled_elsewhere")


# ---------------------------------------------------------------- demo rows


def test_demo_rows_import_and_reimport_idempotently(engine):
    rows = list(generate_rows(300, seed=3, today=date(2021, 10, 7)))
    first = import_rows(engine, rows, agent="demo", now=NOW)
    assert first.added == 300 and first.exit_code == 0
    again = import_rows(engine, rows, agent="demo", now=NOW)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 300)
    with Session(engine) as s:
        policies = s.execute(select(func.count()).select_from(Policy)).scalar_one()
    assert policies == len({r.policy for r in rows})


# ---------------------------------------------------------------- SQLite search index


def test_large_import_keeps_the_sqlite_search_index_whole(sqlite_engine, tmp_path):
    from sqlalchemy import text

    from paylink_tui.services.importing import FTS_BULK_MIN

    rows = list(generate_rows(FTS_BULK_MIN + 200, seed=5, today=date(2021, 10, 7)))
    import_rows(sqlite_engine, rows, agent="demo", now=NOW)  # bulk path
    run(sqlite_engine, csv_file(tmp_path, [row("ZZ1", "R-ZZ1", first="Ximena", last="Ñandú")]))

    with sqlite_engine.connect() as c:
        trigger = c.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                 "AND name = 'receipt_fts_ai'")).scalar_one()
        assert trigger == 1  # re-created after the bulk insert
        c.execute(text("INSERT INTO receipt_fts(receipt_fts) VALUES ('integrity-check')"))
        indexed = c.execute(text("SELECT count(*) FROM receipt_fts")).scalar_one()
        assert indexed == len(rows) + 1
        # Whole words, so the check holds for a trigram or a word tokenizer alike.
        for word in ("pena", "nandu", "4100000001"):
            fts = set(c.execute(text("SELECT rowid FROM receipt_fts WHERE receipt_fts MATCH :w"),
                                {"w": f'"{word}"'}).scalars())
            like = set(c.execute(text("SELECT id FROM receipt WHERE search_text LIKE :w"),
                                 {"w": f"%{word}%"}).scalars())
            assert fts == like and fts
