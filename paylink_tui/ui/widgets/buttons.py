"""The buttons of a dialog: ← and → move between them, as Tab does."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button


class ButtonRow(Horizontal):
    BINDINGS = [
        Binding("left", "step(-1)", "Botón anterior", show=False, id="buttons.left"),
        Binding("right", "step(1)", "Botón siguiente", show=False, id="buttons.right"),
    ]

    def action_step(self, by: int) -> None:
        buttons = [b for b in self.query(Button) if b.focusable]
        if not buttons:
            return
        focused = self.screen.focused
        here = buttons.index(focused) if focused in buttons else -1
        buttons[(here + by) % len(buttons)].focus()
