"""The TUI open over the agency server while the server restarts (Textual Pilot, real uvicorn
on loopback, SQLite and PostgreSQL): a payment applied while the server was away reaches the
open app once the server is back on its address — the payment toast, once, and the link
"Pagada" in Historial — with no restart of the app and nothing asked of the agent."""

from __future__ import annotations

from paylink_tui.backend.local import LocalBackend
from paylink_tui.services.notifications import receive_notification
from paylink_tui.services.users import authenticate
from paylink_tui.ui.app import make_app
from paylink_tui.ui.connection import ConnectionLine
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.web.api import api_state
from paylink_tui.web.app import create_app
from paylink_tui.web.server import BackgroundServer
from tests.api.conftest import PASSWORD, Team
from tests.notifications.support import notification_xml, str_response
from tests.ui.conftest import settle, wait_until

TOAST = "Pago aprobado: póliza PA-100"


def _toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications if n.message.startswith(TOAST)]


async def test_a_payment_applied_while_the_server_was_away_reaches_the_open_tui(
        team: Team, remote, clock) -> None:
    ana = remote("ana")
    made = LocalBackend(team.ctx.for_principal(authenticate(team.ctx, "ana", PASSWORD))
                        ).generate_link(receipt_numbers=["PA-100-1"], email="c@example.com")
    app = make_app(ana, live=True, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        assert [r.status for r in app.screen.rows if r.reference == made.reference] == ["active"]

        port = team.server.port
        team.server.stop()  # the agency server goes away (an update, a reboot)...
        await wait_until(pilot, lambda: app.screen.query(ConnectionLine), timeout=20)
        # ...and while it is away the payment is applied (another worker, `serve` on the
        # same database): its event waits in the event table.
        clock.advance(seconds=3)
        receive_notification(team.ctx, str_response(notification_xml(made.reference,
                                                                     amount="100.00")))
        assert _toasts(app) == []

        again = BackgroundServer(create_app(team.ctx, team=True, api_state=api_state(team.ctx),
                                            deliver_interval=0, reminder_interval=0),
                                 port=port).start()
        try:
            await wait_until(pilot, lambda: _toasts(app), timeout=30)
            await wait_until(pilot, lambda: not app.screen.query(ConnectionLine), timeout=20)
            await wait_until(pilot, lambda: [r.status for r in app.screen.rows
                                             if r.reference == made.reference] == ["paid"],
                             timeout=20)
            await pilot.pause(2.5)  # told once: the resumed stream repeats nothing
            assert len(_toasts(app)) == 1
        finally:
            again.stop()
