"""While open: payments applied elsewhere show within seconds, queued emails are retried.
Also: every key in the help, the command palette, quitting."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from textual.widgets import Static

from paylink_tui.backend.local import LocalBackend
from paylink_tui.config import Settings
from paylink_tui.services import links
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import make_engine
from paylink_tui.ui.app import make_app
from paylink_tui.ui.screens.help import HelpScreen
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.pending import PendingScreen
from tests.notifications.support import notification_xml, str_response
from tests.ui.conftest import app_for, settle, wait_until


async def test_a_payment_applied_by_the_receiver_shows_within_five_seconds(live_ctx, mailbox, clock):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    app = app_for(live_ctx, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        assert app.screen.rows[0].status == "active"

        # `paylink-tui serve`, another process: its own engine on the same database file.
        def serve_receives() -> None:
            from paylink_tui.services.notifications import receive_notification

            other = AppContext(settings=Settings(database_url=live_ctx.settings.database_url, gateway="sandbox",
                                                 smtp_port=mailbox.port, smtp_host="127.0.0.1"),
                               engine=make_engine(live_ctx.settings.database_url), clock=clock)
            receive_notification(other, str_response(notification_xml(made.reference, amount="75.17")))
            other.engine.dispose()

        clock.advance(seconds=3)  # the test clock is frozen; a real one moves on
        started = time.monotonic()
        worker = threading.Thread(target=serve_receives)
        worker.start()
        worker.join(10)
        await wait_until(pilot, lambda: any(n.message.startswith(
            "Pago aprobado: póliza AU1000001, autorización 426426. La liga queda pagada")
            for n in app._notifications), timeout=5)
        await wait_until(pilot, lambda: app.screen.rows[0].status == "paid", timeout=5)
        assert time.monotonic() - started < 5
        # Told once, not at every poll.
        await pilot.pause(2.5)
        toasts = [n for n in app._notifications if n.message.startswith("Pago aprobado")]
        assert len(toasts) == 1


@pytest.mark.local_only("the TUI retries the outbox only over the local backend; in team mode the "
                        "server's deliverer does (tests/web), and RemoteBackend.deliver_outbox "
                        "does nothing")
async def test_queued_emails_are_retried_while_the_app_is_open(make_ctx, sandbox, mailbox, monkeypatch):
    from tests.helpers import closed_port

    broken = make_ctx(gateway="sandbox", mit_gen_url=f"{sandbox.url}/gen", smtp_port=closed_port())
    made = links.generate_link(broken, receipt_numbers=["4100000001"], email="ana@example.com")
    assert made.email_status != "sent"
    # The mail server is back; the app retries the outbox on its timer.
    working = make_ctx(gateway="sandbox", mit_gen_url=f"{sandbox.url}/gen", smtp_port=mailbox.port)
    import paylink_tui.ui.app as app_module

    monkeypatch.setattr(app_module, "OUTBOX_SECONDS", 0.2)
    working.clock.advance(minutes=30)  # past the retry back-off
    app = make_app(LocalBackend(working), live=True, cursor_blink=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: len(mailbox.messages()) == 1, timeout=10)


async def test_help_lists_every_key_in_spanish(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from io import StringIO

        from rich.console import Console

        console = Console(width=110, file=StringIO(), record=True)
        console.print(app.screen.query_one("#help-keys", Static).content)
        text = console.export_text()
        for words in ("Liga de pago", "Buscar", "Historial", "Reenviar correo", "Cancelar liga",
                      "Aplicar a una liga", "Resolver con nota", "Reenviar el correo", "Marcar", "Copiar liga", "Salir",
                      "Mis ligas", "Por revisar", "Acciones"):
            assert words in text, words
        await pilot.press("escape")
        assert isinstance(app.screen, PendingScreen)


async def test_every_binding_has_an_id_and_a_spanish_description():
    from paylink_tui.ui.screens import help as help_module

    for _title, bindings in help_module._sections():
        for binding in bindings:
            assert binding.id, binding
            assert binding.description and binding.description[0].isupper(), binding


async def test_the_command_palette_offers_the_actions_and_runs_them(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"histor")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))


async def test_q_quits(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.return_code == 0


async def test_keys_typed_into_the_search_box_are_text_not_commands(ctx):
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"hql")
        await pilot.pause(0.1)
        assert isinstance(app.screen, PendingScreen)
        assert app.screen.query_one("#search").value == "hql"


async def test_start_up_objects_are_frozen_after_the_first_rows_and_given_back_on_exit(ctx):
    """gc.freeze keeps a full collection from walking start-up's objects during a keystroke;
    they belong to the app, so it unfreezes them when it ends."""
    import gc

    gc.unfreeze()
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


async def test_an_approval_waiting_for_mit_is_told_as_received_not_approved(live_ctx, sandbox,
                                                                           mailbox, clock):
    """Issue 11: with MIT's query configured, the toast must not say "Pago aprobado" before
    the payment is applied; Historial shows it as received and being confirmed."""
    import httpx

    from paylink_tui.gateway.mit_query import QUERY_PATH
    from paylink_tui.services.notifications import confirm_due, receive_notification
    from tests.notifications.support import SandboxMIT

    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    assert httpx.post(f"{made.url}/pagar", data={
        "nombre": "Ana", "apellido_paterno": "Peña", "apellido_materno": "Ruiz",
        "tarjeta": "4111 1111 1111 1111", "expira": "12/39", "cvv": "123",
        "correo": "ana@example.com", "terminos": "on"}).status_code == 200
    payment = sandbox.app.state.sandbox.state.by_reference[made.reference].payments[-1]
    serve_ctx = AppContext(
        settings=live_ctx.settings.model_copy(update={"mit_query_url": sandbox.url + QUERY_PATH,
                                                      "smtp_port": mailbox.port}),
        engine=make_engine(live_ctx.settings.database_url), clock=clock)
    serve_ctx.gateway = SandboxMIT(sandbox.app, sandbox.url).gateway()
    app = app_for(live_ctx, live=True)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await wait_until(pilot, lambda: app._events_cursor is not None)
            await pilot.press("h")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                             and app.screen.rows)
            clock.advance(seconds=3)
            xml = notification_xml(made.reference, amount="75.17", folio=payment.folio,
                                   auth=payment.auth)
            got = await asyncio.to_thread(receive_notification, serve_ctx, str_response(xml),
                                          deliver=False)
            assert got.status == "confirming"
            await wait_until(pilot, lambda: any("confirmando con MIT" in n.message
                                                for n in app._notifications), timeout=5)
            await wait_until(pilot, lambda: app.screen.rows[0].status == "confirming", timeout=5)
            assert str(app.screen.query_one("#links").get_row_at(0)[5]) == "Pago recibido"
            assert not any(n.message.startswith("Pago aprobado") for n in app._notifications)
            await pilot.press("r")  # resend the link to a client who paid? no
            await wait_until(pilot, lambda: any("El cliente ya pagó esta liga" in n.message
                                                for n in app._notifications), timeout=5)
            assert len(mailbox.messages()) == 1  # the link email only
            clock.advance(seconds=3)
            assert (await asyncio.to_thread(confirm_due, serve_ctx)).applied == 1
            await wait_until(pilot, lambda: any(n.message.startswith("Pago aprobado")
                                                for n in app._notifications), timeout=5)
            await wait_until(pilot, lambda: app.screen.rows[0].status == "paid", timeout=5)
    finally:
        serve_ctx.gateway.close()
        serve_ctx.engine.dispose()


async def test_a_payment_whose_confirmation_cannot_be_sent_is_applied_and_the_agent_told(
        live_ctx, mailbox, clock):
    """Issue 12: an address the mail step refuses (muñoz@…) held the payment unapplied."""
    from sqlalchemy import update

    from paylink_tui.services.notifications import receive_notification
    from paylink_tui.store.db import write_session
    from paylink_tui.store.models import PaymentLink

    made = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="ana@example.com")
    with write_session(live_ctx.engine) as s:
        s.exec(update(PaymentLink).values(email="muñoz@gmail.com"))  # type: ignore[call-overload]
    app = app_for(live_ctx, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: app._events_cursor is not None)
        got = await asyncio.to_thread(
            receive_notification, live_ctx,
            str_response(notification_xml(made.reference, amount="75.17")))
        assert (got.status, got.email_ids) == ("applied", ())
        await wait_until(pilot, lambda: any(n.title == "Correo no enviado"
                                            for n in app._notifications), timeout=5)
        [told] = [n.message for n in app._notifications if n.title == "Correo no enviado"]
    assert "queda pagada" in told and "«ñ»" in told and "InvalidAddress" not in told


async def test_a_declined_payment_and_one_kept_for_review_are_told_with_what_to_do(live_ctx, mailbox, clock):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    app = app_for(live_ctx, live=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: app._events_cursor is not None)
        from paylink_tui.services.notifications import receive_notification

        receive_notification(live_ctx, str_response(notification_xml(
            made.reference, amount="12480.00", response="denied", cd_error="11",
            nb_error="Tarjeta declinada hoy")), deliver=False)
        receive_notification(live_ctx, str_response(notification_xml(
            made.reference, amount="99.00")), deliver=False)  # wrong amount: for review

        def messages() -> list[str]:
            return [n.message for n in app._notifications]

        await wait_until(pilot, lambda: len(messages()) >= 2, timeout=6)
        denied, review = messages()[:2]
        assert denied.startswith("Pago rechazado: póliza GM2000002 (Tarjeta declinada hoy, código 11)")
        assert "avise al cliente que puede intentar con otra tarjeta" in denied
        assert review.startswith("Un pago de MIT quedó por revisar (El monto no coincide con la liga)")
        assert review.endswith("Ábralo con v para aplicarlo a su liga o resolverlo con una nota.")


async def test_a_failed_payment_at_mit_is_told_with_what_the_client_can_do(live_ctx, mailbox, clock):
    made = links.generate_link(live_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    app = app_for(live_ctx, live=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: app._events_cursor is not None)
        from paylink_tui.services.notifications import receive_notification

        receive_notification(live_ctx, str_response(notification_xml(
            made.reference, amount="12480.00", response="error", cd_error="05",
            nb_error="Emisor no disponible")), deliver=False)
        await wait_until(pilot, lambda: app._notifications, timeout=6)
        [told] = [n.message for n in app._notifications]
        assert told == ("El pago de la póliza GM2000002 no se completó (Emisor no disponible, código 05). "
                        "La liga sigue vigente: el cliente puede volver a intentarlo; si se repite, que "
                        "pruebe con otra tarjeta.")


async def test_an_open_por_revisar_screen_shows_a_new_item_without_f5(live_ctx, mailbox, clock):
    from paylink_tui.ui.screens.review import ReviewScreen

    made = links.generate_link(live_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    app = app_for(live_ctx, live=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await wait_until(pilot, lambda: app._events_cursor is not None)
        assert app.screen.items == []
        from paylink_tui.services.notifications import receive_notification

        receive_notification(live_ctx, str_response(notification_xml(made.reference, amount="99.00")),
                             deliver=False)  # the wrong amount: kept for review
        await wait_until(pilot, lambda: len(app.screen.items) == 1, timeout=6)
        assert app.screen.items[0].reference == made.reference
        assert app.screen.items[0].currency == "MXN"  # the link's: the amount shows it
