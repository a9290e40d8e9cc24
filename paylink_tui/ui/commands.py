"""The command palette (ctrl+p): every action of the app, in Spanish."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (name shown, action on the app, help)
ACTIONS = (
    ("Liga de pago", "link", "Genera y envía la liga del recibo seleccionado"),
    ("Buscar recibos", "search", "Busca por póliza, recibo o contratante"),
    ("Pendientes de pago", "pending", "La lista de recibos pendientes"),
    ("Historial", "history", "Todas las ligas con su estado"),
    ("Por revisar", "review", "Notificaciones de pago guardadas para revisión"),
    ("Ayuda: todas las teclas", "help", "Muestra cada tecla y lo que hace"),
    ("Salir", "quit", "Cierra la aplicación"),
)


class PaylinkCommands(Provider):
    async def discover(self) -> Hits:
        for name, action, help_text in ACTIONS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action),
                          help=help_text)
