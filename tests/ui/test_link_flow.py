"""Generating a link from the TUI, against the sandbox over HTTP and a loopback SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy

from textual.widgets import Button, Static

from paylink_tui.services import links
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.pending import PendingScreen
from paylink_tui.ui.widgets.inputs import EmailInput
from paylink_tui.ui.widgets.pending_table import PendingTable
from tests.ui.conftest import app_for, settle, wait_until


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def mails(mailbox) -> list:
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in mailbox.messages()]


async def test_a_link_for_a_holder_with_email_takes_slash_letters_enter_l_enter(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        keys = ["slash", "a", "n", "a", "enter", "l", "enter"]
        await pilot.press(*keys)
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        assert len(keys) == 7
        link = app.screen.link
        assert link.receipt_numbers == ("4100000001",)
        assert link.email == "ana@example.com"
        assert link.email_status == "sent"
        sent = mails(mailbox)
        assert [m["To"] for m in sent] == ["ana@example.com"]
        assert link.url in sent[0].get_body(("plain",)).get_content()


async def test_the_confirmation_tells_where_until_when_and_when_receipts_come_back(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await pilot.press("enter")
        # Pushed is not yet composed: wait for what the agent reads.
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen)
                         and app.screen.query("#sent-headline"))
        screen = app.screen
        assert text_of(screen, "#sent-headline") == "Liga generada y enviada a ana@example.com."
        # Generated 07/10/2021 16:04 local: valid through D+3, back in the list on D+5.
        assert text_of(screen, "#sent-valid") == "Vigencia: hasta el domingo 10 de octubre de 2021."
        assert text_of(screen, "#sent-reappears") == (
            "Si no se paga, el recibo volverá a aparecer el martes 12 de octubre de 2021.")
        assert text_of(screen, "#sent-url") == screen.link.url
        assert app.clipboard == screen.link.url  # copied at once
        qr = text_of(screen, "#sent-qr")
        assert "█" in qr and len(qr.splitlines()) > 10
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PendingScreen)
        table = app.screen.query_one(PendingTable)
        await wait_until(pilot, lambda: not table.loading_page)
        assert "4100000001" not in [r.receipt for r in table.rows_window]  # left the list
        assert table.row_count == 5


async def test_marked_receipts_of_one_policy_go_in_one_link(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("space", "space", "l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        assert "$ 150.34 MXN" in text_of(app.screen, "#link-amount")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        assert app.screen.link.receipt_numbers == ("4100000001", "4100000002")
        assert str(app.screen.link.amount) == "150.34"


async def test_the_email_is_validated_as_you_type_and_generate_waits_for_a_valid_one(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"muñoz", "enter", "l")  # Juan [red] … has no email on file
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        dialog = app.screen
        generate = dialog.query_one("#generate", Button)
        assert dialog.query_one(EmailInput).value == ""
        assert generate.disabled
        assert "Falta el correo" in text_of(dialog, "#email-error")
        await pilot.press(*"juan.example.com")
        assert generate.disabled
        assert "le falta la arroba (@)" in text_of(dialog, "#email-error")
        await pilot.press("enter")  # refused: nothing is generated
        await pilot.pause(0.2)
        assert isinstance(app.screen, LinkDialog)
        assert mails(mailbox) == []
        await pilot.press(*["backspace"] * len(".example.com"), "@", *"example.com")
        assert not generate.disabled
        assert text_of(dialog, "#email-error") == ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        assert app.screen.link.email == "juan@example.com"
        assert app.screen.link.currency == "USD"


async def test_without_a_gateway_the_dialog_says_which_setting_is_missing(ctx):
    app = app_for(ctx)  # no PAYLINK_GATEWAY
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "PAYLINK_GATEWAY" in text_of(app.screen, "#link-error"))
        assert isinstance(app.screen, LinkDialog)  # stays open, can be fixed and retried
        assert not app.screen.query_one("#generate", Button).disabled
        await pilot.press("escape")
        assert isinstance(app.screen, PendingScreen)


async def test_when_the_email_cannot_be_sent_the_link_exists_and_the_mail_is_queued(make_ctx, sandbox):
    from tests.helpers import closed_port

    ctx = make_ctx(gateway="sandbox", mit_gen_url=f"{sandbox.url}/gen", smtp_port=closed_port())
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen), timeout=20)
        headline = text_of(app.screen, "#sent-headline")
        assert "no salió todavía" in headline and "se reintenta solo" in headline
        assert "La liga existe y es válida" in text_of(app.screen, "#sent-email-error")
        assert app.screen.link.url


async def test_a_receipt_linked_meanwhile_by_another_agent_is_explained(live_ctx, mailbox):
    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        # Another agent, on another machine, links the same receipt first.
        other = links.generate_link(live_ctx, receipt_numbers=["4100000001"], email="x@example.com",
                                    agent="beto")
        await pilot.press("enter")
        await wait_until(pilot, lambda: text_of(app.screen, "#link-error") not in (
            "", "Generando la liga con MIT y enviando el correo…"))
        message = text_of(app.screen, "#link-error")
        assert other.reference in message or "beto" in message
        assert isinstance(app.screen, LinkDialog)


async def test_the_app_stays_responsive_while_a_link_is_generated(make_ctx, slow_sandbox, mailbox):
    ctx = make_ctx(gateway="sandbox", mit_gen_url=f"{slow_sandbox.url}/gen", smtp_port=mailbox.port)
    app = app_for(ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, LinkDialog))
        await pilot.press("enter")
        dialog = app.screen
        assert dialog.busy
        assert dialog.query_one("#link-spinner").display
        await pilot.press("escape")  # ignored while busy, but handled: the loop is free
        await pilot.pause(0.3)
        assert app.screen is dialog and dialog.busy
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        await pilot.pause()  # let the new screen finish mounting before the app closes


async def test_keys_typed_in_one_burst_still_send_the_link(live_ctx, mailbox):
    """A fast typist (or a paste): every key arrives before the app has reacted to the first."""
    from textual import events

    app = app_for(live_ctx)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        for key, char in [("slash", "/"), ("a", "a"), ("n", "n"), ("a", "a"), ("enter", "\r"),
                          ("l", "l"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))
        await wait_until(pilot, lambda: isinstance(app.screen, LinkSentScreen))
        assert app.screen.link.receipt_numbers == ("4100000001",)
        assert app.screen.link.email == "ana@example.com"
