"""Migration 0005 on both engines: a link's offered plans and its payment's plan; links paid
before it get the plan from the notification that paid them; it can be undone."""

from __future__ import annotations

from sqlalchemy import inspect, text

from paylink_tui.store.db import current_revision
from tests.helpers import migrate


def _write_as_version_0004_did(conn) -> None:  # type: ignore[no-untyped-def]
    sql = lambda q, **p: conn.execute(text(q), p)  # noqa: E731
    sql("INSERT INTO client (id, first_name, last_name, second_last_name) VALUES (1, 'Rosa', 'Peña', '')")
    sql("INSERT INTO policy (id, number, ramo, client_id) VALUES (1, 'AU1', 'Autos', 1)")
    for i, (ref, state, folio) in enumerate((("MSI", "paid", "F6"), ("ONE", "paid", "FC"),
                                             ("OPEN", "active", None), ("ODD", "paid", "FX")),
                                            start=1):
        sql("INSERT INTO payment_link (id, reference, policy_id, amount, currency, email, agent, "
            "state, created_at, last_valid_day, expires_at, hidden_until, folio, updated_at) "
            "VALUES (:id, :ref, 1, 100000, 'MXN', 'a@example.com', 'ana', :state, "
            "'2021-10-07 21:04:56', '2021-10-10', '2021-10-11 05:00:00', '2021-10-12 05:00:00', "
            ":folio, '2021-10-07 21:04:56')", id=i, ref=ref, state=state, folio=folio)
    for folio, ref, link_id, response, promotion in (
            ("F6", "MSI", 1, "approved", "6"),
            ("D9", "MSI", 1, "denied", "9"),  # an earlier denial with another plan: not the payment
            ("FC", "ONE", 2, "approved", "C"),
            ("FX", "ODD", 4, "approved", "tres")):
        sql("INSERT INTO notification (folio, reference, response, raw_xml, received_at, status, "
            "link_id, promotion) VALUES (:f, :r, :resp, '<x/>', '2021-10-08 00:00:00', 'applied', "
            ":lid, :p)", f=folio, r=ref, resp=response, lid=link_id, p=promotion)


def test_0005_adds_the_columns_and_fills_the_plan_of_links_already_paid(engine):
    migrate(engine, "downgrade", "0004")
    assert "installment_months" not in {c["name"] for c in inspect(engine).get_columns("payment_link")}
    with engine.begin() as conn:
        _write_as_version_0004_did(conn)

    migrate(engine, "upgrade", "0005")

    assert current_revision(engine) == "0005"
    with engine.connect() as conn:
        got = dict(conn.execute(text(
            "SELECT reference, installment_months FROM payment_link")).all())
        offered = set(conn.execute(text("SELECT promotions FROM payment_link")).scalars())
    assert got == {"MSI": 6, "ONE": None, "OPEN": None, "ODD": None}
    assert offered == {None}  # links made before were all sent "C"; read back as no plans


def test_0005_can_be_undone_with_links_that_have_payments(engine):
    with engine.begin() as conn:
        _write_as_version_0004_did(conn)  # on head: the new columns stay NULL
        conn.execute(text("UPDATE payment_link SET promotions = 'C,3,6', installment_months = 6 "
                          "WHERE reference = 'MSI'"))
    migrate(engine, "downgrade", "0004")
    columns = {c["name"] for c in inspect(engine).get_columns("payment_link")}
    assert not {"promotions", "installment_months"} & columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notification")).scalar() == 4
    migrate(engine, "upgrade", "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT installment_months FROM payment_link WHERE "
                                 "reference = 'MSI'")).scalar() == 6
