"""The demo data generator: deterministic, realistic, and valid import input."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from paylink_tui.demo.data import generate_rows, write_csv
from paylink_tui.importer.reader import read_receipts

TODAY = date(2021, 10, 7)


def test_same_seed_gives_the_same_rows_and_another_seed_does_not():
    a = list(generate_rows(500, seed=7, today=TODAY))
    assert a == list(generate_rows(500, seed=7, today=TODAY))
    assert a != list(generate_rows(500, seed=8, today=TODAY))


def test_exact_count_unique_receipts_and_one_holder_and_currency_per_policy():
    rows = list(generate_rows(2000, today=TODAY))
    assert len(rows) == 2000
    assert len({r.receipt for r in rows}) == 2000
    by_policy = defaultdict(set)
    for r in rows:
        by_policy[r.policy].add((r.first_name, r.last_name, r.second_last_name, r.email,
                                 r.currency, r.ramo))
    assert all(len(v) == 1 for v in by_policy.values())
    sizes = defaultdict(int)
    for r in rows:
        sizes[r.policy] += 1
    assert max(sizes.values()) > 1  # several receipts per policy
    assert len(by_policy) < len(rows)


def test_rows_look_like_the_insurers_portfolio():
    rows = list(generate_rows(3000, today=TODAY))
    assert {r.ramo for r in rows} == {"Autos", "GMM", "Vida", "Daños"}
    currencies = [r.currency for r in rows]
    assert 0 < currencies.count("USD") < currencies.count("MXN") / 5
    assert any(r.email is None for r in rows) and sum(r.email is not None for r in rows) > 2000
    surnames = {r.last_name for r in rows} | {r.second_last_name for r in rows}
    assert {"Peña", "Muñoz", "Ibáñez", "Gómez"} <= surnames
    assert all(r.amount > 0 and r.amount == r.amount.quantize(Decimal("0.01")) for r in rows)
    assert all(abs((r.due_date - TODAY).days) <= 40 + 30 * 3 for r in rows)
    assert min(r.due_date for r in rows) < TODAY < max(r.due_date for r in rows)


def test_holders_with_markup_and_ampersand_appear_early():
    rows = list(generate_rows(40, today=TODAY))
    names = {(r.first_name, r.last_name) for r in rows}
    assert ("[bold]Rosa[/bold]", "Peña") in names
    assert any("Peña & Hijos" in r.last_name for r in rows)


def test_written_csv_reads_back_as_the_same_rows(tmp_path):
    rows = list(generate_rows(1500, seed=11, today=TODAY))
    path = tmp_path / "demo.csv"
    assert write_csv(path, rows) == 1500
    result = read_receipts(path)
    assert result.errors == []
    assert result.rows == [dataclasses.replace(r, line=i + 2) for i, r in enumerate(rows)]


def test_defaults_to_today_in_mexico_city():
    rows = list(generate_rows(50))
    # Without `today` the dates still cluster around the current date.
    spread = {r.due_date for r in rows}
    assert max(spread) - min(spread) < timedelta(days=200)
