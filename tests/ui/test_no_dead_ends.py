"""A working day without dead ends: Historial's search and filters, a search that finds only
linked receipts, marks, keys that do not apply, Esc, the dialogs' buttons, the palette and
the clipboard (issue 13)."""

from __future__ import annotations

from textual.widgets import Button, Checkbox, Input, Select

from paylink_tui.services import links
from paylink_tui.ui import texts
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.screens.review import ReviewScreen
from paylink_tui.ui.widgets.detail_pane import DetailPane
from paylink_tui.ui.widgets.pending_table import PendingTable
from tests.ui.conftest import add_link, add_review, app_for, settle, wait_until
from tests.ui.test_history_screen import book, text_of


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_historial_is_searched_and_keeps_its_filters_when_the_agent_comes_back(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and len(app.screen.rows) == 2)
        screen = app.screen
        await pilot.press("slash", *"ferreteria")  # the holder of DA4000004
        await wait_until(pilot, lambda: [r.reference for r in screen.rows] == ["DA4000004211007"])
        await pilot.press("enter")  # to the list, the search kept
        assert screen.focused is screen.query_one("#links")
        screen.query_one("#status-filter", Select).value = "paid"
        await wait_until(pilot, lambda: screen.rows == [] and screen.query_one("#empty").display)
        assert text_of(screen, "#empty").strip() == (
            "Ninguna liga coincide con «ferreteria» con estado «Pagada». Esc borra la búsqueda; "
            "e cambia el filtro de estado.")
        # Away and back: the same filter and search.
        await pilot.press("escape")
        assert isinstance(app.screen, PendingScreen)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        again = app.screen
        await settle(pilot)
        assert again.query_one("#status-filter", Select).value == "paid"
        assert again.query_one("#history-search", Input).value == "ferreteria"
        assert again.rows == [] and again.query_one("#empty").display
        # Esc in the search box empties it.
        await pilot.press("slash", "escape")
        again.query_one("#status-filter", Select).value = "all"
        await wait_until(pilot, lambda: len(again.rows) == 2)
        assert again.query_one("#history-search", Input).value == ""


