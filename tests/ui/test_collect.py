"""The collection tools in the TUI (issue 17): the lapse column and its order, the link
dialog's warnings and ctrl+o, WhatsApp copied or shown, reminders in the link's detail and
"sin recordatorios", and many links at once, against the sandbox over HTTP and a loopback
SMTP server, on the frozen clock (07/10/2021 16:04 local)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from paylink_tui.services import links
from paylink_tui.store.db import write_session
from paylink_tui.store.models import Client, PaymentLink, Policy
from paylink_tui.ui import texts
from paylink_tui.ui.screens.batch import BatchScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.screens.whatsapp import WhatsAppDialog
from paylink_tui.ui.widgets.pending_table import PendingTable
from tests.helpers import seed
from tests.ui.conftest import app_for, cells, settle, text_of, wait_until


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


def set_phone(engine, policy: str, phone: str) -> None:
    with write_session(engine) as s:
        pol = s.exec(select(Policy).where(Policy.number == policy)).one()
        client = s.get(Client, pol.client_id)
        client.phone = phone
        s.add(client)


def table_of(app) -> PendingTable:
    return app.screen.query_one(PendingTable)


# --- the lapse clock ----------------------------------------------------------------------------


async def test_the_lapse_column_says_when_each_policy_ceases_and_colours_the_urgent(make_ctx):
    # Grace 8 days: 4100000004 (due 30/09) ceases 08/10 at 12:00, tomorrow; 4100000005 (due
    # 02/10) on 10/10, in 3 days.
    ctx = make_ctx(grace_days=8)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        by_receipt = {row.receipt: cells(table, i)["lapse"] for i, row in enumerate(table.rows_window)}
        assert by_receipt["4100000004"] == "Cesa en 1 día"  # 30/09 + 8 = 08/10 at 12:00
        assert by_receipt["4100000005"] == "Cesa en 3 días"  # 02/10 + 8 = 10/10
        assert by_receipt["4100000003"] == "Cesa en 77 días"  # 15/12 + 8 = 23/12
        i = next(i for i, r in enumerate(table.rows_window) if r.receipt == "4100000004")
        soon = table.get_component_rich_style("pending-table--lapse-soon", partial=True)
        assert table.get_cell_at((i, len(table.columns) - 1)).style == soon
        j = next(i for i, r in enumerate(table.rows_window) if r.receipt == "4100000003")
        assert table.get_cell_at((j, len(table.columns) - 1)).style != soon


async def test_a_lapsed_policy_and_one_that_ceases_today_read_as_the_issue_words_them(make_ctx, clock):
    ctx = make_ctx(grace_days=7)  # 30/09 + 7 = 07/10 (today, 16:04: ceased); 02/10 + 7 = 09/10
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        by_receipt = {row.receipt: cells(table, i)["lapse"] for i, row in enumerate(table.rows_window)}
        assert by_receipt["4100000004"] == "Cesó 07/10"
        lapsed = table.get_component_rich_style("pending-table--lapsed", partial=True)
        i = next(i for i, r in enumerate(table.rows_window) if r.receipt == "4100000004")
        assert table.get_cell_at((i, len(table.columns) - 1)).style == lapsed
    clock.set(clock() - timedelta(hours=6))  # 10:04 local: before noon on the lapse day
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        by_receipt = {row.receipt: cells(table, i)["lapse"] for i, row in enumerate(table.rows_window)}
        assert by_receipt["4100000004"] == "Cesa hoy 12:00"


async def test_o_sorts_by_lapse_most_urgent_first_and_back_and_the_header_says_which(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        screen = app.screen
        assert screen.sub_title == "por póliza (o: por cese)"
        by_policy = [r.receipt for r in table.rows_window]
        await pilot.press("o")
        await wait_until(pilot, lambda: not table.loading_page)
        await settle(pilot)
        assert screen.sub_title == "por cese, urgentes primero (o: póliza)"
        assert [r.due_date for r in table.rows_window] == sorted(r.due_date for r in table.rows_window)
        assert table.rows_window[0].receipt == "4100000004"  # due 30/09: the first to cease
        assert table.cursor_row == 0
        # The search keeps the order; so do the pages (keys of the lapse order).
        await pilot.press("slash", *"pena", "enter")
        await wait_until(pilot, lambda: table.search == "pena" and not table.loading_page)
        assert [r.receipt for r in table.rows_window] == ["4100000001", "4100000006",
                                                           "4100000002", "4100000003"]
        await pilot.press("escape", "slash", "escape")
        await wait_until(pilot, lambda: table.search == "" and not table.loading_page)
        await pilot.press("o")
        await wait_until(pilot, lambda: not table.loading_page and screen.sub_title == "por póliza (o: por cese)")
        await settle(pilot)
        assert [r.receipt for r in table.rows_window] == by_policy


async def test_the_lapse_order_pages_through_a_long_list_without_losing_or_repeating_rows(make_ctx):
    ctx = make_ctx()
    extra = [dict(policy=f"ZZ{n:07d}", receipt=f"42{n:08d}", email=f"c{n}@example.com",
                  due=date(2021, 9, 1) + timedelta(days=n % 90)) for n in range(160)]
    seed(ctx.engine, extra)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = table_of(app)
        await pilot.press("o")
        await wait_until(pilot, lambda: not table.loading_page and table.sort == "lapse")
        seen = []
        for _ in range(400):
            row = table.current_row
            if row is not None and (not seen or seen[-1] != row.receipt):
                seen.append(row.receipt)
            if table.cursor_row == len(table.rows_window) - 1 and not table.more_after:
                break
            await pilot.press("down")
            if table.loading_page:
                await wait_until(pilot, lambda: not table.loading_page)
        assert len(seen) == 166 and len(set(seen)) == 166
        keys = [(r.due_date, r.policy, r.receipt) for r in table.rows_window]
        assert keys == sorted(keys)


# --- the link dialog's warnings ---------------------------------------------------------------


async def test_the_dialog_names_the_older_receipts_left_out_and_ctrl_o_takes_them(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("down", "down", "l")  # 4100000003 (due 15/12): 15/10 and 15/11 are older
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        await wait_until(pilot, lambda: dialog.preview is not None)
        await settle(pilot)
        said = " ".join(text_of(dialog, "#link-warnings").split())
        assert said.startswith("Recibos anteriores: Quedan fuera 2 recibos anteriores pendientes "
                               "de la póliza AU1000001: 4100000001 (vence 15/10/2021, $ 75.17 MXN) y "
                               "4100000002 (vence 15/11/2021, $ 75.17 MXN).")
        assert said.endswith("ctrl+o los incluye en la liga.")
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert [r.receipt for r in dialog.rows] == ["4100000001", "4100000002", "4100000003"]
        assert "$ 225.51 MXN" in text_of(dialog, "#link-amount")
        assert "4100000001, 4100000002, 4100000003" in text_of(dialog, "#link-receipts")
        await wait_until(pilot, lambda: dialog.preview is not None)
        await settle(pilot)
        assert not dialog.query_one("#link-warnings").display  # nothing left to warn about
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await settle(pilot)  # composed: its lines are there
        assert app.screen.link.receipt_numbers == ("4100000001", "4100000002", "4100000003")
        assert str(app.screen.link.amount) == "225.51"


async def test_without_warnings_a_plain_enter_still_generates_at_once(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l", "enter")  # typed ahead of the preview: nothing waits for it
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await settle(pilot)  # composed: its lines are there
        assert app.screen.link.receipt_numbers == ("4100000001",)
        assert not app.screen.query(".sent-warning")


async def test_the_dialog_warns_when_the_link_stays_payable_after_the_lapse(make_ctx, mailbox, sandbox):
    ctx = make_ctx(gateway="sandbox", mit_gen_url=f"{sandbox.url}/gen", smtp_port=mailbox.port,
                   grace_days=5)  # 4100000006: due 20/10 ... 4100000004: due 30/09 + 5 = 05/10
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"ibanez", "enter", "l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        await wait_until(pilot, lambda: dialog.preview is not None)
        await settle(pilot)
        said = " ".join(text_of(dialog, "#link-warnings").split())
        assert said.startswith("Cese: La póliza cesó el martes 5 de octubre de 2021 a las 12:00 por "
                               "falta de pago del recibo 4100000004")
        assert "ctrl+o" not in said and not dialog.check_action("include_older", ())
        await pilot.press("ctrl+o")  # nothing older: nothing changes
        assert [r.receipt for r in dialog.rows] == ["4100000004"]
        await pilot.press("enter")  # a warning, never a refusal
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await settle(pilot)  # composed: its lines are there
        assert any("cesó" in text_of(app.screen, f"#{w.id}") if w.id else "cesó" in str(w.render())
                   for w in app.screen.query(".sent-warning"))


# --- WhatsApp -----------------------------------------------------------------------------------


async def test_w_copies_the_whatsapp_address_or_shows_it_to_select(live_ctx, mailbox, reset_clipboard):
    set_phone(live_ctx.engine, "AU1000001", "55 1234-5678")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await settle(pilot)  # composed: its lines are there
        screen = app.screen
        address = screen.link.whatsapp_url
        assert address.startswith("https://wa.me/525512345678?text=Hola%2C%20Ana%20Pe%C3%B1a")
        assert "w copia la dirección con el mensaje" in text_of(screen, "#sent-whatsapp")
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WhatsAppDialog))
        # No clipboard here: never "copiado"; the address shown whole, to select by hand.
        assert text_of(app.screen, "#wa-address").replace("\n", "") == address
        assert app.clipboard == address  # OSC 52 all the same
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert text_of(screen, "#sent-copied").strip() == texts.WHATSAPP_SHOWN
        reference = screen.link.reference
        await pilot.press("escape", "h")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "HistoryScreen" and app.screen.rows)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        detail = app.screen
        assert detail.reference == reference
        assert texts.WHATSAPP_DETAIL in " ".join(text_of(detail, "#ld-body").split())
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, WhatsAppDialog))
        assert text_of(app.screen, "#wa-address").replace("\n", "") == address
        assert toasts(app) == []  # nothing said to be copied


async def test_w_says_copiado_only_when_the_system_clipboard_took_it(live_ctx, mailbox, fake_xclip,
                                                                      reset_clipboard):
    set_phone(live_ctx.engine, "AU1000001", "+52 55 1234 5678")
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(LinkDetailScreen(made.reference))
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        await pilot.press("w")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app) == [texts.WHATSAPP_COPIED]
        assert fake_xclip.read_text() == app.screen.detail.whatsapp_url


async def test_without_a_valid_phone_there_is_no_whatsapp_key(live_ctx, mailbox):
    set_phone(live_ctx.engine, "AU1000001", "555-1234")  # 7 digits: no WhatsApp
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await settle(pilot)  # composed: its lines are there
        assert app.screen.link.whatsapp_url is None
        assert not app.screen.query("#sent-whatsapp") and not app.screen.query("#whatsapp")
        assert not app.screen.check_action("copy_whatsapp", ())


# --- reminders ------------------------------------------------------------------------------------


async def open_detail(pilot, reference: str) -> LinkDetailScreen:
    pilot.app.push_screen(LinkDetailScreen(reference))
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDetailScreen)
                     and pilot.app.screen.detail is not None)
    await settle(pilot)
    return pilot.app.screen


async def test_the_detail_lists_the_reminders_due_and_s_marks_sin_recordatorios_and_back(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = await open_detail(pilot, made.reference)
        body = " ".join(text_of(screen, "#ld-body").split())
        assert ("Recordatorios Próximo recordatorio: domingo 10 de octubre de 2021, desde las 09:00, "
                "a ana@example.com, si la liga sigue sin pagar (s: sin recordatorios).") in body
        await pilot.press("s")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app) == [texts.reminders_set(made.reference, False)]
        await wait_until(pilot, lambda: screen.detail.link.reminders_off)
        await settle(pilot)
        body = " ".join(text_of(screen, "#ld-body").split())
        assert "Sin recordatorios: el agente la marcó así" in body and "Próximo" not in body
        assert screen.check_action("reminders", (True,)) and not screen.check_action("reminders", (False,))
        await pilot.press("s")
        await wait_until(pilot, lambda: not screen.detail.link.reminders_off)
        assert toasts(app)[-1] == texts.reminders_set(made.reference, True)


async def test_a_reminder_sent_is_shown_with_when_and_to_whom(live_ctx, mailbox, clock):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    from paylink_tui.services import outbox, reminders

    clock.set(clock() + timedelta(days=3) - timedelta(hours=6))  # 10/10 10:04 local: D+3
    reminders.send_due(live_ctx)
    outbox.deliver_due(live_ctx)
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = await open_detail(pilot, made.reference)
        body = " ".join(text_of(screen, "#ld-body").split())
        assert "Recordatorios 10/10/2021 10:04 a ana@example.com Enviado" in body
        assert "Próximo" not in body


async def test_s_on_a_paid_or_cancelled_link_says_why_not(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    links.cancel_link(live_ctx, made.reference, agent="ana")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = await open_detail(pilot, made.reference)
        assert not screen.check_action("reminders", (False,))
        await pilot.press("s")
        await wait_until(pilot, lambda: toasts(app))
        assert toasts(app) == [f"La liga {made.reference} ya está cancelada: ya no recibe recordatorios."]
        with write_session(live_ctx.engine) as s:
            assert not s.exec(select(PaymentLink)).one().no_reminders


# --- many links at once -------------------------------------------------------------------------


async def test_t_plans_every_match_confirms_runs_and_tells_the_outcome(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        screen = app.screen
        await settle(pilot)
        plan = " ".join(text_of(screen, "#batch-body").split())
        assert plan.startswith("Se generarán 3 ligas para 5 recibos de 3 clientes, por $ 21,606.01 MXN;")
        assert "Se omite 1 recibo: Sin correo registrado (1): 4100000005 (póliza VI3000003" in plan
        assert str(screen.query_one("#batch-go").label) == "Generar 3 ligas"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.outcome is not None, timeout=30)
        await settle(pilot)
        said = " ".join(text_of(screen, "#batch-body").split())
        assert said.startswith("Ligas generadas: 3 por $ 21,606.01 MXN.")
        assert len(screen.outcome.made) == 3 and not screen.outcome.failed
        assert sorted(m["To"] for m in mailbox.parsed()) == [
            "ana@example.com", "compras@ferreteria.mx", "rosa@example.com"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PendingScreen))
        table = table_of(app)
        await wait_until(pilot, lambda: not table.loading_page and table.row_count == 1)
        # Again: nobody gets a second link.
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        assert app.screen.plan.links == ()
        assert not app.screen.query_one("#batch-go").display


async def test_the_marks_of_several_policies_make_one_link_each(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("space", "down", "down", "space", "l")  # 4100000001 (AU), 4100000006 (DA)
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        plan = app.screen.plan
        # A policy's link takes all its pending receipts, oldest first.
        assert [(lk.policy, lk.receipts) for lk in plan.links] == [
            ("AU1000001", ("4100000001", "4100000002", "4100000003")), ("DA4000004", ("4100000006",))]
        await pilot.press("escape")  # back: nothing made, the marks stay
        await wait_until(pilot, lambda: isinstance(app.screen, PendingScreen))
        assert len(table_of(app).marked) == 2


async def test_stopping_finishes_the_links_under_way_and_running_again_continues(make_ctx, slow_sandbox, mailbox):
    ctx = make_ctx(gateway="sandbox", mit_gen_url=f"{slow_sandbox.url}/gen", smtp_port=mailbox.port)
    seed(ctx.engine, [dict(policy=f"ZZ{n:07d}", receipt=f"42{n:08d}", email=f"c{n}@example.com",
                           due=date(2021, 10, 1)) for n in range(6)])
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zz", "enter", "t")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        screen = app.screen
        assert len(screen.plan.links) == 6
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.state == "running")
        await pilot.press("q")  # q while it runs: stops, never quits under it
        assert screen.state == "stopping"
        assert "Deteniendo" in text_of(screen, "#batch-status")
        await pilot.press("escape")  # cannot leave while the links under way finish
        assert app.screen is screen
        await wait_until(pilot, lambda: screen.outcome is not None, timeout=30)
        outcome = screen.outcome
        assert outcome.stopped and len(outcome.made) == 4 and len(outcome.not_run) == 2
        said = " ".join(text_of(screen, "#batch-body").split())
        assert "Detenido: 2 ligas no se intentaron. Vuelva a generar el lote para continuar" in said
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PendingScreen))
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        assert len(app.screen.plan.links) == 2  # the rest: nobody twice
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.outcome is not None, timeout=30)
        assert len(app.screen.outcome.made) == 2
    with write_session(ctx.engine) as s:
        made = s.exec(select(PaymentLink)).all()
        assert len(made) == 6 and len({lk.policy_id for lk in made}) == 6


async def test_without_a_gateway_the_batch_says_which_setting_is_missing(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, BatchScreen) and app.screen.plan)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.state == "failed")
        assert "PAYLINK_GATEWAY" in text_of(app.screen, "#batch-body")
        await pilot.press("escape")
        assert isinstance(app.screen, PendingScreen)
