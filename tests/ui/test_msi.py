"""Meses sin intereses in the TUI, from the keyboard only: the dialog's plan picker, the
confirmation, Historial and the link's detail. The sandbox over HTTP plays MIT with the same
contract; email to a loopback SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from textual.widgets import DataTable

from paylink_tui.backend.local import LocalBackend
from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import encrypt
from paylink_tui.services import links, notifications
from paylink_tui.services.history import list_links
from paylink_tui.ui.events import event_toast
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.widgets.plans import PlanPicker
from tests.notifications.support import notification_xml
from tests.ui.conftest import app_for, cells, settle, text_of, wait_until


def picker_line(dialog) -> str:
    return str(dialog.query_one(PlanPicker).render())


async def open_dialog_for(pilot, search: str) -> LinkDialog:
    await settle(pilot)
    await pilot.press("slash", *search, "enter", "l")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
    return pilot.app.screen


async def test_the_dialog_offers_every_plan_and_the_agent_unticks_some(msi_ctx, mailbox):
    app = app_for(msi_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog_for(pilot, "ibanez")  # Rosa: $ 12,480.00 MXN
        picker = dialog.query_one(PlanPicker)
        assert picker.display and picker.chosen == (3, 6, 9, 12)
        assert picker_line(dialog) == (
            "Meses sin intereses  [X] 3  [X] 6  [X] 9  [X] 12 y una sola exhibición")
        await pilot.press("tab")  # from the email to the plans
        assert app.focused is picker
        await pilot.press("right", "space", "right", "right", "space")  # untick 6 and 12
        assert picker.chosen == (3, 9)
        assert picker_line(dialog) == (
            "Meses sin intereses  [X] 3  [ ] 6  [X] 9  [ ] 12 y una sola exhibición")
        await pilot.press("left", "space", "space")  # 9 off and on again: nothing changes
        assert picker.chosen == (3, 9)
        await pilot.press("enter")  # Enter on the plans generates, as on the email
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        sent = app.screen
        assert sent.link.installment_plans == (3, 9)
        assert text_of(sent, "#sent-plans").strip() == (
            "Forma de pago: una sola exhibición o 3 o 9 meses sin intereses")
    [mail] = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in mailbox.messages()]
    assert "3 o 9 meses sin intereses" in mail.get_body(("plain",)).get_content()
    [row] = list_links(msi_ctx)
    assert row.installment_plans == (3, 9)


async def test_unticking_every_plan_leaves_the_single_payment(msi_ctx, mailbox):
    app = app_for(msi_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog_for(pilot, "ferreteria")  # $ 8,900.50 MXN
        await pilot.press("tab", "space", "right", "space", "end", "space", "left", "space")
        assert dialog.query_one(PlanPicker).chosen == ()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        assert app.screen.link.installment_plans == ()
        assert not app.screen.query("#sent-plans")


async def test_an_amount_below_every_minimum_says_so_and_takes_no_focus(msi_ctx, mailbox):
    app = app_for(msi_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog_for(pilot, "ana")  # one receipt of $ 75.17 MXN
        assert picker_line(dialog) == ("Meses sin intereses: el monto no alcanza el mínimo de "
                                       "ningún plan (desde $ 300.00 MXN); una sola exhibición.")
        await pilot.press("tab")
        assert app.focused.id == "generate"  # the note is not a stop on the way


async def test_a_usd_link_is_said_to_be_single_payment(msi_ctx, mailbox):
    app = app_for(msi_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog_for(pilot, "munoz")  # $ 530.00 USD
        assert picker_line(dialog) == ("Meses sin intereses: solo en ligas en pesos (MXN); esta se "
                                       "paga en una sola exhibición.")
        assert dialog.query_one(PlanPicker).chosen == ()


async def test_without_the_setting_the_dialog_shows_no_plans(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        dialog = await open_dialog_for(pilot, "ibanez")
        assert not dialog.query_one(PlanPicker).display
        await pilot.press("tab")
        assert app.focused.id == "generate"


async def test_historial_and_the_detail_say_6_meses_sin_intereses(msi_ctx, mailbox):
    made = links.generate_link(msi_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    xml = notification_xml(made.reference, amount="12480.00", promocion="6")
    notifications.receive_notification(msi_ctx, encrypt(xml, sd.SANDBOX_KEY), deliver=False)
    app = app_for(msi_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        row = cells(app.screen.query_one("#links", DataTable), 0)
        assert row["reference"] == made.reference and row["status"] == "Pagada 6 MSI"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDetailScreen)
                         and app.screen.detail is not None)
        body = " ".join(text_of(app.screen, "#ld-body").split())
        assert "Ofrece una sola exhibición o 3, 6, 9 o 12 meses sin intereses" in body
        assert "Forma de pago 6 meses sin intereses" in body
        assert "Aprobado autorización 426426 6 meses sin intereses" in body


@pytest.mark.local_only("no app: the toast's words for an event read once through LocalBackend")
async def test_the_payment_toast_says_the_plan(msi_ctx, mailbox):
    made = links.generate_link(msi_ctx, receipt_numbers=["4100000004"], email="rosa@example.com")
    xml = notification_xml(made.reference, amount="12480.00", promocion="12")
    notifications.receive_notification(msi_ctx, encrypt(xml, sd.SANDBOX_KEY), deliver=False)
    told = [event_toast(e) for e in LocalBackend(msi_ctx).events("0").events]
    assert [t.text for t in told if t is not None and t.title == "Pago recibido"] == [
        "Pago aprobado: póliza GM2000002, autorización 426426, a 12 meses sin intereses. La liga "
        "queda pagada y el cliente recibe su confirmación por correo."]
