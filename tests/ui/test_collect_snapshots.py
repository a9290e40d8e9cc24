"""How the collection tools look (issue 17), at 80×24 and 200×50 where the layout matters
and 120×36 otherwise, on the frozen clock (07/10/2021 16:04 local), no cursor blink: the
lapse column sorted by lapse, the link dialog's warnings, the confirmation with WhatsApp, the
link's detail with its reminders, and many links at once (plan, progress, outcome).

Update with `pytest tests/ui/test_collect_snapshots.py --snapshot-update`, then look at the
SVGs in tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlmodel import select

from paylink_tui.domain.batch import BatchProgress, BatchResult
from paylink_tui.domain.results import GeneratedLink
from paylink_tui.store.db import write_session
from paylink_tui.store.models import Client, Policy
from paylink_tui.ui.screens.batch import BatchScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.whatsapp import WhatsAppDialog
from tests.ui.conftest import SIZE, add_link, app_for, home_ready, settle, wait_until

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


def set_phone(engine, policy: str, phone: str) -> None:
    with write_session(engine) as s:
        pol = s.exec(select(Policy).where(Policy.number == policy)).one()
        client = s.get(Client, pol.client_id)
        client.phone = phone
        s.add(client)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_pending_sorted_by_lapse(snap_compare, make_ctx, size):
    ctx = make_ctx(grace_days=7)  # one ceased today at 12:00, one in 2 days, the rest later

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("o")
        await wait_until(pilot, lambda: pilot.app.screen.sub_title.startswith("por cese"))
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_link_dialog_with_older_receipts_left_out(snap_compare, ctx, size):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("down", "down")  # 4100000003: two older ones left out
        await settle(pilot)  # its detail painted before the dialog covers the screen
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog)
                         and pilot.app.screen.preview is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


def test_link_dialog_payable_after_the_lapse(snap_compare, make_ctx):
    ctx = make_ctx(grace_days=5)

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("slash", *"ibanez", "enter")
        await settle(pilot)  # the row's detail painted before the dialog covers the screen
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog)
                         and pilot.app.screen.preview is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


WA = ("https://wa.me/525512345678?text=Hola%2C%20Ana%20Pe%C3%B1a%20G%C3%B3mez.%20Le%20env%C3%ADo"
      "%20la%20liga%20de%20pago%20de%20su%20p%C3%B3liza%20AU1000001%20por%20%24%2075.17%20MXN%3A%20"
      "https%3A%2F%2Fsandbox.mitec.example%2Fp%2Fi%2F3691PBW8%0ALa%20liga%20es%20v%C3%A1lida%20hasta"
      "%20el%20domingo%2010%20de%20octubre%20de%202021%20a%20las%2023%3A59.")


def sent_with_whatsapp() -> GeneratedLink:
    return GeneratedLink(
        link_id=1, reference="AU1000001211007", url="https://sandbox.mitec.example/p/i/3691PBW8",
        email="ana@example.com", amount=Decimal("75.17"), currency="MXN", policy_number="AU1000001",
        receipt_numbers=("4100000002",), valid_through=date(2021, 10, 10),
        reappears_on=date(2021, 10, 12), expires_at=datetime(2021, 10, 11, 5, tzinfo=timezone.utc),
        email_status="sent", email_error=None, holder="Ana Peña Gómez",
        older_warning=("Queda fuera un recibo anterior pendiente de la póliza AU1000001: 4100000001 "
                       "(vence 15/10/2021, $ 75.17 MXN). La aseguradora aplica los pagos en orden: el "
                       "pago de un recibo posterior con uno anterior sin pagar puede ser rechazado."),
        whatsapp_url=WA)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_link_sent_with_whatsapp(snap_compare, ctx, size, reset_clipboard):
    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkSentScreen(sent_with_whatsapp()))
        await wait_until(pilot, lambda: pilot.app.screen.query("#sent-copied")
                         and str(pilot.app.screen.query_one("#sent-copied").render()).strip())
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_whatsapp_address_shown_to_select(snap_compare, ctx, size, reset_clipboard):
    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkSentScreen(sent_with_whatsapp()))
        await wait_until(pilot, lambda: pilot.app.screen.query("#sent-copied")
                         and str(pilot.app.screen.query_one("#sent-copied").render()).strip())
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, WhatsAppDialog))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


def test_link_detail_with_reminders_and_whatsapp(snap_compare, make_ctx, mailbox):
    from paylink_tui.services import outbox, reminders

    ctx = make_ctx(smtp_port=mailbox.port, reminder_days="1,3")
    add_link(ctx.engine, reference="AU1000001211006", receipt_ids=[1], amount="75.17")  # D = 06/10
    set_phone(ctx.engine, "AU1000001", "55 1234 5678")
    reminders.send_due(ctx)  # D+1 = today, 16:04: in contact hours
    outbox.deliver_due(ctx)

    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkDetailScreen("AU1000001211006"))
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDetailScreen)
                         and pilot.app.screen.detail is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


async def batch_planned(pilot, keys=("t",)) -> BatchScreen:
    await home_ready(pilot)
    await pilot.press(*keys)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, BatchScreen) and pilot.app.screen.plan)
    await settle(pilot)
    return pilot.app.screen


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_batch_confirmation(snap_compare, ctx, size):
    async def run_before(pilot):
        await batch_planned(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


def test_batch_progress_while_stopping(snap_compare, ctx):
    async def run_before(pilot):
        screen = await batch_planned(pilot)
        # The screen's own steps, without MIT: one link of three made, then the agent stops.
        screen.show_running(3)
        last = BatchResult(policy="AU1000001", currency="MXN", receipts=("4100000001",),
                           outcome="made", reference="AU1000001-211007-ABCD")
        screen._progressed(BatchScreen._Progress(BatchProgress(done=1, total=3, made=1, skipped=0,
                                                               failed=0, last=last)))
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_batch_outcome(snap_compare, live_ctx, mailbox, monkeypatch):
    from paylink_tui.services import link_claim

    # Where the claim looks the reference up (links.make_reference is its re-export).
    monkeypatch.setattr(link_claim, "make_reference", lambda policy, day: f"{policy}-{day:%y%m%d}-ABCD")

    async def run_before(pilot):
        screen = await batch_planned(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.outcome is not None, timeout=30)
        await settle(pilot)

    assert snap_compare(app_for(live_ctx), terminal_size=SIZE, run_before=run_before)
