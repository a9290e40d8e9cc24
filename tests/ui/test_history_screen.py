"""Historial: the links, filters, the summary, a link's detail, resend and cancel; review."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes, policy

from textual.widgets import Checkbox, DataTable, Select, Sparkline

from paylink_tui.services import history, links
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.screens.prompt import ConfirmDialog, PromptDialog
from paylink_tui.ui.screens.review import ReviewScreen
from tests.ui.conftest import (
    T_CREATED,
    add_link,
    add_review,
    app_for,
    cells,
    settle,
    text_of,
    wait_until,
)


def book(engine) -> None:
    """A paid link (yesterday, by ana), an active one (today, by beto)."""
    add_link(engine, reference="AU1000001211006", receipt_ids=[1], amount="75.17", state="paid", paid=True)
    add_link(engine, reference="DA4000004211007", receipt_ids=[6], amount="8900.50", agent="beto",
             email="compras@ferreteria.mx", policy_id=4, created_at=T_CREATED + timedelta(days=1),
             email_status="failed", email_error="Conexión rechazada por el servidor de correo")


async def open_history(pilot) -> HistoryScreen:
    await settle(pilot)
    await pilot.press("h")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen))
    screen = pilot.app.screen
    await wait_until(pilot, lambda: screen.rows)
    return screen


async def test_history_lists_links_newest_first_with_status_email_attempt_and_authorization(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(200, 50)) as pilot:  # wide: every column
        screen = await open_history(pilot)
        table = screen.query_one("#links", DataTable)
        first, second = cells(table, 0), cells(table, 1)
        assert first["mark"] == ""  # nothing to review
        assert first["reference"] == "DA4000004211007"
        assert first["status"] == "Activa"
        assert first["email"] == "Error de envío (reintentando)"
        assert second["reference"] == "AU1000001211006"
        assert second["status"] == "Pagada"
        assert second["email"] == "Enviado"
        assert second["attempt"] == "Aprobado"
        assert second["auth"] == "426426"
        assert second["paid"] == "06/10"  # paid 20:30 UTC = 15:30 local, the same day


async def test_history_summary_counts_today_week_share_paid_and_collected(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_history(pilot)
        await wait_until(pilot, lambda: "Enviadas hoy" in text_of(screen, "#summary"))
        summary = text_of(screen, "#summary")
        assert "Enviadas hoy 1" in summary
        assert "Esta semana 2" in summary
        assert "Pagadas 50 %" in summary
        assert "Cobrado $ 75.17 MXN" in summary
        assert screen.query_one(Sparkline).data[-2:] == [1, 1]


async def test_history_filters_by_status_and_by_my_links(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_history(pilot)
        screen.query_one("#status-filter", Select).value = "paid"
        await wait_until(pilot, lambda: len(screen.rows) == 1)
        assert screen.rows[0].reference == "AU1000001211006"
        screen.query_one("#status-filter", Select).value = "all"
        await wait_until(pilot, lambda: len(screen.rows) == 2)
        await pilot.press("m")  # "Mis ligas": ana's only
        assert screen.query_one("#mine", Checkbox).value
        await wait_until(pilot, lambda: len(screen.rows) == 1)
        assert screen.rows[0].agent == "ana"
        screen.query_one("#status-filter", Select).value = "cancelled"
        await wait_until(pilot, lambda: screen.rows == [] and screen.query_one("#empty").display)


async def test_link_detail_shows_receipts_emails_attempts_and_timeline(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_history(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.detail is not None)
        body = text_of(screen, "#ld-body")
        assert "Pagada" in body and "426426" in body and "100633640472806" in body
        assert "4100000001" in body
        assert "Liga a ana@example.com" in body
        assert "Aprobado" in body
        assert "Historia" in body
        await pilot.press("escape")
        assert isinstance(app.screen, HistoryScreen)


async def test_resend_to_a_corrected_address_sends_the_same_link_there(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000006"], email="compras@ferreteria.mx")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_history(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press(*["backspace"] * len("compras@ferreteria.mx"), *"pagos@ferreteria.mx", "enter")
        await wait_until(pilot, lambda: len(mailbox.messages()) == 2)
        last = message_from_bytes(sorted(mailbox.messages())[-1].read_bytes(), policy=policy.default)
        assert last["To"] == "pagos@ferreteria.mx"
        assert made.url in last.get_body(("plain",)).get_content()
        await wait_until(pilot, lambda: any("reenviado a pagos@ferreteria.mx" in n.message
                                            for n in app._notifications))


async def test_cancel_warns_that_mit_still_accepts_payment_until_the_valid_through_date(live_ctx, mailbox):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000006"], email="compras@ferreteria.mx")
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        warning = text_of(app.screen, "#prompt-message")
        assert "MIT seguirá aceptando el pago hasta el domingo 10 de octubre de 2021" in warning
        await pilot.press("escape")  # "Volver": nothing happens
        assert history.list_links(live_ctx)[0].status == "active"
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: screen.rows and screen.rows[0].status == "cancelled")
        assert history.list_links(live_ctx)[0].reference == made.reference
        # Its receipt is pending again at once.
        home = app.screen_stack[1]
        assert isinstance(home, PendingScreen)
        await wait_until(pilot, lambda: "4100000006" in [r.receipt for r in home.table.rows_window])


async def test_cancel_is_refused_for_a_paid_link(ctx):
    book(ctx.engine)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_history(pilot)
        await pilot.press("down", "x")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any("La liga AU1000001211006 está pagada: sólo se cancelan ligas vigentes." == n.message
                   for n in app._notifications)


async def test_review_lists_reasons_applies_to_a_link_and_dismisses_with_a_note(ctx):
    book(ctx.engine)
    first = add_review(ctx.engine, reference="ZZ-NO-EXISTE", amount="8900.50")
    add_review(ctx.engine, reference="OTRA", amount="1.00")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        await wait_until(pilot, lambda: len(screen.items) == 2)
        table = screen.query_one(DataTable)
        assert cells(table, 0)["reason"] == "Referencia desconocida"
        # Apply the first one to the active link after checking it by hand.
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press(*["backspace"] * 20, *"DA4000004211007", "enter")
        # Taken (06/10 17:30 local) before the link existed (07/10 12:30): asked, both named.
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        warning = text_of(app.screen, "#prompt-message")
        assert "06/10/2021 17:30, antes de que existiera la liga" in warning
        assert "07/10/2021 12:30" in warning
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: len(screen.items) == 1)
        assert first not in [i.id for i in screen.items]
        assert history.list_links(ctx, status="paid", limit=None)[0].reference == "DA4000004211007"
        # Dismiss the other: a note is required.
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press("enter")
        assert "Escriba una nota" in text_of(app.screen, "#prompt-error")
        await pilot.press(*"Prueba del banco, no es un pago real", "enter")
        await wait_until(pilot, lambda: screen.items == [])
        assert "No hay pagos por revisar" in text_of(screen, "#review-detail")


async def apply_from_review(pilot, reference: str | None = None) -> ReviewScreen:
    """Open "Por revisar" and apply its first item to `reference` (None: the one offered)."""
    app = pilot.app
    await settle(pilot)
    if not isinstance(app.screen, ReviewScreen):
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.items)
    screen = app.screen
    await pilot.press("a")
    await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
    if reference is not None:
        await pilot.press(*["backspace"] * 20, *reference)
    await pilot.press("enter")
    return screen


async def test_applying_another_amount_asks_naming_both_and_records_what_mit_charged(ctx):
    """Review finding (issue 12): a $1,500.00 approval applied to a $905.98 link became Pagada
    with no warning, and the client was told $905.98."""
    add_link(ctx.engine, reference="DA4000004211007", receipt_ids=[6], amount="905.98",
             policy_id=4, created_at=T_CREATED)
    add_review(ctx.engine, reference="DA40000042", amount="1500.00")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await apply_from_review(pilot, "DA4000004211007")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        warning = text_of(app.screen, "#prompt-message")
        assert "MIT cobró $ 1,500.00 MXN y la liga es por $ 905.98 MXN" in warning
        await pilot.press("escape")  # "Volver": nothing is applied
        await settle(pilot)
        assert history.list_links(ctx, limit=None)[0].status == "active"
        assert len(screen.items) == 1
        await apply_from_review(pilot, "DA4000004211007")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        await wait_until(pilot, lambda: screen.items == [])
    [paid] = history.list_links(ctx, status="paid", limit=None)
    assert (paid.amount, paid.paid_amount) == (Decimal("905.98"), Decimal("1500.00"))


async def test_an_unexpected_failure_on_apply_reads_as_spanish_not_an_exception_name(ctx,
                                                                                    monkeypatch):
    from paylink_tui.services.notifications import review as review_step

    def broken(*args, **kwargs):
        raise KeyError("link_id")

    monkeypatch.setattr(review_step, "_lock_link", broken)
    add_review(ctx.engine, reference="ZZ", amount="1.00")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await apply_from_review(pilot)
        await wait_until(pilot, lambda: app._notifications)
        [told] = [n.message for n in app._notifications]
    assert told.startswith("No se pudo aplicar el pago por un error inesperado")
    assert "KeyError" not in told and "link_id" not in told


async def test_apply_to_an_unknown_reference_says_so(ctx):
    add_review(ctx.engine, reference="ZZ", amount="1.00")
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await apply_from_review(pilot)
        await wait_until(pilot, lambda: any("No existe una liga con la referencia ZZ" in n.message
                                            for n in app._notifications))


OLD, NEWER = "AU1000001-211006-AAAA", "AU1000001-211007-BBBB"


def flagged_book(ctx) -> None:
    """A link we cancelled, a newer one for the same receipt and another link; then the client
    pays the cancelled one: applied to it, and the newer link flagged. `ctx` has the sandbox
    gateway, whose key reads the notification."""
    from paylink_tui.services import notifications
    from tests.notifications.support import notification_xml, str_response

    add_link(ctx.engine, reference=OLD, receipt_ids=[1], amount="75.17", state="cancelled")
    add_link(ctx.engine, reference=NEWER, receipt_ids=[1], amount="75.17",
             created_at=T_CREATED + timedelta(days=1))
    add_link(ctx.engine, reference="DA4000004-211007-CCCC", receipt_ids=[6], amount="8900.50",
             policy_id=4, created_at=T_CREATED + timedelta(days=1, hours=1))
    got = notifications.receive_notification(ctx, str_response(notification_xml(OLD)), deliver=False)
    assert (got.status, got.reason) == ("review", "cancelled_link")


async def test_a_newer_link_flagged_by_a_late_payment_shows_it_until_the_review_is_resolved(make_ctx):
    ctx = make_ctx(gateway="sandbox")
    flagged_book(ctx)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_history(pilot)
        table = screen.query_one("#links", DataTable)
        rows = [cells(table, i) for i in range(3)]
        assert [(row["mark"], row["reference"], row["status"]) for row in rows] == [
            ("", "DA4000004-211007-CCCC", "Activa"), ("!", NEWER, "Activa"), ("!", OLD, "Pagada")]
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen)
                         and app.screen.detail is not None)
        body = " ".join(text_of(app.screen, "#ld-body").split())
        assert (f"Revisión Marcada para revisión: sus recibos se pagaron con la liga anterior {OLD}; "
                "el cliente aún puede pagar esta liga en MIT hasta el domingo 10 de octubre de 2021 "
                "— cancélela. Resuélvalo en «Por revisar» (v).") in body
        # Resolved in "Por revisar": the flag is gone from the row and from the detail.
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.items)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press(*"Cliente avisado; liga nueva cancelada", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and app.screen.items == [])
        screen = await open_history(pilot)
        table = screen.query_one("#links", DataTable)
        assert [(cells(table, i)["mark"], cells(table, i)["status"]) for i in range(3)] == [
            ("", "Activa"), ("", "Activa"), ("", "Pagada")]
        # Back on the same Historial (h went down the stack to it): the cursor where it was.
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen)
                         and app.screen.detail is not None)
        assert app.screen.reference == NEWER
        assert "Marcada para revisión" not in text_of(app.screen, "#ld-body")


async def test_a_large_amount_and_the_longest_status_are_shown_in_full(ctx):
    add_link(ctx.engine, reference="DA4000004211009", receipt_ids=[6], amount="260517.31")
    add_link(ctx.engine, reference="DA4000004211008", receipt_ids=[6], amount="8900.50",
             state="unconfirmed", created_at=T_CREATED - timedelta(hours=1))
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_history(pilot)
        table = screen.query_one("#links", DataTable)
        await settle(pilot)
        shown = [table.render_line(y).text for y in range(1, 3)]
    assert "260,517.31 MXN" in shown[0]
    assert "Sin confirmar" in shown[1] and "…" not in shown[1].split("8,900.50 MXN")[1][:16]
