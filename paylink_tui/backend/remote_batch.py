"""run_batch over the server: one POST whose answer is NDJSON (routes.py, STREAM): a
`{"progress": …}` line per link, then `{"outcome": …}` or an error line. `should_stop()` is
asked after each line; closing the connection stops the batch on the server (no further link
is started; the ones under way finish and are kept)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from paylink_tui.backend import routes as table
from paylink_tui.backend.codec import CodecError, error_from_json, from_json
from paylink_tui.domain.errors import BackendUnavailable
from paylink_tui.domain.results import BatchOutcome, BatchPlan, BatchProgress, BatchResult

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.remote import RemoteBackend

STOPPED = ("El servidor cortó el envío de las ligas antes de terminar: las que alcanzó a "
           "generar están en el Historial; vuelva a enviar el lote para las demás (ninguna se "
           "genera dos veces).")


def run_batch(backend: RemoteBackend, plan: BatchPlan, *,
              on_progress: Callable[[BatchProgress], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> BatchOutcome:
    from paylink_tui.backend.remote import BATCH_READ_TIMEOUT, _unavailable, transport_reason

    route = table.ROUTES["run_batch"]
    path, _query, body = table.encode_call(route, {"plan": plan})
    timeout = httpx.Timeout(backend.timeout, read=BATCH_READ_TIMEOUT)
    seen: list[BatchResult] = []
    for _ in range(3):
        token = backend.token
        try:
            with backend._client.stream("POST", path, json=body, timeout=timeout,
                                        headers=backend._headers(token)) as got:
                if got.status_code == 401:
                    backend._session_ended(token)
                    continue
                if got.status_code != 200:
                    got.read()
                    raise backend._error(got)
                for line in got.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except ValueError:
                        raise backend._garbage(got) from None
                    if "progress" in item:
                        try:
                            progress = from_json(BatchProgress, item["progress"])
                        except CodecError:
                            raise backend._garbage(got) from None
                        if progress.last is not None:
                            seen.append(progress.last)
                        if on_progress is not None:
                            on_progress(progress)
                        if should_stop is not None and should_stop():
                            # Leaving the block closes the connection: the server starts no
                            # further link (those under way finish and are in the Historial).
                            return _stopped(plan, seen)
                    elif "outcome" in item:
                        try:
                            return from_json(BatchOutcome, item["outcome"])
                        except CodecError:
                            raise backend._garbage(got) from None
                    else:
                        raise error_from_json(item)
                raise BackendUnavailable(STOPPED)
        except httpx.HTTPError as exc:
            raise _unavailable(backend.server, transport_reason(exc)) from None
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
