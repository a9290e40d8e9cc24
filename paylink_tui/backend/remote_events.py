"""The server's event stream (`GET /api/v1/eventos`, Server-Sent Events), read by a
background thread with httpx-sse for the remote backend's `events()`.

The reader keeps the id of the last event it received and reconnects with it as
`Last-Event-ID` after a dropped connection or a server restart (waiting 0.5 s, then longer up
to RECONNECT_MAX), so no event is lost or repeated: the server's cursor is the event table's
id. What arrives is buffered until `take(cursor)` hands it out (the TUI's polling loop, which
works the same over the local backend), and the backend's `on_events` hook is told at once
so that the toast does not wait for the next poll.

A 401 (the session ended) goes through the backend's sign-in-again path; while the stream is
down, `take` raises the reason (BackendUnavailable or SessionExpired) once the buffer is
empty, which the TUI shows in its status line.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

import httpx
from httpx_sse import SSEError, connect_sse

from paylink_tui.backend.codec import CodecError, from_json
from paylink_tui.backend.routes import EVENTS_PATH
from paylink_tui.domain.errors import AgentError, SessionExpired
from paylink_tui.domain.results import Event, EventBatch

if TYPE_CHECKING:  # pragma: no cover
    from paylink_tui.backend.remote import RemoteBackend

log = logging.getLogger("paylink_tui.backend.remote")

RECONNECT_FIRST = 0.5
RECONNECT_MAX = 5.0
READ_TIMEOUT = 60.0  # the server sends a comment every 15 s: silence this long is a drop


def _as_int(cursor: str | None) -> int | None:
    if cursor is None or not cursor.isdigit():
        return None
    return int(cursor)


class EventReader:
    def __init__(self, backend: RemoteBackend, cursor: str) -> None:
        self.backend = backend
        self.start_cursor = cursor
        self.last_id = cursor  # of the last event received (the Last-Event-ID)
        self._buffer: list[Event] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: AgentError | None = None
        self.connected = threading.Event()
        self.connections = 0  # how many times the stream was (re)opened: for the tests
        self._thread = threading.Thread(target=self._run, name="paylink-events", daemon=True)
        self._client = httpx.Client(base_url=backend.server, transport=backend._transport,
                                    timeout=httpx.Timeout(backend.timeout, read=READ_TIMEOUT))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        try:
            self._client.close()
        except Exception:  # noqa: BLE001, S110 - closing while the thread reads
            pass

    # -- the consumer's side ------------------------------------------------------------------

    def knows(self, cursor: str) -> bool:
        """Whether `cursor` is one this reader handed out (its start or a later event)."""
        low, given, high = _as_int(self.start_cursor), _as_int(cursor), _as_int(self.last_id)
        return None not in (low, given, high) and low <= given <= high  # type: ignore[operator]

    def take(self, cursor: str) -> EventBatch:
        """The events after `cursor` (those up to it are dropped: they were handed out)."""
        after = _as_int(cursor) or 0
        with self._lock:
            self._buffer = [e for e in self._buffer if (_as_int(e.id) or 0) > after]
            found = list(self._buffer)
            error = self._error if not self.connected.is_set() else None
        if not found and error is not None:
            raise error
        return EventBatch(events=found, cursor=found[-1].id if found else cursor)

    # -- the reader thread ------------------------------------------------------------------

    def _failed(self, error: AgentError) -> None:
        self.connected.clear()
        with self._lock:
            self._error = error
        if not isinstance(error, SessionExpired):
            self.backend._report(error.message)

    def _run(self) -> None:
        from paylink_tui.backend.remote import _unavailable, transport_reason

        delay = RECONNECT_FIRST
        while not self._stop.is_set():
            token = self.backend.token
            try:
                if self._read(token):
                    delay = RECONNECT_FIRST  # it had been up: try again soon
            except SessionExpired as exc:
                self._failed(exc)
            except (httpx.HTTPError, SSEError) as exc:
                if self._stop.is_set():
                    return
                self._failed(_unavailable(self.backend.server, transport_reason(exc)
                                          if isinstance(exc, httpx.HTTPError)
                                          else "respondió algo que no se pudo leer"))
            except AgentError as exc:
                self._failed(exc)
            except Exception:  # a bug: logged, the stream is tried again
                log.exception("event stream failed")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, RECONNECT_MAX)

    def _read(self, token: str) -> bool:
        """One connection, read until it ends. True when it was up (a clean end)."""
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": self.last_id,
                   "Accept": "text/event-stream"}
        with connect_sse(self._client, "GET", EVENTS_PATH, headers=headers) as source:
            got = source.response
            if got.status_code == 401:
                self.backend._session_ended(token)  # returns once signed in again, or raises
                return True
            if got.status_code != 200:
                got.read()
                raise self.backend._error(got)
            self.connections += 1
            for sse in source.iter_sse():
                if self._stop.is_set():
                    return True
                if sse.event == "ready":
                    self._connected()
                    continue
                if sse.event == "session_ended":
                    self.connected.clear()
                    self.backend._session_ended(token)
                    return True
                if not sse.data:
                    # Not an event: the server's keep-alive comment. httpx-sse hands each
                    # blank line on as one once an id has been seen; the SSE spec says a
                    # block with no data dispatches nothing.
                    continue
                try:
                    event = from_json(Event, json.loads(sse.data))
                except (ValueError, CodecError):
                    log.warning("event stream: an event that could not be read was skipped")
                    continue
                with self._lock:
                    self._buffer.append(event)
                    self.last_id = event.id
                hook = self.backend.on_events
                if hook is not None:
                    try:
                        hook()
                    except Exception:  # noqa: BLE001, S110 - a hook never stops the stream
                        pass
        self.connected.clear()
        return True

    def _connected(self) -> None:
        with self._lock:
            self._error = None
        self.connected.set()
        self.backend._report(None)
