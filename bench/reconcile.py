"""Reconciliation with MIT: links queried per second against the sandbox.

`paylink-tui reconcile`'s use case (services/reconcile.py) runs in this process on a fresh
database of `--links` active links; the MIT sandbox runs in a second process on loopback and
answers its transaction query (SOAP xmltransacciones, encrypted both ways) from payments it
"took" for `--paid` of those links. Every link is asked about each day since it was generated
(`--age` days ago: 1 to 4 queries a link); each payment found is stored and applied as a
notification would be (its confirmation email queued; no SMTP server, so it stays queued).

    python bench/reconcile.py --links 2000 --paid 200
    python bench/reconcile.py --engine postgresql --pg-url postgresql://postgres@127.0.0.1/test

Printed: links and queries per second, what was found and applied, and the CPU seconds of
each process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.notifications import make_links  # noqa: E402 - the same links, one receipt each
from paylink_tui.config import Settings  # noqa: E402
from paylink_tui.domain.dates import to_local  # noqa: E402
from paylink_tui.gateway import sandbox_defaults as sd  # noqa: E402
from paylink_tui.gateway.mit import MitGateway  # noqa: E402
from paylink_tui.gateway.mit_query import QUERY_PATH  # noqa: E402
from paylink_tui.services.context import AppContext  # noqa: E402
from paylink_tui.store.db import make_engine, normalise_url, upgrade  # noqa: E402

TZ = "America/Mexico_City"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_sandbox(port: int, paid: list[tuple[str, str]], taken_at: datetime, ready,  # type: ignore[no-untyped-def]
                cpu) -> None:
    """The sandbox in its own process, with a payment already taken for each of `paid`."""
    import signal

    import uvicorn

    from paylink_tui.gateway.sandbox import create_sandbox_app
    from paylink_tui.gateway.sandbox.state import Payment, SandboxLink

    app = create_sandbox_app(notify_url=None)
    state = app.state.sandbox.state
    local = to_local(taken_at, TZ)
    for i, (ref, amount) in enumerate(paid):
        link = SandboxLink(id=f"L{i:07d}", reference=ref, amount=Decimal(amount), currency="MXN",
                           valid_through=local.date() + timedelta(days=3), email="c@example.com",
                           extra=(), created_at=taken_at)
        link.payments.append(Payment(
            folio=state.new_folio(), response="approved", auth=f"{i % 1_000_000:06d}",
            cd_response="0C", cd_error="", nb_error="", date=local.strftime("%d/%m/%y"),
            time=local.strftime("%H:%M:%S"), cc_mask="411111XXXXXX1111", cc_number="1111",
            cc_type="CREDITO/BANCO MIT/Visa", cc_name="Rosa Peña", email="c@example.com"))
        state.links[link.id] = link
        state.by_reference[ref] = link
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))

    def report(*_args) -> None:  # type: ignore[no-untyped-def]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu.value = usage.ru_utime + usage.ru_stime
        server.should_exit = True

    signal.signal(signal.SIGTERM, report)
    ready.set()
    server.run()


def main() -> None:
    import logging

    logging.getLogger("paylink_tui").setLevel(logging.ERROR)  # the queued-email lines
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("PAYLINK_TEST_POSTGRES_URL"))
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--paid", type=int, default=200)
    parser.add_argument("--age", type=int, default=0, choices=[0, 1, 2, 3],
                        help="days since the links were generated (queries per link: age + 1)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="paylink-reconcile-"))
    drop = None
    if args.engine == "sqlite":
        url = f"sqlite:///{(tmp / 'bench.db').as_posix()}"
    else:
        if not args.pg_url:
            raise SystemExit("--pg-url (or PAYLINK_TEST_POSTGRES_URL) is needed for PostgreSQL")
        from sqlalchemy import create_engine, text

        schema = "bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in args.pg_url else "?"
        url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema},paylink_ext,public"

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()

    now = datetime.now(timezone.utc)
    created = now - timedelta(days=args.age)
    links = make_links(url, args.links, created)
    port = free_port()
    spawn = multiprocessing.get_context("spawn")
    ready, cpu = spawn.Event(), spawn.Value("d", 0.0)
    paid = [(ref, f"{amount:.2f}") for ref, amount in links[: args.paid]]
    proc = spawn.Process(target=run_sandbox, args=(port, paid, now, ready, cpu))
    proc.start()
    ready.wait(60)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):  # the socket is up once the sandbox answers
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)

    from paylink_tui.services.reconcile import reconcile

    settings = Settings(database_url=url, gateway="sandbox", smtp_host="127.0.0.1",
                        smtp_port=free_port(), mit_query_url=base + QUERY_PATH)
    ctx = AppContext(settings=settings, engine=make_engine(url))
    ctx.gateway = MitGateway(f"{base}/gen", sd.SANDBOX_DATA0, sd.SANDBOX_KEY,
                             sd.SANDBOX_ID_COMPANY, sd.SANDBOX_ID_BRANCH, sd.SANDBOX_USER,
                             sd.SANDBOX_PASSWORD, query_url=base + QUERY_PATH, timeout=30)
    ctx.mail_transport = _NoMail()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = reconcile(ctx)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    proc.terminate()
    proc.join(30)
    ctx.gateway.close()
    ctx.engine.dispose()
    if drop is not None:
        drop()

    applied = sum(1 for f in report.found if f.status == "applied")
    print(f"engine: {args.engine}; {report.links} links, {report.queries} queries "
          f"({args.age + 1} per link), MIT answered all: {report.answered}")
    print(f"found {len(report.found)} payments, applied {applied}")
    print(f"{elapsed:.2f} s: {report.links / elapsed:.0f} links/s, "
          f"{report.queries / elapsed:.0f} queries/s")
    print(f"CPU: reconcile {after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime:.2f} s,"
          f" sandbox {cpu.value:.2f} s (its whole life)")


class _NoMail:
    """Confirmations stay queued: the benchmark measures the queries, not SMTP."""

    def send(self, message) -> None:  # type: ignore[no-untyped-def]
        from paylink_tui.mail.errors import SendError

        raise SendError("benchmark: no mail server")


if __name__ == "__main__":
    main()
