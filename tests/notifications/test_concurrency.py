"""Exactly once under concurrency: the same notifications received at the same moment by
two processes (the service directly, and two `paylink-tui serve` servers) give one payment
and one confirmation email each."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.notifications.support import (
    all_notifications,
    attempts,
    confirmations,
    link_row,
    make_link,
    notification_xml,
    str_response,
)
from tests.notifications.workers import receive_all

LINKS = 15


def _links_and_bodies(ctx, n: int = LINKS):  # type: ignore[no-untyped-def]
    links = [make_link(ctx) for _ in range(n)]
    bodies = [str_response(notification_xml(x.reference, folio=f"77{i:05d}"))
              for i, x in enumerate(links)]
    return links, bodies


def _check_exactly_once(ctx, links) -> None:  # type: ignore[no-untyped-def]
    assert len(all_notifications(ctx)) == len(links)
    for link in links:
        assert link_row(ctx, link.reference).state == "paid"
        assert len(attempts(ctx, link.id)) == 1
    assert len(confirmations(ctx)) == len(links)


def test_two_processes_receiving_the_same_notifications_apply_each_once(ctx, database_url):
    links, bodies = _links_and_bodies(ctx)
    mp = multiprocessing.get_context("spawn")
    barrier = mp.Barrier(2)
    results = mp.Queue()
    procs = [mp.Process(target=receive_all, args=(database_url, bodies, barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    outs = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    flat = [r for out in outs for r in out]
    assert not [r for r in flat if r[0] == "error"], flat
    # For every notification exactly one of the two saw it as new.
    for i in range(len(bodies)):
        pair = [outs[0][i], outs[1][i]]
        assert pair[0][0] == pair[1][0]
        assert sorted(d for _, d, _ in pair) == [False, True]
    _check_exactly_once(ctx, links)


def test_threads_of_one_process_receiving_the_same_notification_apply_it_once(ctx):
    from paylink_tui.services.notifications import receive_notification

    links, bodies = _links_and_bodies(ctx, 5)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        for body in bodies:
            try:
                receive_notification(ctx, body, deliver=False)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    _check_exactly_once(ctx, links)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_serve(url: str, tmp_path: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "PAYLINK_DATABASE_URL": url, "PAYLINK_GATEWAY": "sandbox",
           "PAYLINK_SMTP_HOST": "127.0.0.1", "PAYLINK_SMTP_PORT": "1",
           "PAYLINK_CONFIG": str(tmp_path / "no-config.toml")}
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "paylink_tui", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/salud", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError((tmp_path / f"{name}.log").read_text())


def test_two_serve_processes_posted_the_same_notifications_apply_each_once(ctx, database_url, tmp_path):
    links, bodies = _links_and_bodies(ctx, 10)
    servers = [_start_serve(database_url, tmp_path, f"serve{i}") for i in range(2)]
    try:
        start = threading.Barrier(2)
        codes: list[int] = []

        def post_all(base: str) -> None:
            with httpx.Client(timeout=30) as http:
                start.wait()
                for body in bodies:
                    codes.append(http.post(f"{base}/mit/notificacion",
                                           data={"strResponse": body}).status_code)

        threads = [threading.Thread(target=post_all, args=(base,)) for _, base in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert codes == [200] * (2 * len(bodies))
        _check_exactly_once(ctx, links)
        log_text = "".join((tmp_path / f"serve{i}.log").read_text() for i in range(2))
        assert "5DCC67393750523CD165F17E1EFADD21" not in log_text  # never the key
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(15)
