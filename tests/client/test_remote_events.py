"""The remote backend's events: the server's SSE stream read in the background, handed out
by `events(cursor)` as the TUI polls it; after a server restart on the same address the
stream resumes with Last-Event-ID and nothing is lost or repeated."""

from __future__ import annotations

import time

from paylink_tui.backend.local import LocalBackend
from paylink_tui.web.app import create_app
from paylink_tui.web.server import BackgroundServer
from tests.api.conftest import Team


def _poll(backend, cursor, want: int, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        try:
            batch = backend.events(cursor)
        except Exception:  # noqa: BLE001 - the server is restarting: poll again
            time.sleep(0.2)
            continue
        got += batch.events
        cursor = batch.cursor
        time.sleep(0.1)
    return got, cursor


def _link_for(team: Team, user: str, receipt: str) -> str:
    from paylink_tui.services.users import authenticate
    from tests.api.conftest import PASSWORD

    who = authenticate(team.ctx, user, PASSWORD)
    return LocalBackend(team.ctx.for_principal(who)).generate_link(
        receipt_numbers=[receipt], email="c@example.com").reference


def test_events_arrive_from_the_stream_and_only_the_agents_own(team: Team, remote) -> None:
    ana = remote("ana")
    woken = []
    ana.on_events = lambda: woken.append(1)
    first = ana.events(None)
    assert first.events == []
    ref = _link_for(team, "ana", "PA-100-1")
    _link_for(team, "beto", "PB-100-1")  # not ana's portfolio: never reaches her
    got, cursor = _poll(ana, first.cursor, 1)
    assert [e.reference for e in got] == [ref] and got[0].kind == "link_changed"
    assert woken  # told at once, before the next poll
    time.sleep(1.0)
    assert ana.events(cursor).events == []  # nothing repeated, beto's never shown


def test_events_resume_after_a_server_restart(team: Team, remote) -> None:
    ana = remote("ana")
    cursor = ana.events(None).cursor
    before = _link_for(team, "ana", "PA-100-1")
    got, cursor = _poll(ana, cursor, 1)
    assert [e.reference for e in got] == [before]
    port = team.server.port
    team.server.stop()  # the agency server goes away...
    during = _link_for(team, "ana", "PA-100-2")  # ...while a use case on it records an event
    time.sleep(1.5)
    try:
        ana.events(cursor)
        raise AssertionError("the stream should be down")
    except Exception as exc:  # noqa: BLE001
        assert "conexión" in str(exc)
    from paylink_tui.web.api import api_state

    app = create_app(team.ctx, team=True, api_state=api_state(team.ctx), deliver_interval=0,
                     reminder_interval=0)
    again = BackgroundServer(app, port=port).start()  # ...and comes back on its address
    try:
        got, cursor = _poll(ana, cursor, 1)
        assert [e.reference for e in got] == [during]
        after = _link_for(team, "ana", "PA-200-1")
        got, cursor = _poll(ana, cursor, 1)
        assert [e.reference for e in got] == [after]
        assert ana._events.connections >= 2
    finally:
        again.stop()


def test_keep_alive_pings_between_events_are_not_events(team: Team, remote, monkeypatch,
                                                        caplog) -> None:
    """The server's keep-alive comment after an event with an id reaches httpx-sse as an
    event with no data: it is neither handed out nor logged as unreadable."""
    import logging

    from paylink_tui.web.api import stream

    monkeypatch.setattr(stream, "PING", 0.2)
    ana = remote("ana")
    cursor = ana.events(None).cursor
    ref = _link_for(team, "ana", "PA-100-1")
    got, cursor = _poll(ana, cursor, 1)
    assert [e.reference for e in got] == [ref]
    with caplog.at_level(logging.WARNING, logger="paylink_tui"):
        time.sleep(1.5)  # some pings
        assert ana.events(cursor).events == []
    assert not [r for r in caplog.records if "could not be read" in r.getMessage()]


def test_stopping_the_server_ends_open_streams_cleanly(team: Team, remote, caplog) -> None:
    """An agent's open event stream ends when the server stops: no task cancelled when the
    graceful shutdown runs out, no traceback in the server's log (the demo printed one on
    quitting)."""
    import logging

    ana = remote("ana")
    ana.events(None)  # the stream is open
    deadline = time.monotonic() + 10
    while not ana._events.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ana._events.connected.is_set()
    with caplog.at_level(logging.INFO):
        started = time.monotonic()
        team.server.stop()
        took = time.monotonic() - started
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "graceful shutdown" in r.getMessage()]
    assert took < 1.0  # the grace (1 s) never ran out
