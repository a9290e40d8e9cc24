"""A batch of links under way on the agency's server, and its agent's request to stop it.

Over the server a batch runs in one `serve` worker while its agent's request to stop may reach
another (several workers, several processes), so the stop is a row of `batch_run` (migration
0011) that the running worker reads before it starts each link. The links under way finish;
the batch's own outcome then says which were made and which were not tried, as it does on one
machine (services/batch.py).

Only the user who started a batch may stop it: the rule is in the UPDATE itself, and another
user's batch, a finished one and one that never existed answer the same "not found".
"""

from __future__ import annotations

from sqlalchemy import select, update

from paylink_tui.services.context import AppContext
from paylink_tui.store.db import write_session
from paylink_tui.store.models import BatchRun


def _owner(ctx: AppContext) -> str:
    return ctx.principal.user if ctx.principal is not None else ctx.agent


def start(ctx: AppContext) -> int:
    """A new batch run of the signed-in user: its id is what the agent stops it by."""
    run = BatchRun(user_name=_owner(ctx), started_at=ctx.now())
    with write_session(ctx.engine) as s:
        s.add(run)
        s.flush()
        assert run.id is not None
        return run.id


def stop_requested(ctx: AppContext, run_id: int) -> bool:
    with ctx.engine.connect() as conn:
        at = conn.execute(select(BatchRun.__table__.c.stop_requested_at)
                          .where(BatchRun.__table__.c.id == run_id)).scalar()
    return at is not None


def request_stop(ctx: AppContext, run_id: int) -> bool:
    """Ask the signed-in user's batch `run_id` to start no further link. False when there is
    no such batch under way of theirs."""
    t = BatchRun.__table__.c
    with write_session(ctx.engine) as s:
        done = s.execute(update(BatchRun).where(
            t.id == run_id, t.user_name == _owner(ctx), t.finished_at.is_(None))
            .values(stop_requested_at=ctx.now()))
        return bool(done.rowcount)


def finish(ctx: AppContext, run_id: int) -> None:
    with write_session(ctx.engine) as s:
        s.execute(update(BatchRun).where(BatchRun.__table__.c.id == run_id)
                  .values(finished_at=ctx.now()))
