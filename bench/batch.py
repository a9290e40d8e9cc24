"""Many links at once: 1,000 policies against the MIT sandbox on loopback.

    python bench/batch.py [--policies 1000] [--postgres URL]

A fresh database (SQLite in a temporary folder, or a scratch PostgreSQL database) gets
`--policies` policies of one to three pending MXN receipts each, every holder with an email.
`paylink-tui sandbox` runs in its own process (the MIT emulator: XML, AES-128-CBC, as MIT);
the link emails go to a MailDrop SMTP server in this process. Then `batch_preview` (the
plan the agent confirms) and `run_batch` (at most 4 MIT calls at a time, each link claimed,
made at the sandbox, confirmed and its email delivered) are timed. Printed: the plan's time,
the batch's time, links per second, and emails received. Nothing is asserted: the figures go
to the README.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paylink_tui.config import Settings  # noqa: E402
from paylink_tui.importer.reader import ReceiptRow  # noqa: E402
from paylink_tui.mail.server import MailDrop  # noqa: E402
from paylink_tui.services.batch import batch_preview, run_batch  # noqa: E402
from paylink_tui.services.context import AppContext  # noqa: E402
from paylink_tui.services.importing import import_rows  # noqa: E402
from paylink_tui.store.db import make_engine, upgrade  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(policies: int) -> list[ReceiptRow]:
    out: list[ReceiptRow] = []
    line = 1
    for i in range(policies):
        for k in range(1 + i % 3):
            line += 1
            out.append(ReceiptRow(
                line, f"BP{i:06d}", f"BR{i:06d}{k}", "Autos", "Rosa", "Peña", "Ibáñez",
                f"cliente{i}@example.com", "55 1234 5678", Decimal(1000 + i) / 100 + k, "MXN",
                date(2026, 10, 1 + k)))
    return out


def start_sandbox(port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env["PAYLINK_CONFIG"] = os.devnull
    proc = subprocess.Popen([sys.executable, "-m", "paylink_tui", "sandbox", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("el sandbox no arrancó")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policies", type=int, default=1000)
    ap.add_argument("--postgres", default=None, help="postgresql://… (a scratch database)")
    args = ap.parse_args()
    print(f"máquina: {platform.machine()}, {platform.system()} {platform.release()}, "
          f"{os.cpu_count()} CPU, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'batch.db'}"
        engine = make_engine(url)
        upgrade(engine)
        now = datetime.now(timezone.utc)
        import_rows(engine, rows(args.policies), agent="bench", now=now)
        port = free_port()
        sandbox = start_sandbox(port)
        drop = MailDrop(Path(tmp) / "correos").start()
        try:
            settings = Settings(database_url=url, agent="bench", gateway="sandbox",
                                mit_gen_url=f"http://127.0.0.1:{port}/gen",
                                smtp_host="127.0.0.1", smtp_port=drop.port)
            ctx = AppContext(settings=settings, engine=engine)
            t = time.perf_counter()
            plan = batch_preview(ctx)
            planned = time.perf_counter() - t
            t = time.perf_counter()
            outcome = run_batch(ctx, plan)
            took = time.perf_counter() - t
        finally:
            drop_count = len(drop.messages())
            drop.stop()
            sandbox.terminate()
            sandbox.wait(10)
            engine.dispose()
    engine_name = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{engine_name}: plan de {len(plan.links):,} ligas ({plan.receipts:,} recibos) en "
          f"{planned:.2f} s")
    print(f"  lote: {len(outcome.made):,} ligas hechas, {len(outcome.failed):,} fallidas, "
          f"{len(outcome.skipped):,} omitidas en {took:.1f} s "
          f"({len(outcome.made) / took:.1f} ligas/s, 4 llamadas a MIT a la vez)")
    print(f"  correos recibidos por el servidor SMTP: {drop_count:,}")


if __name__ == "__main__":
    main()
