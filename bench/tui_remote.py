"""Benchmark: the TUI over the agency server at 1,000,000 receipts on PostgreSQL (team mode).

    python bench/tui_remote.py --postgres URL [--rows 1000000] [--runs 5] [--payments 10]

On a scratch PostgreSQL database (bench/team_load.py's `prepare`: the book of
bench/pending.py, 2 agent codes per agent, one `agente` user), `paylink-tui serve --equipo`
runs on loopback in its own process, with the MIT sandbox in this process (links are made at
it, and it posts the payments' notifications to the server as MIT does). The agent signs in
once (a session file in a scratch config folder, as `login` leaves it). Then:
- command start -> first rows on the terminal: `paylink-tui` in a pseudo-terminal of
  120×36, a fresh process each run, until the first receipt number of the agent's first page
  is written (team mode paints no first frame: these rows came over HTTP);
- each search keystroke, from the 3rd character on, until the frame with the new rows (the
  headless child of bench/tui_first_rows.py, whose backend is the remote one here: the
  same settings path as `paylink-tui`);
- the payment toast: a link made over the API, paid at the sandbox; from the moment the
  sandbox has the server's 200 for the notification (the server answers once the payment is
  applied and committed) until the open app (live, remote backend) shows the toast.
Nothing is asserted: the figures go to the README. Targets (issue 15): first rows 0.5 s,
keystroke median 60 ms, toast 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402
import team_load  # noqa: E402  (bench/team_load.py)

from paylink_tui.backend.client_session import StoredSession, save_session  # noqa: E402
from paylink_tui.backend.routes import SESSION_PATH  # noqa: E402

AGENT = "agente00"
CARD_FORM = {"nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz",
             "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
             "correo": "bench@example.com", "terminos": "on"}


def agent_env(config_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLINK_")}
    env.update(PAYLINK_CONFIG=str(config_dir / "none.toml"), TERM="xterm-256color")
    return env


def first_rows_in_terminal(env: dict[str, str], first_receipt: str) -> float:
    """bench/tui_first_rows.py's pseudo-terminal run, in the agent's team-mode settings."""
    import tui_first_rows

    return tui_first_rows.in_terminal(env, first_receipt)[0]


def keystrokes(env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, str(BENCH / "tui_first_rows.py"), "--child", "sqlite:///ignored.db",
         "--started", repr(time.time())],
        capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def toasts(sandbox_server, env: dict[str, str], base: str, token: str,  # type: ignore[no-untyped-def]
           payments: int) -> list[float]:
    """Links made over the API, paid at the sandbox (in this process); seconds from the
    server's 200 for each notification to the toast in the open app."""
    from paylink_tui.backend.remote import RemoteBackend
    from paylink_tui.gateway.sandbox.app import create_sandbox_app
    from paylink_tui.web.receiver import NOTIFY_PATH

    os.environ.update({k: v for k, v in env.items() if k.startswith("PAYLINK_")})
    from paylink_tui.cli.common import backend_or_exit, settings_or_exit
    from paylink_tui.ui.app import make_app

    sandbox_server.app = create_sandbox_app(notify_url=f"{base}{NOTIFY_PATH}")
    sandbox_server.start()
    sandbox = sandbox_server.app.state.sandbox
    api = RemoteBackend(base, token, user=AGENT)
    rows = api.pending_page(limit=max(payments, 1) * 2).rows
    app = make_app(backend_or_exit(settings_or_exit()), live=True, cursor_blink=False)
    took: list[float] = []

    async def run() -> None:
        async with app.run_test(size=(120, 36)):
            await asyncio.sleep(2.0)
            seen = len(app._notifications)
            for row in rows[:payments]:
                made = api.generate_link(receipt_numbers=[row.receipt], email="bench@example.com")
                link = sandbox.state.by_reference[made.reference]
                # As the client's browser submits the payment page.
                paid = await asyncio.to_thread(
                    httpx.post, f"{sandbox_server.url}/i/{link.id}/pagar", data=CARD_FORM)
                paid.raise_for_status()
                await asyncio.to_thread(sandbox.wait_idle_sync, 30.0)  # the server's 200
                applied = time.perf_counter()
                while len(app._notifications) == seen and time.perf_counter() - applied < 30:
                    await asyncio.sleep(0.002)
                took.append(time.perf_counter() - applied)
                seen = len(app._notifications)
                await asyncio.sleep(0.5)

    try:
        asyncio.run(run())
    finally:
        api.close()
        sandbox_server.stop()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", required=True, help="postgresql://… (a scratch database)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--payments", type=int, default=10)
    args = ap.parse_args()

    team_load.prepare(args.postgres, args.rows, 1)
    from paylink_tui.web.server import BackgroundServer

    port = team_load.free_port()
    # The server makes links at the sandbox of this process: its socket is bound first (it
    # serves once the server's address, where it notifies, is known).
    sandbox_server = BackgroundServer()
    os.environ["PAYLINK_MIT_GEN_URL"] = f"{sandbox_server.url}/gen"
    server = team_load.start_server(args.postgres, port, 1)
    del os.environ["PAYLINK_MIT_GEN_URL"]  # the server's setting, not the agent's
    base = f"http://127.0.0.1:{port}"
    try:
        got = httpx.post(f"{base}{SESSION_PATH}", json={"user": AGENT,
                                                        "password": team_load.PASSWORD})
        got.raise_for_status()
        token = got.json()["token"]
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp)
            save_session(StoredSession(server=base, user=AGENT, token=token),
                         config / "sesion.json")
            env = agent_env(config)
            first = httpx.get(f"{base}/api/v1/pendientes", params={"limit": "1"},
                              headers={"Authorization": f"Bearer {token}"}).json()
            first_receipt = first["rows"][0]["receipt"]
            terminal = [first_rows_in_terminal(env, first_receipt) for _ in range(args.runs)]
            keys = [k for _ in range(args.runs) for k in keystrokes(env)["keystroke_ms"]]
            toast = toasts(sandbox_server, env, base, token, args.payments)
    finally:
        server.terminate()
        server.wait(10)

    print(f"TUI sobre el servidor de la agencia, {args.rows:,} recibos en PostgreSQL "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} núcleos):")
    print(f"  inicio del comando -> primeras filas en la terminal: mediana "
          f"{statistics.median(terminal):.3f} s, peor {max(terminal):.3f} s (meta 0.5 s)")
    print(f"  tecla en la búsqueda (3+ letras) -> filas en la tabla: mediana "
          f"{statistics.median(keys):.1f} ms, p90 {sorted(keys)[int(len(keys) * 0.9)]:.1f} ms, "
          f"peor {max(keys):.1f} ms (meta 60 ms)")
    print(f"  pago aplicado por el servidor -> aviso en la app: mediana "
          f"{statistics.median(toast):.3f} s, peor {max(toast):.3f} s (meta 1 s)")



if __name__ == "__main__":
    main()
