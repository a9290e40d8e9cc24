"""The command palette (ctrl+p): every action of the screen it was opened on, in Spanish.

The actions are read from the keys that screen has right now (its own, its focused
widget's, the app's), so a key and its palette entry can never disagree; a few actions
without a key of their own come after them."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# Keys that only move within a dialog or repeat another entry: not actions to list.
NOT_ACTIONS = {"buttons.left", "buttons.right", "pending.submit", "history.to_table",
               "detail.resend_why", "detail.cancel_why", "detail.retry_why", "app.palette",
               "detail.reminders_why", "batch.quit_stops"}

# (name shown, action on the app, help): always offered, from any screen.
GLOBAL = (
    ("Pendientes de pago", "pending", "La lista de recibos pendientes"),
    ("Historial", "history", "Todas las ligas con su estado"),
    ("Por revisar", "review", "Notificaciones de pago guardadas para revisión"),
    ("Ayuda: todas las teclas", "help", "Muestra cada tecla y lo que hace"),
    ("Salir", "quit", "Cierra la aplicación"),
)


class PaylinkCommands(Provider):
    def _entries(self) -> list[tuple[str, Callable[[], object], str]]:
        app = self.app
        screen = self.screen  # the screen the palette was opened on
        entries: list[tuple[str, Callable[[], object], str]] = []
        seen: set[str] = set()
        for namespace, bindings in screen._modal_binding_chain:  # noqa: SLF001 - as Footer does
            for _key, binding in bindings:
                # Ours all have an id; Textual's own widgets' keys (cursor moves) speak English.
                if not binding.id or binding.id in NOT_ACTIONS or not binding.description:
                    continue
                if binding.description in seen or not app._check_action_state(  # noqa: SLF001
                        binding.action, namespace):
                    continue
                seen.add(binding.description)
                key = app.get_key_display(binding)
                entries.append((binding.description,
                                partial(app.run_action, binding.action, namespace),
                                f"Tecla {key}" + (f": {binding.tooltip}" if binding.tooltip else "")))
        for name, action, help_text in GLOBAL:
            if name not in seen and app._check_action_state(action, app):  # noqa: SLF001
                seen.add(name)
                entries.append((name, partial(app.run_action, action), help_text))
        return entries

    async def discover(self) -> Hits:
        for name, run, help_text in self._entries():
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
