"""How each screen and dialog looks, at 120×36, on the frozen clock (07/10/2021 16:04 local).

Update with `pytest tests/ui/test_snapshots.py --snapshot-update`, then look at the SVGs
in tests/ui/__snapshots__/ before committing them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from textual.widgets import Select

from paylink_tui.domain.results import GeneratedLink
from paylink_tui.ui.screens.history import HistoryScreen
from paylink_tui.ui.screens.link_detail import LinkDetailScreen
from paylink_tui.ui.screens.link_dialog import LinkDialog
from paylink_tui.ui.screens.link_sent import LinkSentScreen
from paylink_tui.ui.screens.prompt import ConfirmDialog
from paylink_tui.ui.screens.review import ReviewScreen
from paylink_tui.ui.widgets.detail_pane import DetailPane
from tests.ui.conftest import (
    SIZE,
    add_link,
    add_review,
    app_for,
    home_ready,
    settle,
    wait_until,
)
from tests.ui.test_history_screen import book


def sent_link(**overrides):
    """A GeneratedLink as the service returns it (the URL fixed, so the QR is too)."""
    values = dict(
        link_id=1, reference="AU1000001211007", url="https://sandbox.mitec.example/p/i/3691PBW8",
        email="ana@example.com", amount=Decimal("75.17"), currency="MXN", policy_number="AU1000001",
        receipt_numbers=("4100000001",), valid_through=date(2021, 10, 10),
        reappears_on=date(2021, 10, 12), expires_at=datetime(2021, 10, 11, 5, tzinfo=timezone.utc),
        email_status="sent", email_error=None,
    )
    values.update(overrides)
    return GeneratedLink(**values)


def test_pending_home(snap_compare, ctx):
    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=home_ready)


def test_pending_search(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("slash", *"pena")
        await wait_until(pilot, lambda: "coinciden" in str(pilot.app.screen.query_one("#totals").render()))
        await pilot.press("enter", "down")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(DetailPane).detail.receipt.receipt
                         == "4100000002")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_pending_demo_banner_and_marks(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("space", "space", "up")
        await settle(pilot)

    app = app_for(ctx, demo_info={"base_url": "http://127.0.0.1:8765",
                                  "mail_folder": "/home/ana/.local/share/paylink-tui/demo/correo"})
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_link_dialog(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_dialog_invalid_email(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
        await pilot.press(*["backspace"] * 12, *"example")  # ana@example.com -> ana@examplexample
        await pilot.press(*["backspace"] * 20, *"ana example.com")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_dialog_gateway_missing(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
        await pilot.press("enter")
        await wait_until(pilot, lambda: "PAYLINK_GATEWAY" in str(pilot.app.screen.query_one("#link-error").render()))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_sent(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkSentScreen(sent_link()))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_sent_email_queued(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkSentScreen(sent_link(
            email_status="queued",
            email_error="No se pudo conectar con el servidor de correo 127.0.0.1:25 (conexión rechazada).")))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


async def history_ready(pilot) -> None:
    await home_ready(pilot)
    await pilot.press("h")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.rows)
    await settle(pilot)


def test_history(snap_compare, ctx):
    book(ctx.engine)
    add_review(ctx.engine, reference="ZZ-NO-EXISTE", amount="10.00")
    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=history_ready)


def test_history_filtered(snap_compare, ctx):
    book(ctx.engine)

    async def run_before(pilot):
        await history_ready(pilot)
        pilot.app.screen.query_one(Select).value = "paid"
        await wait_until(pilot, lambda: len(pilot.app.screen.rows) == 1)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_detail(snap_compare, ctx):
    book(ctx.engine)

    async def run_before(pilot):
        await history_ready(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDetailScreen)
                         and pilot.app.screen.detail is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_cancel_confirmation(snap_compare, ctx):
    book(ctx.engine)

    async def run_before(pilot):
        await history_ready(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_resend_prompt(snap_compare, ctx):
    book(ctx.engine)

    async def run_before(pilot):
        await history_ready(pilot)
        await pilot.press("r")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_review(snap_compare, ctx):
    book(ctx.engine)
    add_review(ctx.engine, reference="ZZ-NO-EXISTE", amount="8900.50")
    add_review(ctx.engine, reference="DA4000004211007", amount="8000.00", reason="amount_mismatch")

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen) and pilot.app.screen.items)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, ctx):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_empty_database(snap_compare, make_ctx, tmp_path):
    from paylink_tui.store.db import make_engine, upgrade

    url = f"sqlite:///{(tmp_path / 'vacia.db').as_posix()}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    ctx = make_ctx(database_url=url)
    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=settle)


# Keep the helper imported for readers looking for how links are written.
_ = add_link


def test_history_flagged_link(snap_compare, make_ctx):
    from tests.ui.test_history_screen import flagged_book

    ctx = make_ctx(gateway="sandbox")
    flagged_book(ctx)

    async def run_before(pilot):
        await history_ready(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


def test_link_detail_flagged(snap_compare, make_ctx):
    from tests.ui.test_history_screen import flagged_book

    ctx = make_ctx(gateway="sandbox")
    flagged_book(ctx)

    async def run_before(pilot):
        await history_ready(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDetailScreen)
                         and pilot.app.screen.detail is not None)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=SIZE, run_before=run_before)


# --- at the sizes agents have: 80×24 (many agents' windows) and 200×50 (issue 13) -------------

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}
DEMO = {"base_url": "http://127.0.0.1:8765", "mail_folder": "/home/ana/.local/share/paylink-tui/demo/correos"}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_pending_at_size(snap_compare, ctx, size):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("space", "space", "up")  # two marked: the marks line shows
        await settle(pilot)

    assert snap_compare(app_for(ctx, demo_info=DEMO), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_history_at_size(snap_compare, make_ctx, size):
    from tests.ui.test_history_screen import flagged_book

    ctx = make_ctx(gateway="sandbox")
    flagged_book(ctx)
    book(ctx.engine)
    assert snap_compare(app_for(ctx), terminal_size=size, run_before=history_ready)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_link_dialog_at_size(snap_compare, ctx, size):
    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("space", "space", "down")  # the marked ones, the cursor elsewhere
        # The detail of the row the cursor rests on, before the dialog covers it: a screen
        # under a modal one is not painted again (over the server the read takes longer).
        await settle(pilot)
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, LinkDialog))
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_link_sent_at_size(snap_compare, ctx, size):
    async def run_before(pilot):
        await home_ready(pilot)
        pilot.app.push_screen(LinkSentScreen(sent_link()))
        await wait_until(pilot, lambda: pilot.app.screen.query("#sent-copied")
                         and str(pilot.app.screen.query_one("#sent-copied").render()).strip())
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_review_at_size(snap_compare, ctx, size):
    book(ctx.engine)
    add_review(ctx.engine, reference="ZZ-NO-EXISTE-EN-ESTE-LIBRO-1", amount="8900.50")
    add_review(ctx.engine, reference="DA4000004211007", amount="8000.00", reason="amount_mismatch")

    async def run_before(pilot):
        await home_ready(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen) and pilot.app.screen.items)
        await settle(pilot)

    assert snap_compare(app_for(ctx), terminal_size=size, run_before=run_before)


def test_a_search_that_finds_only_linked_receipts(snap_compare, live_ctx, mailbox, monkeypatch):
    from paylink_tui.services import link_claim, links

    # The reference's random part fixed, so that the picture is the same every run (patched
    # where the claim looks it up: links.make_reference is its re-export).
    monkeypatch.setattr(link_claim, "make_reference", lambda policy, day: f"{policy}-{day:%y%m%d}-ABCD")
    links.generate_link(live_ctx, policy_number="AU1000001", email="ana@example.com")

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("slash", *"1000001")
        await wait_until(pilot, lambda: "ABCD" in str(pilot.app.screen.query_one("#detail-body").render()))
        await wait_until(pilot, lambda: "coinciden" in str(pilot.app.screen.query_one("#totals").render()))
        await settle(pilot)

    assert snap_compare(app_for(live_ctx), terminal_size=(80, 24), run_before=run_before)
