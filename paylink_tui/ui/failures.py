"""One way to tell the agent that something failed (style.md, "Small habits").

An `AgentError` carries its own Spanish message (but the agency server's unexpected failure,
`ServerError`, is told with what was being done, as a local one is); anything else is a bug
or an outage: it is logged with its traceback and the agent reads one generic Spanish line.
No exception name or English word ever reaches the screen."""

from __future__ import annotations

import logging

from paylink_tui.domain.errors import AgentError

log = logging.getLogger("paylink_tui.ui")


def agent_message(exc: BaseException, doing: str) -> str:
    """What to show for `exc`, raised while trying to `doing` ("generar la liga")."""
    from paylink_tui.backend.api_errors import ServerError

    if isinstance(exc, ServerError):  # the server's unexpected failure: say what failed too
        return (f"No se pudo {doing} por un error inesperado del servidor (el detalle quedó en "
                "su registro). Inténtelo de nuevo en un momento; si se repite, avise a soporte.")
    if isinstance(exc, AgentError):
        return exc.message
    log.error("unexpected error while trying to %s", doing, exc_info=exc)
    return (f"No se pudo {doing} por un error inesperado. Inténtelo de nuevo; si se repite, "
            "avise a soporte (el detalle quedó en el registro de paylink-tui).")
