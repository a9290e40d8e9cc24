"""Keys typed fast arrive as one burst, as a terminal delivers them in one read: each is
handled as if typed alone (ui/keys.py). Pilot.press waits for the app between keys, which
hides the races; these tests post the whole burst at once, the way the driver does."""

from __future__ import annotations

from textual import events
from textual.keys import _character_to_key
from textual.widgets import Input

from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.widgets.inputs import EmailInput
from tests.ui.conftest import app_for, settle, wait_until


def burst(app, text: str) -> None:
    """Every key of `text` into the app's queue at once, as the driver posts one read."""
    for ch in text:
        key = "enter" if ch == "\r" else "escape" if ch == "\x1b" else _character_to_key(ch)
        app.post_message(events.Key(key, ch))


async def test_letters_right_behind_slash_land_in_the_search_box_not_on_the_bindings(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        burst(app, "/hijos")  # `h` on the table would open Historial
        await wait_until(pilot, lambda: app.screen.query_one("#search", Input).value == "hijos")
        await settle(pilot)
        assert isinstance(app.screen, PendingScreen)
        assert app.screen.focused is app.screen.query_one("#search", Input)


async def test_slash_a_name_enter_l_in_one_burst_opens_the_dialog_for_that_client(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        burst(app, "/hijos\rl")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await settle(pilot)
        dialog = app.screen
        assert [r.receipt for r in dialog.rows] == ["4100000006"]  # Ferretería Peña & Hijos
        assert dialog.query_one("#email", EmailInput).value == "compras@ferreteria.mx"
        assert not any(isinstance(s, HistoryScreen) for s in app.screen_stack)


async def test_an_address_typed_fast_into_the_dialog_keeps_its_first_and_last_keys(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        # Juan Gómez Muñoz has no address on file: the box opens empty. Everything from the
        # search to Generar liga in one read: the dialog is pushed by `l` and its input
        # focused only later, and Enter is a priority binding handled at once.
        burst(app, "/juan\rlmunoz@gmail.com\r")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen), timeout=20)
        link = app.screen.link
        assert link.receipt_numbers == ("4100000005",)
        assert link.email == "munoz@gmail.com"
        assert [p.name.split("-", 2)[2] for p in mailbox.messages()] == ["munoz_gmail.com.eml"]


async def test_an_accented_address_typed_fast_is_refused_whole_with_the_reason(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        burst(app, "/juan\rlmuñoz@gmail.com\r")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await settle(pilot)
        dialog = app.screen
        assert dialog.query_one("#email", EmailInput).value == "muñoz@gmail.com"
        error = str(dialog.query_one("#email-error").render())
        assert error.startswith("El correo electrónico «muñoz@gmail.com» no es válido: lleva acentos")
        assert "«munoz@gmail.com»" in error
        assert dialog.query_one("#generate").disabled
        assert str(dialog.query_one("#link-error").render()) == ""  # Enter did not generate


async def test_escape_and_new_keys_after_a_dialog_go_to_the_screen_beneath(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        burst(app, "l\x1b/ana")  # open, close, then search: each on the screen it was meant for
        await wait_until(pilot, lambda: isinstance(app.screen, PendingScreen)
                         and app.screen.query_one("#search", Input).value == "ana")
        await settle(pilot)
        assert isinstance(app.screen, PendingScreen)


async def test_a_focus_moved_by_a_key_is_where_the_next_key_of_the_burst_goes(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        # Escape in the search box clears it and gives the table the focus (Widget.focus()
        # takes effect on a later turn of the loop); the `h` right behind it is the table's.
        burst(app, "/ana\x1bh")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await settle(pilot)
        pending = next(s for s in app.screen_stack if isinstance(s, PendingScreen))
        assert pending.query_one("#search", Input).value == ""


async def test_a_paste_keeps_its_place_among_the_keys(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.post_message(events.Key("slash", "/"))
        app.post_message(events.Paste("peña"))  # into the box the `/` focused
        burst(app, " ana")
        await wait_until(pilot, lambda: app.screen.query_one("#search", Input).value == "peña ana")
