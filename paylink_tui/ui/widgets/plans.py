"""The meses-sin-intereses plans a link will offer, one line in the "Liga de pago" dialog.

Every plan that applies (the contract's, reached by the amount, MXN only: the backend's pure
`link_plans`, so nothing waits) starts ticked; the agent moves with ←/→ and unticks or ticks
with the space bar. The single payment is always offered and is not a choice. A plain line
says why there are none when the contract has plans but this link reaches none; without any
plan configured the widget is not shown at all.

Its few styles live here (DEFAULT_CSS) so that the dialog's own stylesheet stays the dialog's.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.text import Text
from textual.binding import Binding
from textual.reactive import reactive
from textual.widget import Widget

from paylink_tui.domain.promotions import CURRENCY, InstallmentPlan

LABEL = "Meses sin intereses"
ALSO_SINGLE = " y una sola exhibición"


class PlanPicker(Widget, can_focus=True):
    DEFAULT_CSS = """
    PlanPicker {
        height: auto;
    }
    PlanPicker.-none {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("space", "toggle", "Marcar o desmarcar plan", id="plans.toggle"),
        Binding("left", "move(-1)", "Plan anterior", show=False, id="plans.left"),
        Binding("right", "move(1)", "Plan siguiente", show=False, id="plans.right"),
        Binding("home", "move_to(0)", show=False, id="plans.first"),
        Binding("end", "move_to(-1)", show=False, id="plans.last"),
    ]

    cursor: reactive[int] = reactive(0)

    def __init__(self, plans: Sequence[InstallmentPlan], *, note: str = "",
                 **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.plans = tuple(plans)
        self.ticked = [True] * len(self.plans)
        self.note = note
        self.can_focus = bool(self.plans)
        self.set_class(not self.plans, "-none")
        self.display = bool(self.plans or note)

    @property
    def chosen(self) -> tuple[int, ...]:
        """The months ticked; empty: the single payment only."""
        return tuple(p.months for p, on in zip(self.plans, self.ticked, strict=True) if on)

    def render(self) -> Text:
        if not self.plans:
            return Text(self.note)
        line = Text.assemble((LABEL, "bold"))
        for i, (plan, on) in enumerate(zip(self.plans, self.ticked, strict=True)):
            line.append("  ")
            style = "reverse" if self.has_focus and i == self.cursor else ""
            line.append(f"[{'X' if on else ' '}] {plan.months}", style=style)
        # The single payment is always offered too: said when the line has room for it.
        if not self.size.width or line.cell_len + len(ALSO_SINGLE) <= self.size.width:
            line.append(ALSO_SINGLE, style="dim")
        return line

    def action_toggle(self) -> None:
        if self.plans:
            self.ticked[self.cursor] = not self.ticked[self.cursor]
            self.refresh()

    def action_move(self, step: int) -> None:
        if self.plans:
            self.cursor = (self.cursor + step) % len(self.plans)

    def action_move_to(self, index: int) -> None:
        if self.plans:
            self.cursor = index % len(self.plans)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def watch_cursor(self) -> None:
        self.refresh()


def plan_picker(backend, amount: Decimal, currency: str, **kwargs) -> PlanPicker:  # type: ignore[no-untyped-def]
    """The picker for a link of `amount` in `currency`, from the backend's pure rules."""
    plans = backend.link_plans(amount, currency)
    enabled = backend.identity().promotions
    note = ""
    if enabled and not plans:
        if currency != CURRENCY:
            note = f"{LABEL}: solo en ligas en pesos (MXN); esta se paga en una sola exhibición."
        else:
            note = (f"{LABEL}: el monto no alcanza el mínimo de ningún plan (desde "
                    f"{min(enabled, key=lambda p: p.minimum).minimum_text}); una sola "
                    "exhibición.")
    return PlanPicker(plans, note=note, **kwargs)
