"""Regenerate the README's screenshots: one SVG per screen, into docs/img/.

    python scripts/screenshots.py [--out docs/img]

Runs the real demo runtime in a temporary folder (seeded SQLite, the sandbox gateway, the
notification receiver and the SMTP MailDrop, all on loopback), makes a few links through
the services (one paid on the sandbox with its test card, one cancelled), then drives the
app headless at 120×36 (and the pending list and Historial again at 80×24) and saves each
screen with Textual's `save_screenshot`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (120, 36)
SMALL = (80, 24)


def prepare(runtime) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Links in several states, through the same services the app uses."""
    from paylink_tui.gateway.sandbox import cards
    from paylink_tui.services import links
    from paylink_tui.services.receipts import pending_page

    ctx = runtime.ctx
    rows = [r for r in pending_page(ctx, limit=60).rows if r.email]
    by_policy: dict[str, list] = {}
    for r in rows:
        by_policy.setdefault(r.policy, []).append(r)
    policies = list(by_policy.values())
    made = {}
    paid = links.generate_link(ctx, receipt_numbers=[policies[0][0].receipt], email=policies[0][0].email)
    made["paid"] = paid.reference
    active = links.generate_link(ctx, receipt_numbers=[r.receipt for r in policies[1]],
                                 email=policies[1][0].email)
    made["active"] = active.reference
    cancelled = links.generate_link(ctx, receipt_numbers=[policies[2][0].receipt],
                                    email=policies[2][0].email)
    links.cancel_link(ctx, cancelled.reference, agent=ctx.agent)
    made["cancelled"] = cancelled.reference
    # The client pays on the sandbox's page (its form, over HTTP, with the test card);
    # the sandbox then notifies the receiver as MIT would.
    import httpx

    httpx.post(f"{paid.url}/pagar", data={
        "tarjeta": cards.APPROVE, "nombre": "Rosa", "apellido_paterno": "Peña",
        "apellido_materno": "Ibáñez", "expira": "12/30", "cvv": "123", "correo": paid.email,
        "terminos": "on"}, timeout=10)
    deadline = time.monotonic() + 15
    from paylink_tui.services.history import list_links

    while time.monotonic() < deadline:
        if any(r.reference == paid.reference and r.status == "paid" for r in list_links(ctx)):
            break
        time.sleep(0.2)
    return made


async def shoot(app, out: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    from paylink_tui.ui.screens.help import HelpScreen
    from paylink_tui.ui.screens.history import HistoryScreen
    from paylink_tui.ui.screens.link_detail import LinkDetailScreen
    from paylink_tui.ui.screens.link_dialog import LinkDialog
    from paylink_tui.ui.screens.link_sent import LinkSentScreen
    from paylink_tui.ui.screens.review import ReviewScreen
    from paylink_tui.ui.widgets.detail_pane import DetailPane
    from paylink_tui.ui.widgets.pending_table import PendingTable

    saved: list[Path] = []

    async with app.run_test(size=SIZE) as pilot:

        async def until(cond: Callable[[], object], timeout: float = 20) -> None:
            deadline = time.monotonic() + timeout
            while not cond():
                if time.monotonic() > deadline:
                    raise RuntimeError("la pantalla no llegó al estado esperado")
                await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)

        def save(name: str) -> None:
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
            saved.append(out / f"{name}.svg")

        await until(lambda: app.screen.query(PendingTable) and app.screen.query_one(DetailPane).detail)
        save("pendientes")
        await pilot.press("slash", *"garcia")
        await until(lambda: app.screen.query_one(PendingTable).search == "garcia"
                    and "coinciden" in str(app.screen.query_one("#totals").render()))
        await pilot.press("enter")
        await until(lambda: app.screen.query_one(DetailPane).detail)
        save("busqueda")
        await pilot.press("l")
        await until(lambda: isinstance(app.screen, LinkDialog))
        save("liga-de-pago")
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, LinkSentScreen))
        save("liga-generada")
        await pilot.press("escape", "h")
        await until(lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows)
        save("historial")
        await pilot.press("down", "down", "enter")
        await until(lambda: isinstance(app.screen, LinkDetailScreen) and app.screen.detail)
        save("detalle-de-liga")
        await pilot.press("escape", "v")
        await until(lambda: isinstance(app.screen, ReviewScreen))
        save("por-revisar")
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen))
        save("teclas")
    return saved


async def shoot_small(app, out: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    """The pending list and Historial at 80×24, the size of many agents' windows."""
    from paylink_tui.ui.screens.history import HistoryScreen
    from paylink_tui.ui.widgets.detail_pane import DetailPane
    from paylink_tui.ui.widgets.pending_table import PendingTable

    saved: list[Path] = []
    async with app.run_test(size=SMALL) as pilot:
        async def until(cond: Callable[[], object], timeout: float = 20) -> None:
            deadline = time.monotonic() + timeout
            while not cond():
                if time.monotonic() > deadline:
                    raise RuntimeError("la pantalla no llegó al estado esperado")
                await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            await pilot.pause(0.2)

        for name, keys, ready in (
            ("pendientes-80x24", (), lambda: app.screen.query(PendingTable)
             and app.screen.query_one(DetailPane).detail),
            ("historial-80x24", ("h",), lambda: isinstance(app.screen, HistoryScreen) and app.screen.rows),
        ):
            await pilot.press(*keys)
            await until(ready)
            app.save_screenshot(filename=f"{name}.svg", path=str(out))
            saved.append(out / f"{name}.svg")
    return saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from paylink_tui.demo.runtime import DemoRuntime
    from paylink_tui.ui.app import make_app

    with tempfile.TemporaryDirectory() as tmp, DemoRuntime(Path(tmp) / "demo") as runtime:
        prepare(runtime)
        app = make_app(runtime.backend, demo_info={"base_url": runtime.base_url,
                                                   "mail_folder": str(runtime.mail_folder)},
                       live=False, cursor_blink=False)
        paths = asyncio.run(shoot(app, out))
        small = make_app(runtime.backend, demo_info={"base_url": runtime.base_url,
                                                     "mail_folder": str(runtime.mail_folder)},
                         live=False, cursor_blink=False)
        paths += asyncio.run(shoot_small(small, out))
        for path in paths:
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
