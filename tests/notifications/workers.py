"""Code run in child processes by the concurrency tests (importable under `spawn`)."""

from __future__ import annotations

from paylink_tui.config import Settings
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine


def receive_all(url: str, bodies: list[str], barrier, results) -> None:  # type: ignore[no-untyped-def]
    """Wait for the other process, then receive every body; report (id, duplicate) or error."""
    from paylink_tui.services.notifications import receive_notification

    engine = make_engine(url)
    settings = Settings(database_url=url, gateway="sandbox", agent="ana",
                        smtp_host="127.0.0.1", smtp_port=1)
    ctx = AppContext(settings=settings, engine=engine)
    barrier.wait(30)
    out = []
    for body in bodies:
        try:
            got = receive_notification(ctx, body, deliver=False)
            out.append((got.notification_id, got.duplicate, got.status))
        except Exception as exc:  # reported to the parent, which fails the test
            out.append(("error", repr(exc), ""))
    results.put(out)
    engine.dispose()