async def test_a_search_that_finds_only_a_linked_receipt_says_until_when_and_opens_the_link(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    app = app_for(live_ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"2000002")  # GM2000002 typed without its letters
        pane = app.screen.query_one(DetailPane)
        await wait_until(pilot, lambda: made.reference in text_of(app.screen, "#detail-body"))
        said = " ".join(text_of(app.screen, "#detail-body").split())
        assert said.startswith("Ningún recibo pendiente coincide con «2000002».")
        assert (f"El recibo 4100000004 (póliza GM2000002, [bold]Rosa[/bold] Ibáñez) tiene la liga "
                f"{made.reference}, vigente hasta el domingo 10 de octubre de 2021; si no se paga, "
                "vuelve a esta lista el martes 12 de octubre de 2021.") in said
        assert said.endswith("Enter abre la liga.")
        assert pane.detail is None
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        assert app.screen.reference == made.reference
        await pilot.press("escape")  # back where the agent was: the search still there
        assert isinstance(app.screen, PendingScreen)
        assert app.screen.query_one("#search", Input).value == "2000002"


async def test_a_search_that_finds_nothing_at_all_says_how_to_search(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzzz")
        await wait_until(pilot, lambda: "zzzz" in text_of(app.screen, "#detail-body"))
        await settle(pilot)
        assert " ".join(text_of(app.screen, "#detail-body").split()) == texts.no_match("zzzz")
        await pilot.press("enter")  # nothing to open: the focus goes to the (empty) list
        assert isinstance(app.screen, PendingScreen)


async def test_marks_show_whose_they_are_go_into_the_dialog_and_u_clears_them(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(PendingTable)
        await pilot.press("space", "space")  # two receipts of AU1000001 (Ana Peña)
        marks = app.screen.query_one("#marks")
        assert marks.display
        assert " ".join(text_of(app.screen, "#marks").split()) == (
            "● 2 recibos marcados de la póliza AU1000001 (Ana Peña Gómez) · $ 150.34 MXN. "
            "l: liga de esos recibos · u: quitar marcas")
        await pilot.press("down", "down", "down")  # the cursor on another policy
        assert table.current_row.policy != "AU1000001"
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        assert [r.receipt for r in dialog.rows] == ["4100000001", "4100000002"]
        assert "Recibos 4100000001, 4100000002" in text_of(dialog, "#link-receipts")
        assert text_of(dialog, "#link-note").split() == texts.marked_elsewhere(2, "AU1000001").split()
        await pilot.press("escape")
        await pilot.press("u")
        await settle(pilot)
        assert table.marked == [] and not marks.display
        assert texts.MARKS_CLEARED in toasts(app)
        await pilot.press("l")  # now the receipt under the cursor
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        assert [r.receipt for r in app.screen.rows] == [table.current_row.receipt]
        assert not app.screen.query("#link-note")
        assert text_of(app.screen, "#link-receipts").startswith("Recibo ")


async def test_keys_that_do_not_apply_to_a_link_say_why(ctx):
    book(ctx.engine)  # DA4000004211007 active, AU1000001211006 paid
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        await pilot.press("t")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app)[-1] == texts.retry_not_needed("DA4000004211007", "activa")
        await pilot.press("escape", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail
                         and app.screen.reference == "AU1000001211006")
        await pilot.press("r")
        await wait_until(pilot, lambda: len(toasts(app)) == 2)
        assert toasts(app)[-1] == "La liga AU1000001211006 está pagada: sólo se reenvían ligas vigentes."
        await pilot.press("x")
        await wait_until(pilot, lambda: len(toasts(app)) == 3)
        assert toasts(app)[-1] == "La liga AU1000001211006 está pagada: sólo se cancelan ligas vigentes."


async def test_escape_returns_to_the_screen_the_agent_came_from(ctx):
    add_review(ctx.engine, reference="ZZ-NO-EXISTE", amount="10.00")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("v")  # "Por revisar" from the pending list…
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("escape")  # …goes back to the pending list
        assert isinstance(app.screen, PendingScreen)
        await pilot.press("h", "v")  # from Historial…
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("escape")  # …back to Historial
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("v", "h")  # Historial is below: h goes down to it, not on top
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert [type(s).__name__ for s in app.screen_stack[1:]] == ["PendingScreen", "HistoryScreen"]
        await pilot.press("escape")
        assert isinstance(app.screen, PendingScreen)
        await pilot.press("escape")  # never past the pending list
        assert isinstance(app.screen, PendingScreen)


async def test_left_and_right_move_between_a_dialog_s_buttons(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        await pilot.press("left")  # in the address: the cursor moves, the focus stays
        assert dialog.focused.id == "email"
        dialog.query_one("#generate", Button).focus()
        await pilot.press("right")
        assert dialog.focused.id == "cancel"
        await pilot.press("right")  # around
        assert dialog.focused.id == "generate"
        await pilot.press("left")
        assert dialog.focused.id == "cancel"
        await pilot.press("enter")  # "Cancelar" does what it says
        assert isinstance(app.screen, PendingScreen)


async def palette_names(pilot) -> list[str]:
    from textual.command import CommandList

    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: pilot.app.screen.query(CommandList)
                     and pilot.app.screen.query_one(CommandList).option_count)
    await pilot.pause(0.3)
    options = pilot.app.screen.query_one(CommandList)
    names = [str(options.get_option_at_index(i).prompt).split("\n")[0]
             for i in range(options.option_count)]
    await pilot.press("escape")
    return names


async def test_the_palette_lists_every_action_of_the_current_screen(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        home = await palette_names(pilot)
        for name in ("Liga de pago", "Buscar", "Marcar", "Historial", "Por revisar", "Ayuda",
                     "Salir", "Actualizar", "Primera página", "Última página"):
            assert any(n.startswith(name) for n in home), (name, home)
        assert "Quitar marcas" not in home  # nothing is marked
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        history = await palette_names(pilot)
        for name in ("Volver", "Buscar", "Detalle", "Reenviar", "Cancelar liga", "Copiar liga",
                     "Mis ligas", "Filtrar por estado", "Por revisar", "Actualizar", "Pendientes de pago"):
            assert any(n.startswith(name) for n in history), (name, history)
        assert not any(n.startswith("Liga de pago") for n in history)
        from textual.widgets import DataTable

        english = {b.description for b in [*DataTable.BINDINGS, *Input.BINDINGS] if b.description}
        assert english and not english & {n.split(" ")[0] for n in home + history}


async def test_the_copy_is_told_only_when_the_clipboard_took_it(live_ctx, mailbox, fake_xclip, reset_clipboard):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(LinkSentScreen(made))
        await wait_until(pilot, lambda: app.screen.query("#sent-copied")
                         and texts.COPIED in text_of(app.screen, "#sent-copied"))
        assert fake_xclip.read_text() == made.url


async def test_without_a_clipboard_the_agent_is_told_how_to_copy(live_ctx, mailbox, reset_clipboard):
    add_link(live_ctx.engine, reference="AU1000001211006", receipt_ids=[1], amount="75.17")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        await pilot.press("c")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app) == [texts.copied_link("AU1000001211006", known=False)]
        assert "selecciónela con el ratón" in toasts(app)[0]
        assert app.clipboard == "https://sandbox.example/pago/AU1000001211006"  # OSC 52 all the same


async def test_mis_ligas_and_the_review_count_stay_usable_at_80_columns(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        screen = app.screen
        await pilot.press("m")
        assert screen.query_one("#mine", Checkbox).value
        await wait_until(pilot, lambda: len(screen.rows) == 1)
        table = screen.query_one("#links")
        keys = [str(k.value) for k in table.columns]
        assert keys[:2] == ["mark", "reference"] and {"holder", "amount", "status"} <= set(keys)
        line = table.render_line(1).text
        assert "AU1000001211006" in line and "75.17 MXN" in line and "Pagada" in line


async def test_por_revisar_names_payments_by_folio_and_reference_never_by_internal_number(ctx):
    from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog

    book(ctx.engine)
    add_review(ctx.engine, reference="ZZ-NO-EXISTE", amount="8900.50")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.items)
        assert "Cobrado por MIT: 06/10/2021 17:30" in text_of(app.screen, "#review-detail")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        assert " ".join(text_of(app.screen, "#prompt-message").split()) == (
            "Resolver sin aplicar el pago con folio 99887766 de la referencia ZZ-NO-EXISTE. "
            "Explique por qué en la nota.")
        await pilot.press("escape", "a")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        assert "Aplicar el pago con folio 99887766 de la referencia ZZ-NO-EXISTE a la liga" in " ".join(
            text_of(app.screen, "#prompt-message").split())
        await pilot.press(*["backspace"] * 20, *"DA4000004211007", "enter")
        # Taken (06/10) before that link existed (07/10): applied once the agent accepts it.
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app) == ["El pago con folio 99887766 de la referencia ZZ-NO-EXISTE se aplicó a la "
                               "liga DA4000004211007."]
