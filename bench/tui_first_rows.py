"""Benchmark: the TUI on a million receipts.

    python bench/tui_first_rows.py [--rows 1000000] [--db /tmp/paylink-bench.db] [--runs 5]

Measures, each in a fresh process (as an agent starts `paylink-tui`):
- command start -> first rows on screen: `paylink-tui` runs in a pseudo-terminal of 120×36;
  from just before it is spawned until the first receipt number of the list has been
  written to the terminal (the first frame, cli/first_frame.py);
- command start -> the app acts on a key: `/hernandez` is typed, in one read, as soon as
  the first rows show; until the app has painted "hernandez" in its search box (the `/`
  focused it; keys typed over the frame are kept and handled in order, ui/keys.py);
- command start -> first rows in the app (headless, in-process as before): until the
  pending table holds its first page and the screen has been refreshed;
- each search keystroke from the 3rd character on: from the key press until the first
  screen update after the rows for the new text went into the table (the search runs in a
  worker; the frame is rendered as for a terminal, headless: only the write is skipped);
- PageDown at a window edge: the key press until the next page is in the table;
- End: until the frame with the last page.
The database is built once by bench/pending.py's builder (kept for later runs). Nothing is
asserted: the figures (median and worst) go to the README. Targets: 0.5 s (first rows),
0.6 s (keys acted on) and 50 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEARCHES = ("hernandez", "maria jose", "garcia", "zuniga avendano")


def child(url: str, started: float) -> None:
    """The measured process: the same path as `paylink-tui` with no command."""
    import asyncio

    os.environ["PAYLINK_DATABASE_URL"] = url
    sys.path.insert(0, str(ROOT))
    from paylink_tui.cli.common import backend_or_exit, settings_or_exit

    backend = backend_or_exit(settings_or_exit())
    from paylink_tui.ui.app import make_app
    from paylink_tui.ui.widgets.pending_table import PendingTable

    app = make_app(backend, live=False, cursor_blink=False)
    out: dict[str, object] = {}

    async def run() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            while not (app.screen.query(PendingTable) and app.screen.query_one(PendingTable).row_count):
                await asyncio.sleep(0.001)
            await pilot.pause()  # a refresh with the rows
            out["first_rows_s"] = time.time() - started
            table = app.screen.query_one(PendingTable)

            async def until(cond) -> float:
                t = time.perf_counter()
                while not cond():
                    await asyncio.sleep(0.001)
                return (time.perf_counter() - t) * 1000

            # "On screen" is the first screen update after the rows went into the table:
            # the frame is composed and rendered as for a terminal (headless, only the
            # write to the terminal is skipped).
            stamps = {"redraw": 0.0, "display": 0.0}
            redraw, display = table._redraw, app._display

            def timed_redraw(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                redraw(*args, **kwargs)
                stamps["redraw"] = time.perf_counter()

            def timed_display(screen, renderable) -> None:  # type: ignore[no-untyped-def]
                display(screen, renderable)
                if renderable is not None:
                    stamps["display"] = time.perf_counter()

            table._redraw = timed_redraw  # type: ignore[method-assign]
            app._display = timed_display  # type: ignore[method-assign]

            # Keys go straight into the search box at ~8 keys/s (Pilot.press would also
            # wait for the app to go idle, which is not what the agent perceives).
            search = app.screen.query_one("#search")
            search.focus()
            keys: list[float] = []
            slowest: list[tuple[float, str]] = []
            for term in SEARCHES:
                for i in range(len(term)):
                    value = term[: i + 1]
                    t = time.perf_counter()
                    search.insert_text_at_cursor(value[-1])
                    await until(lambda v=value, t=t: table.search == v and not table.loading_page
                                and stamps["redraw"] > t and stamps["display"] > stamps["redraw"])
                    if len(value.strip()) >= 3:
                        keys.append((time.perf_counter() - t) * 1000)
                        slowest.append((keys[-1], value))
                    await asyncio.sleep(0.12)
                search.value = ""
                await until(lambda: table.search == "" and not table.loading_page)
                await asyncio.sleep(0.5)
            out["keystroke_ms"] = keys
            out["slowest"] = sorted(slowest, reverse=True)[:3]

            pages: list[float] = []
            table.focus()
            for _ in range(40):
                t = time.perf_counter()
                table.action_page_down()
                await asyncio.sleep(0)
                if table.loading_page:
                    await until(lambda: not table.loading_page)
                    pages.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(0.05)
            out["page_fetch_ms"] = pages
            # As a key would (Pilot.press also waits for the app to go idle): until the frame
            # with the last page.
            t = time.perf_counter()
            table.action_last_page()
            await until(lambda: not table.loading_page and not table.more_after
                        and stamps["redraw"] > t and stamps["display"] > stamps["redraw"])
            out["end_ms"] = (time.perf_counter() - t) * 1000

    asyncio.run(run())
    print(json.dumps(out))


TYPED = "hernandez"  # typed after `/` over the first frame; the frame never shows it


def in_terminal(env: dict[str, str], first_receipt: str) -> tuple[float, float]:
    """(seconds to the first rows on the terminal, seconds until the app acted on keys typed
    as soon as those rows showed: `/` and a name, in one read, until the name is painted in
    the search box; the first frame never paints typed text, so this is the app's doing)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("paylink-tui"))],
                            stdin=secondary, stdout=secondary, stderr=secondary, env=env)
    out, first_rows, acted, typed_at = b"", 0.0, 0.0, 0
    try:
        while proc.poll() is None and not acted:
            if select.select([main], [], [], 0.005)[0]:
                out += os.read(main, 1 << 16)
            if not first_rows and first_receipt.encode() in out:
                first_rows = time.perf_counter() - started
                typed_at = len(out)
                os.write(main, f"/{TYPED}".encode())
            if first_rows and TYPED.encode() in out[typed_at:]:
                acted = time.perf_counter() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(main)
        os.close(secondary)
    return first_rows, acted


