"""Resending from Historial: the address rule of every entry point, and a history that
still names the address the link was generated for."""

from __future__ import annotations

import io

from rich.console import Console
from textual import events
from textual.keys import _character_to_key
from textual.widgets import Static

from paylink_tui.services import links
from paylink_tui.services.history import link_detail
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.prompt import PromptDialog
from tests.ui.conftest import app_for, settle, wait_until


def keys(app, *names: str) -> None:
    """Keys straight into the app's queue, as one read from the terminal."""
    for name in names:
        if len(name) == 1:
            app.post_message(events.Key(_character_to_key(name), name))
        else:
            app.post_message(events.Key(name, "\r" if name == "enter" else None))


async def open_history(pilot) -> HistoryScreen:
    await settle(pilot)
    await pilot.press("h")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.rows)
    return pilot.app.screen


def shown(screen, selector: str) -> str:
    console = Console(width=118, file=io.StringIO(), record=True)
    console.print(screen.query_one(selector, Static).content)
    return console.export_text()


async def test_the_resend_dialog_refuses_an_accented_address_and_changes_nothing(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000006"], email="compras@ferreteria.mx")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_history(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        keys(app, *["backspace"] * len("compras@ferreteria.mx"), *"muñoz@ferreteria.mx", "enter")
        await wait_until(pilot, lambda: "no es válido" in shown(app.screen, "#prompt-error"))
        await settle(pilot)
        assert isinstance(app.screen, PromptDialog)  # Enter did not send it
        error = " ".join(shown(app.screen, "#prompt-error").split())
        assert error.startswith("El correo electrónico «muñoz@ferreteria.mx» no es válido: lleva acentos")
        assert "«munoz@ferreteria.mx»" in error
    detail = link_detail(live_ctx, made.reference)
    assert detail is not None and detail.link.email == "compras@ferreteria.mx"
    assert len(mailbox.messages()) == 1


async def test_after_a_resend_the_detail_still_says_whom_the_link_was_generated_for(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000006"], email="compras@ferreteria.mx")
    links.resend_link_email(live_ctx, made.reference, to="pagos@ferreteria.mx", agent="beto")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_history(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        body = shown(app.screen, "#ld-body")
    facts = [" ".join(line.split()) for line in body.splitlines()]
    assert "Enviada a pagos@ferreteria.mx" in facts
    assert "Generada para compras@ferreteria.mx" in facts
    assert "Liga generada por ana para compras@ferreteria.mx" in body
    assert "Reenvío del correo de la liga, por beto, a pagos@ferreteria.mx (antes compras@ferreteria.mx)" in body
