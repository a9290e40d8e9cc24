"""The pending list's page on PostgreSQL (services/receipts.py has the rules and SQLite's path).

Two plans, chosen by how many receipts the search's rarest word matches in the signed-in
user's portfolio (services/search.py, `word_candidates`; the limit is `candidate_limit`):
- **few** (a name, a policy, a word within one agent's portfolio): their ids are read from
  the word index as one array value, and sent back as one parameter (`receipt.id = ANY
  (:candidates)`): each is looked up by id in `ix_receipt_id_list`, which carries the
  filters' and the order's columns (migration 0012), and PostgreSQL keeps the page's rows in
  a top-N sort. The cost is the number of matches, not the book's size, and the plan is the
  same whatever the planner guesses of the array.
- **many** (no search, or a word common in the whole book): the list's order is walked on
  its index (`ix_receipt_pending_order` / `ix_receipt_lapse_order`, which carry every column
  the filters read, and the id: migration 0009) until a page of matches is found, read from
  the index alone. The planner is told to walk (no sort, no scan of the table): it takes a
  LIKE to keep a few dozen rows of a million, and it chose to read every pending receipt and
  sort them ("hernandez": 1.9 s where the walk takes 3 ms).
Either way the ids come first and the page's rows (with policy and holder) are read by id;
candidates no more than a page are read whole at once, as on SQLite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, cast, func, select

from paylink_tui.domain.results import PendingPage, SortKey
from paylink_tui.services.access import receipt_scope, scoped
from paylink_tui.services.context import AppContext
from paylink_tui.services.search import Term, word_candidates, word_filters
from paylink_tui.store.models import Receipt

# The walk: an index in the list's order, read alone, in one process. Both: no JIT, which
# compiles a plan for its estimated cost (a walk that stops after a page never reaches it).
WALK_SETTINGS = {"enable_seqscan": "off", "enable_bitmapscan": "off", "enable_sort": "off",
                 "max_parallel_workers_per_gather": "0", "jit": "off"}
FEW_SETTINGS = {"jit": "off"}


def _int_array(ids: list[int]) -> str:
    """PostgreSQL's text of an integer array: '{1,2,3}'."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def _set_local(conn, settings: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """SET LOCAL of each, in one round trip (set_config(…, true) is SET LOCAL)."""
    calls = [func.set_config(name, value, True) for name, value in settings.items()]
    conn.execute(select(*calls))


def pending_page_pg(ctx: AppContext, *, now: datetime, words: list[Term], columns,  # type: ignore[no-untyped-def]
                    after: SortKey | None, before: SortKey | None, backwards: bool,
                    limit: int, sort: str) -> PendingPage:
    from paylink_tui.services.receipts import _base_query, _keyset, _page_in_memory, _pending_filter

    r = Receipt.__table__.c
    found = word_candidates(ctx, words) if words else None
    if found is not None and not found[0]:
        return PendingPage(rows=[], has_more=False, sort=sort)
    if found is not None and len(found[0]) <= limit + 1:
        # No more candidates than a page: their rows are read and sorted at once (one query,
        # as on SQLite; the two below would cost more round trips than they save).
        return _page_in_memory(ctx, _base_query(ctx, now, words, found), after=after,
                               before=before, backwards=backwards, limit=limit, sort=sort)
    if found is not None:
        ids, unchecked = found
        # One array parameter (not a parameter per id), looked up by id in the index. It is
        # sent as the array's text, cast in SQL: psycopg's dumper of a Python list took 5.5 ms
        # of a 21 ms search for an agent's 2,800 candidates (a regex per element); the ids
        # are the database's own integers, so their text is all digits and commas.
        among = cast(bindparam("candidates", _int_array(ids), type_=String), ARRAY(Integer))
        ids_q = select(r.id).where(r.id == any_(among), _pending_filter(now),
                                   *word_filters(unchecked))
        settings = FEW_SETTINGS
    else:
        ids_q = select(r.id).where(_pending_filter(now), *word_filters(words))
        settings = WALK_SETTINGS
    ids_q = scoped(ids_q, receipt_scope(ctx))
    ids_q = _keyset(ids_q, columns, after, before, backwards).limit(limit + 1)
    with ctx.engine.connect() as conn, conn.begin():
        _set_local(conn, settings)
        page_ids = list(conn.execute(ids_q).scalars())
    if not page_ids:
        return PendingPage(rows=[], has_more=False, sort=sort)
    return _page_in_memory(ctx, _base_query(ctx, now, [], (page_ids, [])), after=None,
                           before=None, backwards=backwards, limit=limit, sort=sort)