def ensure_db(path: str, rows: int) -> str:
    url = f"sqlite:///{path}"
    spec = importlib.util.spec_from_file_location("bench_pending", ROOT / "bench" / "pending.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build(url, rows)
    return url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "paylink-bench.db"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--started", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.started)
        return

    url = ensure_db(args.db, args.rows)
    sys.path.insert(0, str(ROOT))
    from datetime import datetime, timezone

    from paylink_tui.backend.first_page import first_page, sqlite_path

    first_receipt = first_page(sqlite_path(url), datetime.now(timezone.utc), 1)[0].receipt
    env = {**os.environ, "PAYLINK_DATABASE_URL": url, "TERM": "xterm-256color"}
    terminal = [in_terminal(env, first_receipt) for _ in range(args.runs)]
    results = []
    for _ in range(args.runs):
        started = time.time()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", url, "--started", repr(started)],
            capture_output=True, text=True, cwd=ROOT, check=True,
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    first = [r["first_rows_s"] for r in results]
    keys = [k for r in results for k in r["keystroke_ms"]]
    pages = [p for r in results for p in r["page_fetch_ms"]]
    ends = [r["end_ms"] for r in results]
    print(f"TUI sobre {args.rows:,} recibos (SQLite, {args.runs} arranques, 120×36):")
    frame = [t[0] for t in terminal]
    ready = [t[1] for t in terminal]
    print(f"  inicio del comando -> primeras filas en la terminal: mediana "
          f"{statistics.median(frame):.3f} s, peor {max(frame):.3f} s (meta 0.5 s)")
    print(f"  inicio del comando -> la app actúa sobre «/{TYPED}» tecleado sobre esas filas: "
          f"mediana {statistics.median(ready):.3f} s, peor {max(ready):.3f} s (meta 0.6 s)")
    print(f"  inicio del comando -> primeras filas en la app (sin terminal): mediana "
          f"{statistics.median(first):.3f} s, peor {max(first):.3f} s")
    print(f"  tecla en la búsqueda (3+ letras) -> filas en la tabla: mediana "
          f"{statistics.median(keys):.1f} ms, p90 {sorted(keys)[int(len(keys) * 0.9)]:.1f} ms, "
          f"peor {max(keys):.1f} ms (meta 50 ms)")
    slow = sorted((tuple(x) for r in results for x in r["slowest"]), reverse=True)[:5]
    print("  teclas más lentas: " + ", ".join(f"«{v}» {ms:.0f} ms" for ms, v in slow))
    if pages:
        print(f"  Av Pág en el borde de la ventana -> página siguiente: mediana "
              f"{statistics.median(pages):.1f} ms")
    print(f"  Fin -> última página: mediana {statistics.median(ends):.1f} ms")


if __name__ == "__main__":
    main()
