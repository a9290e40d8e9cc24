"""Realistic, deterministic demo receipts: Mexican holders, AXA-like policies, MXN and USD.

Used by `paylink-tui demo`, by tests and by the benchmarks (a million rows must come out in
seconds, so the loop stays plain: integers for cents, precomputed lists, no per-row regex).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from paylink_tui.importer.reader import COLUMNS, ReceiptRow

FIRST_NAMES = (
    "José", "María", "Juan", "Guadalupe", "Francisco", "Juana", "Antonio", "Margarita",
    "Jesús", "Verónica", "Miguel Ángel", "Leticia", "Pedro", "Rosa María", "Alejandro",
    "Francisca", "Manuel", "Alejandra", "Ricardo", "Teresa", "Fernando", "Patricia",
    "Jorge", "Gabriela", "Roberto", "Sofía", "Eduardo", "Ximena", "Andrés", "Mónica",
    "Raúl", "Ana Lucía", "Héctor", "Adriana", "Sergio", "Silvia", "Óscar", "Lucía",
    "Martín", "Beatriz", "Iñaki", "Mariana", "Rubén", "Araceli", "Ramón", "Begoña",
    "Joaquín", "Itzel", "Emiliano", "Xóchitl", "Íñigo", "Renata", "Tomás", "Valeria",
)
SURNAMES = (
    "Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez",
    "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Jiménez",
    "Reyes", "Díaz", "Torres", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar", "Ortiz",
    "Moreno", "Castillo", "Romero", "Álvarez", "Méndez", "Chávez", "Rivera", "Juárez",
    "Ramos", "Domínguez", "Herrera", "Medina", "Castro", "Vargas", "Guzmán", "Velázquez",
    "Muñoz", "Peña", "Ibáñez", "Núñez", "Ordóñez", "Salazar", "Cortés", "Rosales",
    "Zúñiga", "Estrada", "Contreras", "Sandoval", "Beltrán", "Avendaño", "Montaño",
)
# (ramo, policy prefix, weight, MXN cents range, share of policies in USD)
RAMOS = (
    ("Autos", "AU", 45, (85_000, 950_000), 0.02),
    ("GMM", "GM", 25, (150_000, 2_800_000), 0.10),
    ("Vida", "VI", 20, (30_000, 650_000), 0.25),
    ("Daños", "DA", 10, (50_000, 1_500_000), 0.05),
)
USD_DIVISOR = 18
DOMAINS = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx", "prodigy.net.mx")
RECEIPT_BASE = 4_100_000_000

# Holders whose names must be shown literally, never interpreted as Rich markup.
SPECIAL_HOLDERS = {
    2: ("[bold]Rosa[/bold]", "Peña", "Ibáñez"),
    4: ("Ferretería", "Peña & Hijos", None),
    6: ("Juan [red]", "[/]Gómez", "Muñoz"),
}


_PLAIN = str.maketrans("áéíóúüñ", "aeiouun")


def _ascii(text: str) -> str:
    return text.lower().replace(" ", "").translate(_PLAIN)


def _today_local() -> date:
    return datetime.now(ZoneInfo("America/Mexico_City")).date()


def generate_rows(
    n_receipts: int, seed: int = 7, today: date | None = None,
    agent_codes: tuple[str, ...] = (),
) -> Iterator[ReceiptRow]:
    """`n_receipts` receipts, grouped 1–4 per policy; the same seed gives the same rows.
    `agent_codes`: the import column `agente`, the policies dealt out among them in turn
    (the team-mode demo's portfolios); empty: no agent code."""
    rng = random.Random(seed)
    rand = rng.random  # int(rand() * n) is several times cheaper than randrange(n)

    def below(n: int) -> int:
        return int(rand() * n)

    def pick(seq: tuple | list):  # type: ignore[no-untyped-def,type-arg]
        return seq[int(rand() * len(seq))]

    today = today or _today_local()
    ramo_choices = [r for r in RAMOS for _ in range(r[2])]
    due_offsets = [timedelta(days=d) for d in range(-40, 25)]
    installments = [timedelta(days=30 * k) for k in range(4)]
    made = 0
    policy_index = 0
    while made < n_receipts:
        ramo, prefix, _weight, (low, high), usd_share = pick(ramo_choices)
        policy = f"{prefix}{below(10):d}{1_000_000 + policy_index * 7919 % 8_999_999:07d}"
        special = SPECIAL_HOLDERS.get(policy_index)
        if special:
            first, last, second = special
        else:
            first = pick(FIRST_NAMES)
            last = pick(SURNAMES)
            second = pick(SURNAMES) if rand() < 0.92 else None
        email = None
        if rand() < 0.8:  # some holders never gave an email address
            user = f"{_ascii(first.split()[0])}.{_ascii(last)}{below(100)}"
            domain = pick(DOMAINS)
            email = f"demo{policy_index}@example.com" if special else f"{user}@{domain}"
        phone = f"55 {1000 + below(9000)} {1000 + below(9000)}" if rand() < 0.7 else None
        usd = rand() < usd_share
        currency = "USD" if usd else "MXN"
        count = min(pick((1, 1, 1, 2, 2, 3, 4)), n_receipts - made)
        premium = low + below(high - low)
        if usd:
            premium = max(premium // USD_DIVISOR, 1_000)
        first_due = today + pick(due_offsets)
        jitter = premium // 50
        for k in range(count):
            # Installments of one policy: similar amounts a month apart, one currency.
            cents = premium - jitter + below(2 * jitter + 1)
            yield ReceiptRow(
                made + 2, policy, str(RECEIPT_BASE + made * 3 + 1), ramo, first, last, second,
                email, phone, Decimal(cents).scaleb(-2), currency, first_due + installments[k],
                agent_code=agent_codes[policy_index % len(agent_codes)] if agent_codes else None,
            )
            made += 1
        policy_index += 1


def write_csv(path: str | Path, rows: Iterable[ReceiptRow]) -> int:
    """Write rows in the import format (UTF-8, dd/mm/yyyy); returns how many were written."""
    written = 0
    day_text: dict[date, str] = {}  # strftime per row is a large share of the time
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow((
                r.policy, r.receipt, r.ramo or "", r.first_name, r.last_name,
                r.second_last_name or "", r.email or "", r.phone or "",
                f"{r.amount:f}", r.currency, day_text.get(r.due_date) or day_text.setdefault(
                    r.due_date, r.due_date.strftime("%d/%m/%Y")),
            ))
            written += 1
    return written
