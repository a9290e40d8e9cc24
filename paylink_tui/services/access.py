"""Who may see and do what (team mode): the portfolio rule and the roles.

The portfolio rule is a SQL clause that every use case puts INSIDE its own query, so that a
receipt, a link or an event outside the signed-in user's portfolio is never read at all
(never read, then filtered). Outside the portfolio is whatever the use case already answers
for "does not exist" (None, an empty list, ReceiptNotFound / LinkNotFound), so a guessed
number or reference reveals nothing.

- No principal (the one-agent mode), a supervisor or an administrador: everything. The
  clauses are then `None`, and `scoped(query, clause)` leaves the query as it is, so the
  one-agent mode runs exactly the SQL it ran before team mode.
- An agente: the receipts whose `agent_code` is one of their codes; with "*", every receipt
  that has a code (a receipt without a code is seen by supervisors only). Links and events
  belong to the portfolio through their policy's `agent_code` (the receipts of a policy all
  carry the policy's code: services/importing.py keeps them equal).

Roles: `require_role(ctx, ROLE_SUPERVISOR)` (the review queue, cancelling another agent's
link) and `require_role(ctx, ROLE_ADMIN)` (import, users) raise `Forbidden`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from paylink_tui.domain.errors import Forbidden
from paylink_tui.domain.results import (
    ALL_CODES,
    ROLE_ADMIN,
    ROLE_AGENT,
    ROLE_SUPERVISOR,
    Identity,
)
from paylink_tui.services.context import AppContext
from paylink_tui.store.models import Event, PaymentLink, Policy, Receipt

_RANK = {ROLE_AGENT: 0, ROLE_SUPERVISOR: 1, ROLE_ADMIN: 2}

_NEEDS = {
    ROLE_SUPERVISOR: ("Esta operación es de supervisor: su usuario no tiene permiso. Pídasela "
                      "a un supervisor de la agencia."),
    ROLE_ADMIN: ("Esta operación es del administrador de la agencia: su usuario no tiene "
                 "permiso."),
}


def _limited(ctx: AppContext) -> Identity | None:
    """The principal when the portfolio rule limits it (an agente), else None."""
    p = ctx.principal
    if p is None or _RANK.get(p.role, -1) >= _RANK[ROLE_SUPERVISOR]:
        return None
    return p


def sees_everything(ctx: AppContext) -> bool:
    return _limited(ctx) is None


def has_role(ctx: AppContext, role: str) -> bool:
    p = ctx.principal
    if p is None:
        return True  # the one-agent mode's agent is the administrador
    return _RANK.get(p.role, -1) >= _RANK[role]


def require_role(ctx: AppContext, role: str) -> None:
    """Raise Forbidden unless the principal's role is `role` or above."""
    if not has_role(ctx, role):
        raise Forbidden(_NEEDS.get(role, Forbidden().message))


def _code_clause(column: Any, codes: tuple[str, ...]) -> ColumnElement[bool]:
    if ALL_CODES in codes:
        return column.is_not(None)
    real = sorted({c for c in codes if c})
    if not real:
        return false()
    return column.in_(real)


def receipt_scope(ctx: AppContext, receipt: Any = None) -> ColumnElement[bool] | None:
    """The clause "this receipt is in the principal's portfolio" on `receipt` (the Receipt
    table or an alias of it), or None when the principal sees everything."""
    p = _limited(ctx)
    if p is None:
        return None
    table = receipt if receipt is not None else Receipt.__table__
    return _code_clause(table.c.agent_code, p.codes)


def policy_scope(ctx: AppContext, policy: Any = None) -> ColumnElement[bool] | None:
    """The clause on the policy table (or alias)."""
    p = _limited(ctx)
    if p is None:
        return None
    table = policy if policy is not None else Policy.__table__
    return _code_clause(table.c.agent_code, p.codes)


def policy_ids_in_scope(ctx: AppContext):  # type: ignore[no-untyped-def]
    """A sub-select of the ids of the policies in the portfolio (None: every policy)."""
    clause = policy_scope(ctx)
    if clause is None:
        return None
    return select(Policy.__table__.c.id).where(clause)


def link_scope(ctx: AppContext, link: Any = None) -> ColumnElement[bool] | None:
    """The clause "this link is in the portfolio": its policy's code is one of the
    principal's. `link`: the PaymentLink table or an alias (default the table)."""
    ids = policy_ids_in_scope(ctx)
    if ids is None:
        return None
    table = link if link is not None else PaymentLink.__table__
    return table.c.policy_id.in_(ids)


def event_scope(ctx: AppContext) -> ColumnElement[bool] | None:
    """The events of the portfolio: of its links, or naming one of its policies. Events of
    no policy (reviews, imports) are the supervisors'."""
    ids = policy_ids_in_scope(ctx)
    if ids is None:
        return None
    e = Event.__table__.c
    link_ids = select(PaymentLink.__table__.c.id).where(
        PaymentLink.__table__.c.policy_id.in_(ids))
    numbers = select(Policy.__table__.c.number).where(policy_scope(ctx))  # type: ignore[arg-type]
    return or_(e.link_id.in_(link_ids), e.policy_number.in_(numbers))


def scoped(query: Any, *clauses: ColumnElement[bool] | None) -> Any:
    """`query.where(clause)` for each clause that is not None."""
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return query


def may_touch_link_of(ctx: AppContext, link_agent: str | None) -> bool:
    """Whether the principal may change (cancel) a link made by `link_agent`: their own,
    or anyone's for a supervisor."""
    p = ctx.principal
    if p is None or has_role(ctx, ROLE_SUPERVISOR):
        return True
    return link_agent == p.user
