"""Benchmark: import speed and the pending list at 1,000,000 receipts.

    python bench/pending.py [--rows 1000000] [--db /tmp/paylink-bench.db] [--postgres URL]
                            [--no-sqlite] [--codes AG00,AG01]

Builds the database once (kept for later runs), then prints: import time for a 100,000-row
CSV through the real `import` path, and first-page, next-page, last-page and search times
(median of 15 runs) for rare and common terms, in the default order (by policy) and sorted
by lapse (`--sort lapse`, most urgent first). With --codes, the same again for an agente whose
portfolio is those agent codes (team mode's rule, in the query; the book needs receipts with
those codes: bench/team_load.py gives them). Nothing is asserted: figures go to the README.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paylink_tui.config import Settings  # noqa: E402
from paylink_tui.demo.data import generate_rows, write_csv  # noqa: E402
from paylink_tui.services.context import AppContext  # noqa: E402
from paylink_tui.services.importing import import_receipts, import_rows  # noqa: E402
from paylink_tui.services.receipts import (  # noqa: E402
    SORT_LAPSE,
    SORT_POLICY,
    pending_page,
    pending_totals,
)
from paylink_tui.store.db import make_engine, upgrade  # noqa: E402

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def timed(fn, runs: int = 15) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def build(url: str, rows: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        from sqlalchemy import text

        have = conn.execute(text("SELECT count(*) FROM receipt")).scalar_one()
    if have >= rows:
        print(f"base existente: {have:,} recibos")
        return
    t = time.perf_counter()
    chunk = 200_000
    gen = generate_rows(rows, seed=11)
    done = 0
    while done < rows:
        batch = [next(gen) for _ in range(min(chunk, rows - done))]
        import_rows(engine, batch, agent="bench", now=NOW)
        done += len(batch)
    print(f"construir {rows:,} recibos (import_rows por lotes de {chunk:,}): {time.perf_counter() - t:.1f} s")


def bench_import() -> None:
    """A 100,000-row CSV into an empty database, through the real import path."""
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "recibos.csv"
        write_csv(csv_path, generate_rows(100_000, seed=3))
        url = f"sqlite:///{Path(tmp) / 'import.db'}"
        eng = make_engine(url)
        upgrade(eng)
        t = time.perf_counter()
        report = import_receipts(eng, csv_path, agent="bench", now=NOW)
        print(f"import de 100,000 filas CSV (SQLite): {time.perf_counter() - t:.2f} s "
              f"({report.added:,} agregados)")
        t = time.perf_counter()
        import_receipts(eng, csv_path, agent="bench", now=NOW)
        print(f"re-import del mismo archivo (sin cambios): {time.perf_counter() - t:.2f} s")
        eng.dispose()


def bench_engine(url: str, rows: int, codes: tuple[str, ...] = ()) -> None:
    engine_name = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    build(url, rows)
    engine = make_engine(url)
    ctx = AppContext(settings=Settings(database_url="sqlite:///unused.db"), engine=engine,
                     clock=lambda: NOW)
    for sort in (SORT_POLICY, SORT_LAPSE):
        bench_order(ctx, engine_name, rows, sort)
    if codes:
        from paylink_tui.domain.results import ROLE_AGENT, Identity

        agent = ctx.for_principal(Identity(user="bench", role=ROLE_AGENT, codes=codes))
        bench_order(agent, f"{engine_name}, cartera {'+'.join(codes)}", rows, SORT_POLICY)
    from paylink_tui.services.search import forget_prefixes, policy_prefixes

    def prefixes_afresh() -> None:
        forget_prefixes(engine)
        policy_prefixes(engine)

    print(f"  prefijos de póliza, sin caché:     {timed(prefixes_afresh, runs=5):7.2f}")
    print(f"  totales sin filtro:                {timed(lambda: pending_totals(ctx), runs=3):7.2f}")
    print(f"  totales 'hernandez':               "
          f"{timed(lambda: pending_totals(ctx, search='hernandez'), runs=3):7.2f}")
    engine.dispose()


def bench_order(ctx: AppContext, engine_name: str, rows: int, sort: str) -> None:
    def page(**kwargs):  # type: ignore[no-untyped-def]
        return pending_page(ctx, sort=sort, limit=100, **kwargs)

    first = page()
    label = "por póliza" if sort == SORT_POLICY else "por cese (--sort lapse)"
    print(f"\n{engine_name}, {rows:,} recibos, {label} (mediana de 15, ms):")
    print(f"  primera página (100 filas):        {timed(lambda: page()):7.2f}")
    print(f"  página siguiente:                  {timed(lambda: page(after=first.last_key)):7.2f}")
    print(f"  última página (End):               {timed(lambda: page(last=True)):7.2f}")
    sample = first.rows[0]
    terms = {
        "recibo exacto (raro)": sample.receipt,
        "póliza exacta (raro)": sample.policy,
        "póliza sin sus letras (raro)": sample.policy.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        "4 cifras '4100' (común)": "4100",
        "nombre completo (raro)": "inigo zuniga avendano",
        "dos apellidos (poco común)": "zuniga avendano",
        "nombre común 'maria'": "maria",
        "apellido común 'hernandez'": "hernandez",
        "apellido común 'peña' sin acento": "pena",
        "3 letras 'gar'": "gar",
        "sin resultados 'zzzq'": "zzzq",
    }
    for label, term in terms.items():
        ms = timed(lambda term=term: page(search=term))
        n = len(page(search=term).rows)
        print(f"  búsqueda {label:<28} {ms:7.2f}  ({n} filas en la página)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "paylink-bench.db"))
    ap.add_argument("--postgres", default=None, help="postgresql://… (a scratch database)")
    ap.add_argument("--skip-import", action="store_true", help="only the list and search figures")
    ap.add_argument("--no-sqlite", action="store_true", help="only the --postgres database")
    ap.add_argument("--codes", default="", help="agent codes of a portfolio to measure too")
    args = ap.parse_args()
    print(f"máquina: {platform.machine()}, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}")

    if not args.skip_import:
        bench_import()

    urls = ([] if args.no_sqlite else [f"sqlite:///{args.db}"]) + (
        [args.postgres] if args.postgres else [])
    codes = tuple(c for c in args.codes.split(",") if c)
    for url in urls:
        bench_engine(url, args.rows, codes)

if __name__ == "__main__":
    main()
