"""The first frame (cli/first_frame.py) is written without Textual, by hand: these tests hold
it to the app it stands in for, so that the two cannot drift apart unnoticed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets._footer import FooterKey

from paylink_tui.backend.first_page import first_page
from paylink_tui.cli import first_frame
from paylink_tui.domain.dates import local_date, to_local
from paylink_tui.ui.widgets.pending_table import PendingTable
from tests.ui.conftest import app_for, settle

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

@pytest.mark.parametrize("size", [(120, 36), (80, 24), (200, 50)])
async def test_footer_columns_and_rows_are_where_the_app_draws_them(ctx, size):
    WIDTH, HEIGHT = size
    app = app_for(ctx)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await settle(pilot)
        footer = [(k.key_display, k.description) for k in app.screen.query(FooterKey)
                  if k.description != "Acciones"]  # ^p, drawn apart at the right
        table = app.screen.query_one(PendingTable)
        columns = [(str(c.key.value), str(c.label).strip(), c.width) for c in table.ordered_columns]
        screen = [strip.text for strip in app.screen._compositor.render_strips()]
        first_row_y = table.region.y + 1  # below the column titles
        visible = table.region.height - 1

    if WIDTH >= 100:  # below, the footer is compact: the frame draws the full one
        assert tuple(footer) == first_frame.FOOTER_KEYS
    assert columns == first_frame.columns(WIDTH)
    assert first_row_y == first_frame.ABOVE_TABLE
    assert visible == first_frame.table_rows(HEIGHT)

    now = ctx.now()
    rows = first_page(Path(ctx.engine.url.database), now, first_frame.table_rows(HEIGHT))
    assert rows
    frame = [ANSI.sub("", line) for line in
             first_frame.render(rows, local_date(now, ctx.tz), WIDTH, HEIGHT,
                                now=to_local(now, ctx.tz),
                                grace_days=ctx.settings.grace_days).split("\r\n")]
    for y in range(first_frame.ABOVE_TABLE - 1, first_frame.ABOVE_TABLE + len(rows)):
        # Column titles and each row, cell by cell where the app puts them.
        assert frame[y].rstrip() == screen[y][:len(frame[y])].rstrip(), y
