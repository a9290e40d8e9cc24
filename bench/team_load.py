"""Benchmark: the agency server under 20 agents at once, at 1,000,000 receipts (team mode).

    python bench/team_load.py --postgres URL [--agents 20] [--seconds 60] [--workers 2]
                              [--think 1.0]

On a scratch PostgreSQL database (built by bench/pending.py's `build` when it has fewer
receipts than --rows): gives the book 2 agent codes per agent (policies and receipts, the
portfolio rule's column), adds one `agente` user per agent holding its 2 codes, starts
`paylink-tui serve --equipo` on loopback as a child process, signs every agent in at once
(sign-in cost: Argon2id, users.ARGON2_*), then each agent loops for --seconds: the first page
of its pending list, the next page, a search (a surname, a first name, three letters, a
policy number without its letters, a word that matches nothing), the next page of that
search. Between two requests an agent pauses --think seconds on average (uniform from half
to one and a half times it: an agent reading the rows or typing the next letters; the TUI
asks once per debounced keystroke); --think 0 is a closed loop with no pause at all, which
measures the server's capacity (requests per second) rather than what an agent waits.
Every request is timed from the agent's side of the loopback connection (HTTP
included: an upper bound of the time spent in the server), and p50/p95/max printed per kind,
then for the first page of each search term.
Nothing is asserted: figures go to the README (targets: page and search p50 <= 30 ms,
p95 <= 80 ms; sign-in <= 0.3 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from paylink_tui.backend.routes import SESSION_PATH  # noqa: E402
from paylink_tui.config import Settings  # noqa: E402
from paylink_tui.services import users  # noqa: E402
from paylink_tui.services.context import AppContext  # noqa: E402
from paylink_tui.store.db import make_engine, upgrade  # noqa: E402

PASSWORD = "banco-de-pruebas-2026"  # noqa: S105 - a scratch database's bench users
PAGES = "/api/v1/pendientes"
SAMPLES_LOCK = threading.Lock()
SEARCHES = ("hernandez", "maria", "gar", "pena", "zzzq", "rodriguez lopez", "jose")


def codes_of(agent: int) -> tuple[str, str]:
    return (f"AG{2 * agent:02d}", f"AG{2 * agent + 1:02d}")


def prepare(url: str, rows: int, agents: int) -> None:
    """The book, its agent codes (2 per agent, by policy id) and one user per agent."""
    import pending  # bench/pending.py

    pending.build(url, rows)
    engine = make_engine(url)
    upgrade(engine)
    n_codes = 2 * agents
    with engine.begin() as conn:
        missing = conn.execute(text(
            "SELECT count(*) FROM policy WHERE agent_code IS NULL "
            "OR agent_code NOT LIKE 'AG%'")).scalar_one()
        if missing:
            t = time.perf_counter()
            # One statement per table with the word table's trigger aside, then the word
            # table's agent codes in one statement (a scratch database: nobody else writes).
            conn.execute(text("UPDATE policy SET agent_code = 'AG' || lpad((id % :n)::text, 2, '0')"),
                         {"n": n_codes})
            conn.execute(text("ALTER TABLE receipt DISABLE TRIGGER receipt_word_upd"))
            conn.execute(text("UPDATE receipt r SET agent_code = p.agent_code FROM policy p "
                              "WHERE p.id = r.policy_id"))
            conn.execute(text("ALTER TABLE receipt ENABLE TRIGGER receipt_word_upd"))
            conn.execute(text("UPDATE receipt_word w SET agent_code = r.agent_code FROM receipt r "
                              "WHERE r.id = w.receipt_id"))
            print(f"claves de agente: {n_codes} claves en {missing:,} pólizas "
                  f"({time.perf_counter() - t:.0f} s)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE receipt"))
        conn.execute(text("VACUUM ANALYZE receipt_word"))
    ctx = AppContext(settings=Settings(database_url=url), engine=engine)
    have = {u.name for u in users.list_users(ctx)}
    for i in range(agents):
        name = f"agente{i:02d}"
        if name not in have:
            users.add_user(ctx, name, role="agente", codes=",".join(codes_of(i)),
                           password=PASSWORD)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "PAYLINK_DATABASE_URL": url, "PAYLINK_GATEWAY": "sandbox"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paylink_tui", "serve", "--equipo", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/salud", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise SystemExit(f"serve terminó: {proc.stderr.read() if proc.stderr else ''}")
    proc.kill()
    raise SystemExit("serve no respondió en 60 s")


def sign_in_all(base: str, agents: int) -> tuple[list[str], list[float]]:
    tokens: list[str] = [""] * agents
    took: list[float] = [0.0] * agents
    start = threading.Barrier(agents)

    def one(i: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as c:
            start.wait()
            t = time.perf_counter()
            got = c.post(SESSION_PATH, json={"user": f"agente{i:02d}", "password": PASSWORD})
            took[i] = time.perf_counter() - t
            got.raise_for_status()
            tokens[i] = got.json()["token"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(agents)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return tokens, took


def agent_loop(base: str, token: str, seconds: float, seed: int,
               samples: dict[str, list[float]], errors: list[str], think: float = 0.0) -> None:
    rnd = random.Random(seed)
    mine: dict[str, list[float]] = defaultdict(list)
    mine_terms: dict[str, list[float]] = defaultdict(list)  # the first page of each search
    with httpx.Client(base_url=base, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as c:

        def call(kind: str, params: dict[str, str], term: str | None = None) -> dict | None:
            if think:
                time.sleep(rnd.uniform(0.5 * think, 1.5 * think))
            t = time.perf_counter()
            got = c.get(PAGES, params=params)
            mine[kind].append((time.perf_counter() - t) * 1000)
            if term is not None:
                mine_terms[term].append(mine[kind][-1])
            if got.status_code != 200:
                errors.append(f"{kind} {got.status_code} {got.text[:120]}")
                return None
            return got.json()

        def next_of(page: dict | None) -> dict[str, str] | None:
            if not page or not page.get("rows") or not page.get("has_more"):
                return None
            last = page["rows"][-1]
            return {"after": json.dumps([last["policy"], last["due_date"], last["receipt"]])}

        policies: list[str] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            first = call("página", {"limit": "100"})
            if first and first.get("rows"):
                policies = [r["policy"] for r in first["rows"]]
            after = next_of(first)
            if after:
                call("página siguiente", {"limit": "100", **after})
            label = term = rnd.choice(SEARCHES + ("<poliza>",))
            if term == "<poliza>" and policies:
                term = rnd.choice(policies).lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")[:6]
            found = call("búsqueda", {"limit": "100", "search": term}, label)
            after = next_of(found)
            if after:
                call("búsqueda, página siguiente", {"limit": "100", "search": term, **after})
    with SAMPLES_LOCK:  # one for all agents' threads
        for kind, values in mine.items():
            samples[kind].extend(values)
        for term, values in mine_terms.items():
            samples[f"  «{term}»"].extend(values)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", required=True, help="postgresql://… (a scratch database)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2, help="serve --workers")
    ap.add_argument("--think", type=float, default=1.0,
                    help="an agent's mean pause between requests, in seconds (0: no pause)")
    args = ap.parse_args()
    print(f"máquina: {platform.machine()}, {platform.system()} {platform.release()}, "
          f"{os.cpu_count()} CPU, Python {platform.python_version()}")
    print(f"Argon2id: t={users.ARGON2_TIME_COST}, m={users.ARGON2_MEMORY_KIB} KiB, "
          f"p={users.ARGON2_PARALLELISM}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    prepare(args.postgres, args.rows, args.agents)
    port = free_port()
    proc = start_server(args.postgres, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        tokens, took = sign_in_all(base, args.agents)
        print(f"\n{args.agents} inicios de sesión a la vez: mediana {statistics.median(took):.3f} s, "
              f"máx {max(took):.3f} s")
        with httpx.Client(base_url=base, timeout=60) as c:
            alone = []
            for _ in range(5):
                t = time.perf_counter()
                c.post(SESSION_PATH, json={"user": "agente00", "password": PASSWORD}) \
                    .raise_for_status()
                alone.append(time.perf_counter() - t)
        print(f"un inicio de sesión solo: mediana {statistics.median(alone):.3f} s (de 5)")
        samples: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        threads = [threading.Thread(target=agent_loop,
                                    args=(base, tokens[i], args.seconds, i, samples, errors,
                                          args.think))
                   for i in range(args.agents)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        total = sum(len(v) for k, v in samples.items() if not k.startswith("  «"))
        print(f"\n{args.agents} agentes, {args.seconds:.0f} s, serve --workers {args.workers}, "
              f"pausa media {args.think:g} s: "
              f"{total:,} peticiones ({total / wall:.0f}/s), {len(errors)} errores")
        print(f"  {'':<28} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'máx ms':>8}")
        kinds = [k for k in samples if not k.startswith("  «")]
        terms = sorted((k for k in samples if k.startswith("  «")),
                       key=lambda k: -statistics.median(samples[k]))
        for kind in kinds + ["búsqueda, por término:"] + terms:
            values = samples.get(kind)
            if not values:
                print(f"  {kind}")
                continue
            print(f"  {kind:<28} {len(values):>6} {statistics.median(values):>8.1f} "
                  f"{pct(values, 0.95):>8.1f} {max(values):>8.1f}")
        for line in errors[:5]:
            print("  error:", line)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
