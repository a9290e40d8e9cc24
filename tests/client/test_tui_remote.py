"""The TUI over the agency server (Textual Pilot, real uvicorn on loopback): a session that
ends mid-work asks for the password in a dialog over what the agent was doing, and the call
that found it ended goes on; a server that stops answering is told in the status line and
the line goes when it is back."""

from __future__ import annotations

import httpx
from textual.widgets import Input, Static

from paylink_tui.backend.routes import SESSION_PATH
from paylink_tui.ui.app import make_app
from paylink_tui.ui.connection import ConnectionLine
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.sign_in import SignInDialog
from tests.api.conftest import PASSWORD, Team
from tests.ui.conftest import settle, wait_until


def _end_session(team: Team, token: str) -> None:
    with httpx.Client(base_url=team.url) as c:
        assert c.delete(SESSION_PATH, headers={"Authorization": f"Bearer {token}"}
                        ).status_code == 204


def _error_text(screen) -> str:  # type: ignore[no-untyped-def]
    return str(screen.query_one("#prompt-error", Static).render())


async def test_an_ended_session_mid_link_asks_to_sign_in_and_the_link_is_made(
        team: Team, remote) -> None:
    ana = remote("ana")
    app = make_app(ana, live=False, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        _end_session(team, ana.token)  # 12 hours idle, say
        await pilot.press("enter")  # Generar liga
        await wait_until(pilot, lambda: isinstance(app.screen, SignInDialog))
        sign_in = app.screen
        assert dialog in app.screen_stack  # what the agent was doing is still there
        assert "Su sesión terminó" in str(sign_in.query_one("#prompt-title", Static).render())
        assert "ana" in str(sign_in.query_one("#sign-in-user").render())
        sign_in.query_one("#sign-in-password", Input).value = "no-es-la-contraseña"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "incorrectos" in _error_text(sign_in))
        assert app.screen is sign_in
        assert sign_in.query_one("#sign-in-password", Input).value == ""
        sign_in.query_one("#sign-in-password", Input).value = PASSWORD
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen), timeout=20)
        link = app.screen.link
        assert link.receipt_numbers == ("PA-100-1",) and link.email == "pa-100@example.com"
        assert ana.list_links()[0].reference == link.reference


async def test_leaving_the_sign_in_dialog_ends_the_app(team: Team, remote) -> None:
    ana = remote("ana")
    app = make_app(ana, live=False, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        _end_session(team, ana.token)
        await pilot.press("f5")  # the list again: the session is gone
        await wait_until(pilot, lambda: isinstance(app.screen, SignInDialog))
        await pilot.click("#leave")
        await wait_until(pilot, lambda: not app.is_running)


async def test_a_server_that_stops_answering_is_told_in_the_status_line(team: Team, remote) -> None:
    from paylink_tui.web.api import api_state
    from paylink_tui.web.app import create_app
    from paylink_tui.web.server import BackgroundServer

    ana = remote("ana")
    app = make_app(ana, live=True, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        port = team.server.port
        team.server.stop()
        await wait_until(pilot, lambda: app.screen.query(ConnectionLine), timeout=20)
        line = str(app.screen.query_one(ConnectionLine).render())
        assert "No hay conexión con el servidor de la agencia" in line
        assert "reintentar" in line
        server = BackgroundServer(create_app(team.ctx, team=True, api_state=api_state(team.ctx),
                                             deliver_interval=0, reminder_interval=0),
                                  port=port).start()
        try:
            await wait_until(pilot, lambda: not app.screen.query(ConnectionLine), timeout=20)
            assert app.connection_problem is None
        finally:
            server.stop()
