"""`?`: every key of the app, grouped by where it applies."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from paylink_tui.ui.widgets.footer import AppFooter

# How keys are called on a Spanish keyboard.
KEY_NAMES = {"escape": "Esc", "enter": "Enter", "f5": "F5", "home": "Inicio", "end": "Fin",
             "space": "espacio", "question_mark": "?", "slash": "/", "ctrl+p": "ctrl+p"}

# Keys handled by Textual's own widgets, described for the agent.
MOVING = (
    ("↑ ↓", "Mover el cursor en la tabla"),
    ("Re Pág / Av Pág", "Página anterior / siguiente (se cargan más filas al llegar al borde)"),
    ("Inicio / Fin", "Primera / última página de la lista"),
    ("Enter", "En la tabla: liga de pago del recibo; en la búsqueda: ir al primer resultado"),
    ("Tab / Mayús+Tab", "Pasar al siguiente / anterior control"),
    ("← →", "En un diálogo: pasar de un botón a otro"),
    ("Esc", "Volver a la pantalla de la que vino (en una búsqueda: borrarla)"),
    ("ctrl+p", "Paleta de acciones"),
)


def _sections() -> list[tuple[str, list[Binding]]]:
    from paylink_tui.ui.app import PaylinkApp
    from paylink_tui.ui.screens.batch import BatchScreen
    from paylink_tui.ui.screens.history import HistoryScreen
    from paylink_tui.ui.screens.link_detail import LinkDetailScreen
    from paylink_tui.ui.screens.link_dialog import LinkDialog
    from paylink_tui.ui.screens.link_sent import LinkSentScreen
    from paylink_tui.ui.screens.pending import PendingScreen
    from paylink_tui.ui.screens.review import ReviewScreen
    from paylink_tui.ui.widgets.pending_table import PendingTable

    return [
        ("En toda la aplicación", PaylinkApp.BINDINGS),
        ("Pendientes de pago", [*PendingScreen.BINDINGS, *PendingTable.BINDINGS]),
        ("Liga de pago", [*LinkDialog.BINDINGS, *LinkSentScreen.BINDINGS]),
        ("Ligas para varios clientes", BatchScreen.BINDINGS),
        ("Historial", [*HistoryScreen.BINDINGS, *LinkDetailScreen.BINDINGS]),
        ("Por revisar", ReviewScreen.BINDINGS),
    ]


def keys_table(app) -> Table:  # type: ignore[no-untyped-def]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", min_width=16)
    table.add_column()
    for title, bindings in _sections():
        table.add_row(Text(title, style="bold"), "")
        seen: set[str] = set()
        for binding in bindings:
            if not isinstance(binding, Binding) or binding.description in seen:
                continue
            seen.add(binding.description)
            keys = " / ".join(
                KEY_NAMES.get(k.strip()) or binding.key_display or app.get_key_display(Binding(k.strip(), ""))
                for k in binding.key.split(",")
            )
            # The footer's word is short; the help says it whole.
            table.add_row(Text(keys), Text(binding.tooltip or binding.description))
        table.add_row("", "")
    table.add_row(Text("Moverse", style="bold"), "")
    for keys, text in MOVING:
        table.add_row(Text(keys), Text(text))
    return table


class HelpScreen(ModalScreen):
    CSS_PATH = ["../styles/help.tcss"]
    BINDINGS = [Binding("escape,question_mark,q", "close", "Cerrar", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("Teclas", id="help-title")
            yield Static(keys_table(self.app), id="help-keys")
        yield AppFooter()  # this dialog's keys, not those of the screen beneath

    def action_close(self) -> None:
        self.dismiss(None)
