"""Notifications per second received by `paylink-tui serve`, stored and applied.

Distinct approved notifications for distinct links, encrypted beforehand, are posted from
this process (a minimal HTTP/1.1 client over a bounded number of keep-alive connections,
loopback only) to a `paylink-tui serve` subprocess. Confirmation emails go to a MailDrop SMTP server in this
process, as in production (each approval queues and sends one).

    python bench/notifications.py --engine sqlite --count 3000
    python bench/notifications.py --engine postgresql --pg-url postgresql://postgres@127.0.0.1/test

Durability as shipped: SQLite in WAL mode with synchronous=NORMAL (store/db.py), every
notification committed before the 200 answer (concurrent ones share one transaction and
one commit: group commit); PostgreSQL with its defaults (synchronous_commit as configured
on the server, printed below).

Printed: notifications per second stored and applied while posting, when the last
confirmation email reached the SMTP server (counted from the first post), and the CPU
seconds of `serve` (with its workers) and of this process while posting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from paylink_tui.domain.validity import link_window  # noqa: E402
from paylink_tui.gateway import sandbox_defaults as sd  # noqa: E402
from paylink_tui.gateway.crypto import encrypt  # noqa: E402
from paylink_tui.gateway.messages import build_notification_xml  # noqa: E402
from paylink_tui.mail.server import MailDrop  # noqa: E402
from paylink_tui.store.db import make_engine, normalise_url, upgrade, write_session  # noqa: E402
from paylink_tui.store.models import (  # noqa: E402
    Client,
    EmailMessage,
    LinkReceipt,
    Notification,
    PaymentLink,
    Policy,
    Receipt,
)

TZ = "America/Mexico_City"


def make_links(url: str, count: int,
               created_at: datetime | None = None) -> list[tuple[str, Decimal]]:
    """`count` active links, one receipt each, created now (so payments are in time) unless
    `created_at` says when."""
    engine = make_engine(url)
    now = created_at or datetime.now(timezone.utc)
    window = link_window(now, TZ)
    out: list[tuple[str, Decimal]] = []
    run = uuid.uuid4().hex[:6].upper()
    with write_session(engine) as s:
        for i in range(count):
            amount = Decimal(1000 + i) / 100
            client = Client(first_name="Rosa", last_name="Peña", second_last_name="Ibáñez",
                            email=f"cliente{i}@example.com")
            s.add(client)
            s.flush()
            pol = Policy(number=f"B{run}{i:07d}", ramo="Autos", client_id=client.id)
            s.add(pol)
            s.flush()
            rec = Receipt(number=f"R{run}{i:07d}", policy_id=pol.id, policy_number=pol.number,
                          amount=amount, currency="MXN", due_date=window.generated_on,
                          created_at=now, updated_at=now)
            ref = f"BENCH{run}{i:07d}"
            link = PaymentLink(reference=ref, policy_id=pol.id, amount=amount, currency="MXN",
                               email=f"cliente{i}@example.com", agent="bench", state="active",
                               created_at=now, last_valid_day=window.last_valid_day,
                               expires_at=window.expires_at, hidden_until=window.hidden_until,
                               updated_at=now)
            s.add(rec)
            s.add(link)
            s.flush()
            s.add(LinkReceipt(link_id=link.id, receipt_id=rec.id, amount=amount))
            out.append((ref, amount))
    engine.dispose()
    return out


def bodies_for(links: list[tuple[str, Decimal]]) -> list[str]:
    local = datetime.now(timezone.utc).astimezone()  # only needs to be before expiry
    from paylink_tui.domain.dates import mit_datetime_text

    date_text, time_text = mit_datetime_text(local, TZ).split(" ")
    out = []
    for i, (ref, amount) in enumerate(links):
        xml = build_notification_xml({
            "reference": ref, "response": "approved", "foliocpagos": f"9{i:014d}",
            "auth": f"{i % 1_000_000:06d}", "cd_response": "0C", "time": time_text,
            "date": date_text, "nb_company": "AXA", "nb_merchant": "1234567 WEBPAYPLUS",
            "cc_type": "CREDITO/BANCO MIT/Visa", "tp_operation": "VENTA", "cc_name": "Rosa Peña",
            "cc_number": "1111", "amount": f"{amount:.2f}", "id_url": f"B{i:07d}",
            "email": "cliente@example.com", "cc_mask": "411111XXXXXX1111",
        })
        out.append(encrypt(xml, sd.SANDBOX_KEY))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(url: str, smtp_port: int, workers: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PAYLINK_DATABASE_URL": url, "PAYLINK_GATEWAY": "sandbox",
           "PAYLINK_SMTP_HOST": "127.0.0.1", "PAYLINK_SMTP_PORT": str(smtp_port),
           "PAYLINK_CONFIG": str(log_path.parent / "no-config.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paylink_tui", "serve", "--port", str(port),
         "--workers", str(workers)],
        env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/salud", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("serve did not start:\n" + log_path.read_text())


def requests_for(base: str, bodies: list[str]) -> list[bytes]:
    """Each notification as the complete HTTP/1.1 request MIT would send (form-encoded)."""
    host = base.split("://", 1)[1]
    out = []
    for body in bodies:
        form = urlencode({"strResponse": body}).encode("ascii")
        head = (f"POST /mit/notificacion HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(form)}\r\n\r\n")
        out.append(head.encode("ascii") + form)
    return out


async def post_all(base: str, requests: list[bytes], concurrency: int, deadline: float) -> list[int]:
    """Post every request over `concurrency` keep-alive connections; the status codes.

    A minimal HTTP/1.1 client on asyncio streams, not httpx: the load generator shares the
    2 cores with the server, so it must cost as little CPU per request as possible."""
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    codes: list[int] = []
    queue = iter(requests)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for request in queue:
                if time.monotonic() > deadline:
                    return
                writer.write(request)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                codes.append(int(status.split()[1]))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return codes


def counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Notification)).scalar_one()
        applied = conn.execute(select(func.count()).select_from(Notification)
                               .where(Notification.status == "applied")).scalar_one()
        sent = conn.execute(select(func.count()).select_from(EmailMessage)
                            .where(EmailMessage.status == "sent")).scalar_one()
    engine.dispose()
    return stored, applied, sent


def durability(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        if url.startswith("sqlite"):
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                conn.exec_driver_sql("PRAGMA synchronous").scalar()]
            result = f"journal_mode={mode}, synchronous={sync}"
        else:
            sc = conn.execute(text("SHOW synchronous_commit")).scalar()
            fs = conn.execute(text("SHOW fsync")).scalar()
            result = f"synchronous_commit={sc}, fsync={fs}"
    engine.dispose()
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live children (`--workers`),
    from Linux /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def run_one(engine_name: str, url: str, args: argparse.Namespace, work: Path) -> None:
    links = make_links(url, args.count)
    bodies = bodies_for(links)
    with MailDrop(work / f"correos-{engine_name}") as drop:
        proc, base = start_serve(url, drop.port, args.workers, work / f"serve-{engine_name}.log")
        try:
            server_cpu0, client_cpu0 = cpu_seconds(proc.pid), time.process_time()
            requests = requests_for(base, bodies)
            t0 = time.perf_counter()
            codes = asyncio.run(post_all(base, requests, args.concurrency,
                                         time.monotonic() + args.seconds))
            elapsed = time.perf_counter() - t0
            server_cpu = cpu_seconds(proc.pid) - server_cpu0
            client_cpu = time.process_time() - client_cpu0
            stored, applied, _ = counts(url)
            # Emails: sent right after each answer, by the same server; wait a bit for them.
            t_mail = time.monotonic() + 180
            while time.monotonic() < t_mail and counts(url)[2] < applied:
                time.sleep(0.5)
            mail_elapsed = time.perf_counter() - t0
            sent = counts(url)[2]
        finally:
            proc.terminate()
            proc.wait(30)
    ok = sum(1 for c in codes if c == 200)
    print(f"\n== {engine_name} ({durability(url)}), serve --workers {args.workers}, "
          f"{args.concurrency} concurrent connections ==")
    print(f"posted {len(codes)} ({ok} answered 200) in {elapsed:.2f} s")
    print(f"stored {stored}, applied {applied}: {applied / elapsed:.0f} notifications/s "
          "stored and applied")
    print(f"confirmation emails sent: {sent} after {mail_elapsed:.1f} s")
    print(f"CPU while posting: server {server_cpu:.1f} s "
          f"({1000 * server_cpu / max(applied, 1):.1f} ms per notification, emails included), "
          f"this process (client + SMTP) {client_cpu:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0, help="stop posting after this")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pg-url", default=os.environ.get("PAYLINK_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.engine in ("sqlite", "both"):
            url = f"sqlite:///{(work / 'bench.db').as_posix()}"
            eng = make_engine(url)
            upgrade(eng)
            eng.dispose()
            run_one("sqlite", url, args, work)
        if args.engine in ("postgresql", "both"):
            if not args.pg_url:
                print("PostgreSQL skipped: give --pg-url or PAYLINK_TEST_POSTGRES_URL")
                return
            schema = "bench_" + uuid.uuid4().hex[:8]
            admin = sa_create_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                ext = conn.execute(text(
                    "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                    "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).scalar()
                if ext is None:
                    conn.execute(text("CREATE EXTENSION pg_trgm"))
                    ext = "public"
                conn.execute(text(f"CREATE SCHEMA {schema}"))
                # Alembic must find this schema's (empty) version table, not one in `public`.
                conn.execute(text(f"CREATE TABLE {schema}.alembic_version "
                                  "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            sep = "&" if "?" in args.pg_url else "?"
            url = f"{args.pg_url}{sep}options=-csearch_path%3D{schema},{ext}"
            try:
                eng = make_engine(url)
                upgrade(eng)
                eng.dispose()
                run_one("postgresql", url, args, work)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                admin.dispose()


if __name__ == "__main__":
    main()
