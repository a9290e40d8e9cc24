"""Giving a freshly started sandbox back the links it made in an earlier run.

The sandbox keeps its links in memory. `paylink-tui demo` starts a new one each time, and the
links of the last run would answer "Liga no encontrada" while the agent's history still
shows them Activa. The demo's database remembers every link it got from the sandbox (its
payment page address, amount, validity) and which were paid: the demo hands them back here
before serving, so the same address pays the same link, and a paid one says it was paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from paylink_tui.gateway.sandbox.state import Payment, SandboxLink, SandboxState


@dataclass(frozen=True)
class KnownLink:
    link_id: str  # the sandbox's own id: the last part of the payment page's address
    reference: str
    amount: Decimal
    currency: str
    valid_through: date
    email: str
    created_at: datetime
    extra: tuple[tuple[str, str], ...] = ()
    # An approved payment, when the link was paid: (folio, authorization, local dd/mm/yy,
    # local HH:MM:SS, card mask).
    paid: tuple[str, str, str, str, str] | None = None


def restore(state: SandboxState, links: Iterable[KnownLink]) -> int:
    """Add `links` the sandbox does not know yet; how many were added. Call before serving."""
    added = 0
    for known in links:
        if known.link_id in state.links or known.reference in state.by_reference:
            continue
        link = SandboxLink(id=known.link_id, reference=known.reference, amount=known.amount,
                           currency=known.currency, valid_through=known.valid_through,
                           email=known.email, extra=known.extra, created_at=known.created_at)
        if known.paid is not None:
            folio, auth, day, time, mask = known.paid
            link.payments.append(Payment(
                folio=folio, response="approved", auth=auth, cd_response="00", cd_error="",
                nb_error="", date=day, time=time, cc_mask=mask, cc_number=mask[-4:],
                cc_type="", cc_name="", email=known.email))
            state._folios.add(folio)  # noqa: SLF001 - the state's own bookkeeping
        state.links[link.id] = link
        state.by_reference[link.reference] = link
        added += 1
    return added
