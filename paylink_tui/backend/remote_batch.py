"""run_batch over the server: one POST whose answer is NDJSON (routes.py, STREAM): a first
`{"batch": id}` line, a `{"progress": …}` line per link, then `{"outcome": …}` or an error
line.

Stopping: a watcher thread asks `should_stop()` every STOP_POLL seconds while the lines come;
once it is true it asks the server to stop that batch (`stop_batch(id)`, which any `serve`
worker can record) and the lines are read on to the batch's own outcome: the links under way
finish on the server and are counted as made, the rest as not tried. Only when the stop cannot
reach the server is the connection closed (that stops the batch too), and the outcome is then
told from the lines read so far."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from paylink_tui.backend import routes as table
from paylink_tui.backend.codec import CodecError, error_from_json, from_json
from paylink_tui.domain.errors import AgentError, BackendUnavailable
from paylink_tui.domain.results import BatchOutcome, BatchPlan, BatchProgress, BatchResult

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.remote import RemoteBackend

STOPPED = ("El servidor cortó el envío de las ligas antes de terminar: las que alcanzó a "
           "generar están en el Historial; vuelva a enviar el lote para las demás (ninguna se "
           "genera dos veces).")
STOP_POLL = 0.05  # seconds between two looks at should_stop() while a batch runs


class _StopWatcher(threading.Thread):
    """Asks should_stop() while the batch runs; once true, asks the server to stop it."""

    def __init__(self, backend: RemoteBackend, should_stop: Callable[[], bool]) -> None:
        super().__init__(name="paylink-batch-stop", daemon=True)
        self.backend = backend
        self.should_stop = should_stop
        self.batch_id: int | None = None
        self.failed = False  # the stop could not reach the server: close the connection
        self.over = threading.Event()

    def run(self) -> None:
        while not self.over.wait(STOP_POLL):
            if self.batch_id is not None and self.should_stop():
                try:
                    self.backend.stop_batch(self.batch_id)  # None: it had finished already
                except (AgentError, httpx.HTTPError):
                    self.failed = True
                return


def run_batch(backend: RemoteBackend, plan: BatchPlan, *,
              on_progress: Callable[[BatchProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchOutcome:
    from paylink_tui.backend.remote import BATCH_READ_TIMEOUT, _unavailable, transport_reason

    route = table.ROUTES["run_batch"]
    path, _query, body = table.encode_call(route, {"plan": plan})
    timeout = httpx.Timeout(backend.timeout, read=BATCH_READ_TIMEOUT)
    for _ in range(3):
        token = backend.token
        seen: list[BatchResult] = []
        watcher = _StopWatcher(backend, should_stop) if should_stop is not None else None
        try:
            with backend._client.stream("POST", path, json=body, timeout=timeout,
                                        headers=backend._headers(token)) as got:
                if got.status_code == 401:
                    backend._session_ended(token)
                    continue
                if got.status_code != 200:
                    got.read()
                    raise backend._error(got)
                if watcher is not None:
                    watcher.start()
                for line in got.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except ValueError:
                        raise backend._garbage(got) from None
                    if not isinstance(item, dict):
                        raise backend._garbage(got)
                    if "batch" in item:
                        if watcher is not None and isinstance(item["batch"], int):
                            watcher.batch_id = item["batch"]
                    elif "progress" in item:
                        try:
                            progress = from_json(BatchProgress, item["progress"])
                        except CodecError:
                            raise backend._garbage(got) from None
                        if progress.last is not None:
                            seen.append(progress.last)
                        if on_progress is not None:
                            on_progress(progress)
                    elif "outcome" in item:
                        try:
                            return from_json(BatchOutcome, item["outcome"])
                        except CodecError:
                            raise backend._garbage(got) from None
                    else:
                        raise error_from_json(item)
                    if watcher is not None and watcher.failed:
                        # Leaving the block closes the connection: the server starts no
                        # further link (those under way finish and are in the Historial).
                        return _stopped(plan, seen)
                raise BackendUnavailable(STOPPED)
        except httpx.HTTPError as exc:
            raise _unavailable(backend.server, transport_reason(exc)) from None
        finally:
            if watcher is not None:
                watcher.over.set()
    from paylink_tui.domain.errors import SessionExpired

    raise SessionExpired()


def _stopped(plan: BatchPlan, seen: list[BatchResult]) -> BatchOutcome:
    from paylink_tui.domain.batch import FAILED, MADE, SKIPPED, UNCONFIRMED

    by: dict[str, list[BatchResult]] = {MADE: [], SKIPPED: [], FAILED: []}
    for r in seen:
        by[FAILED if r.outcome in (FAILED, UNCONFIRMED) else r.outcome].append(r)
    done = {(r.policy, r.currency, tuple(r.receipts)) for r in seen}
    not_run = tuple(link for link in plan.links
                    if (link.policy, link.currency, tuple(link.receipts)) not in done)
    return BatchOutcome(made=tuple(by[MADE]), skipped=tuple(by[SKIPPED]),
                        failed=tuple(by[FAILED]), plan_skipped=plan.skipped, stopped=True,
                        not_run=not_run)
