"""How meses sin intereses look, at 120×36 on the frozen clock (07/10/2021 16:04 local): the
dialog's plan picker with the cursor on a plan just unticked, and a link paid at 6 months.

Update with `pytest tests/ui/test_msi_snapshots.py --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from sqlmodel import select

from paylink_tui.store.db import write_session
from paylink_tui.store.models import Notification, PaymentLink
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from tests.ui.conftest import MSI_CONTRACT, SIZE, add_link, app_for, home_ready, settle, wait_until


def test_link_dialog_with_plans(snap_compare, make_ctx):
    ctx = make_ctx(mit_promotions=MSI_CONTRACT)

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("slash", *"ibanez", "enter")
        await settle(pilot)  # the row's detail painted before the dialog covers the screen
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
        await pilot.press("tab", "right", "space")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def paid_at_6_months(ctx) -> None:
    add_link(ctx.engine, reference="GM2000002211006", receipt_ids=[4], amount="12480.00",
             state="paid", paid=True, policy_id=2, email="rosa@example.com")
    with write_session(ctx.engine) as s:
        link = s.exec(select(PaymentLink)).one()
        link.promotions, link.installment_months = "C,3,6,9,12", 6
        s.add(link)
        paying = s.exec(select(Notification)).one()
        paying.promotion = "6"
        s.add(paying)


def test_history_and_detail_of_a_link_paid_at_6_months(snap_compare, make_ctx):
    ctx = make_ctx(mit_promotions=MSI_CONTRACT)
    paid_at_6_months(ctx)

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen)
                         and pilot.app.screen.rows)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDetailScreen)
                         and pilot.app.screen.detail is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)
