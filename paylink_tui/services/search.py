"""The one search rule of the app, for the pending list, its totals and the history.

Each word typed must start a word of the policy number, the receipt number or the holder's
name, case- and accent-insensitive ("pena" finds "Peña"). A word that starts with a digit
may also be a policy number typed without its letters: `01213813` finds `AU01213813`. So
each typed word becomes a *term*: the word and, for a number, the word behind each letter
prefix that policy numbers of this book have (AU, GM, VI…, read from the database and kept a
minute). A receipt matches when it matches one alternative of every term.
"""

from __future__ import annotations

import re
import threading
import time

from sqlalchemy import (
    and_,
    column,
    func,
    intersect,
    literal,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.engine import Engine

from paylink_tui.domain.text import fold, search_words
from paylink_tui.services.context import AppContext
from paylink_tui.store.db import is_sqlite
from paylink_tui.store.models import Policy, Receipt

RARE_LIMIT = 2000
PREFIXES_SECONDS = 60.0  # how long the policies' letter prefixes are trusted
MAX_PREFIXES = 40  # a book with more kinds of prefixes than this: numbers match as typed

Term = tuple[str, ...]  # alternatives: the word as typed first

_prefixes: dict[str, tuple[float, tuple[str, ...]]] = {}
_sizes: dict[str, tuple[float, int]] = {}
_cache_lock = threading.Lock()


def _fresh(cache: dict, engine: Engine, compute):  # type: ignore[no-untyped-def,type-arg]
    """`compute()` for this database, kept PREFIXES_SECONDS in `cache` (keyed by its URL)."""
    key = str(engine.url)
    now = time.monotonic()
    with _cache_lock:
        cached = cache.get(key)
        if cached is not None and now - cached[0] < PREFIXES_SECONDS:
            return cached[1]
    value = compute()
    with _cache_lock:
        cache[key] = (now, value)
    return value


def policy_prefixes(engine: Engine) -> tuple[str, ...]:
    """The letter prefixes of the book's policy numbers, folded ("au", "gm"), fresh within a
    minute."""

    def compute() -> tuple[str, ...]:
        with engine.connect() as conn:
            found = _skip_scan(conn) if is_sqlite(engine) else _distinct(conn)
        prefixes = sorted({fold(p) for p in found if p and fold(p).isalpha()})
        return tuple(prefixes) if len(prefixes) <= MAX_PREFIXES else ()

    return _fresh(_prefixes, engine, compute)


_LETTERS = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_PAST_ALL = "\U0010ffff"  # sorts after any text in SQLite's binary order


def _skip_scan(conn) -> set[str]:  # type: ignore[no-untyped-def]
    """Prefixes by hopping along the index of policy numbers: one look-up per prefix (a
    scan of every number took 180 ms at a million receipts)."""
    number = Policy.__table__.c.number
    found: set[str] = set()
    after: str | None = None
    for _ in range(MAX_PREFIXES * 4):
        q = select(func.min(number))
        if after is not None:
            q = q.where(number > after)
        first = conn.execute(q).scalar()
        if first is None:
            break
        letters = _LETTERS.match(first)
        if letters:
            found.add(letters.group())
            # Past every number of this prefix followed by a digit; "AUX…" comes next.
            after = letters.group() + "9" + _PAST_ALL
        else:
            after = first[0] + _PAST_ALL
    return found


def _distinct(conn) -> set[str]:  # type: ignore[no-untyped-def]
    # PostgreSQL orders text by the database's collation, where the hop above is not safe.
    strip = func.rtrim(Policy.__table__.c.number, "0123456789- ")
    return set(conn.execute(select(strip).distinct().limit(MAX_PREFIXES * 4)).scalars().all())


def forget_prefixes(engine: Engine) -> None:
    """After an import: new policies may bring a new prefix."""
    with _cache_lock:
        _prefixes.pop(str(engine.url), None)


def terms(ctx: AppContext, search: str) -> list[Term]:
    words = search_words(search)
    if not any(w[0].isdigit() for w in words):
        return [(w,) for w in words]
    prefixes = policy_prefixes(ctx.engine)
    return [(w, *(p + w for p in prefixes)) if w[0].isdigit() else (w,) for w in words]


def _word_prefix(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped}%"


def like_filters(found_in, search_terms: list[Term]):  # type: ignore[no-untyped-def]
    """One condition per term: some alternative starts a word of `found_in` (words one space
    apart, as Receipt.search_text stores them)."""
    spaced = literal(" ").concat(found_in)
    return [or_(*(spaced.like(_word_prefix(w), escape="\\") for w in term)) for term in search_terms]


def starts_with(column, word: str):  # type: ignore[no-untyped-def]
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"{escaped}%", escape="\\")


def word_filters(search_terms: list[Term]):  # type: ignore[no-untyped-def]
    return like_filters(Receipt.__table__.c.search_text, search_terms)


def fts_query(search_terms: list[Term]) -> str:
    def one(term: Term) -> str:
        alternatives = ['"' + w + '"*' for w in term]
        return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"

    return " AND ".join(one(t) for t in search_terms)


def indexed_terms(search_terms: list[Term]) -> list[Term]:
    """The terms worth asking the word index for: a one-letter prefix ("maria j") matches
    most of the index and took 60-80 ms; such a term is checked on the candidates instead."""
    return [t for t in search_terms if len(t[0]) > 1] or search_terms


def candidates(ctx: AppContext, search_terms: list[Term]) -> tuple[list[int], list[Term]] | None:
    """SQLite: receipt ids among which the matches are, and the terms still to check on their
    rows; None when there are more than RARE_LIMIT (then the list's order is walked instead).
    PostgreSQL's counterpart, which leaves the ids in the database, is word_candidates."""
    engine = ctx.engine
    search_terms_indexed = indexed_terms(search_terms)
    if not search_terms_indexed:
        return None
    # One row with every id, not one row per id: sqlite3 lets go of the GIL at each row, and
    # while the app's event loop is drawing each of 2,000 rows would wait to get it back.
    with engine.connect() as conn:
        joined = conn.execute(
            text("SELECT group_concat(rowid) FROM "
                 "(SELECT rowid FROM receipt_fts WHERE receipt_fts MATCH :q LIMIT :n)"),
            {"q": fts_query(search_terms_indexed), "n": RARE_LIMIT + 1},
        ).scalar()
    ids = [int(i) for i in joined.split(",")] if joined else []
    if len(ids) > RARE_LIMIT:
        return None
    return ids, [t for t in search_terms if t not in search_terms_indexed]


# --- PostgreSQL: the receipt_word table (migrations 0009, 0012) ----------------------------

receipt_word = table("receipt_word", column("word"), column("receipt_id"), column("agent_code"))


def _after_prefix(word: str) -> str:
    """The least text above every text that starts with `word` (in code-point order, the
    order of receipt_word's COLLATE "C" key)."""
    last = ord(word[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # no surrogates in UTF-8 text
        last = 0xE000
    return word[:-1] + chr(last)


def _starts(word: str):  # type: ignore[no-untyped-def]
    # A range, not LIKE: a generic plan (psycopg prepares repeated statements) keeps it
    # an index range, where `LIKE $1` would become a scan of the whole table.
    w = receipt_word.c.word
    if word[-1] == "\U0010ffff":
        return w >= word
    return and_(w >= word, w < _after_prefix(word))


def term_ids(ctx: AppContext, term: Term):  # type: ignore[no-untyped-def]
    """The ids of the receipts one of whose words starts with an alternative of `term`, in
    the principal's portfolio (the agent code is in the index's entries)."""
    from paylink_tui.services.access import receipt_scope

    scope = receipt_scope(ctx, receipt_word)
    selects = [select(receipt_word.c.receipt_id).where(_starts(w)) for w in term]
    if scope is not None:
        selects = [q.where(scope) for q in selects]
    # UNION ALL: a receipt with two of the alternatives is listed twice, and no set is
    # read whole to remove it (a UNION of "4100" and its 10 prefixes read 100,000 ids
    # before stopping at the limit); the callers look ids up with IN or = ANY.
    return union_all(*selects) if len(selects) > 1 else selects[0]


PG_MIN_CANDIDATES, PG_MAX_CANDIDATES = 2000, 20000


def candidate_limit(ctx: AppContext) -> int:
    """PostgreSQL: up to how many matches of a term are read by id (then sorted) rather than
    found by walking the list's order. Reading them costs about 3.5 µs each (a look-up by id);
    the walk reads about 101 × receipts ÷ matches index entries at 2.7 µs each (measured at
    1,000,000 receipts, bench/pending.py). The two cost the same at √(78 × receipts) matches:
    8,800 at a million; kept between 2,000 and 20,000, from the table's statistics (a minute)."""

    def receipts() -> int:
        with ctx.engine.connect() as conn:
            # to_regclass: the receipt table of this connection's search_path.
            n = conn.execute(text("SELECT reltuples FROM pg_class "
                                  "WHERE oid = to_regclass('receipt')")).scalar()
        return max(int(n or 0), 0)

    size = _fresh(_sizes, ctx.engine, receipts)
    return max(PG_MIN_CANDIDATES, min(PG_MAX_CANDIDATES, int((78 * size) ** 0.5)))


def _ids(conn, ids, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Up to `n` of the ids `ids` selects, in one array value (not a row per id)."""
    sub = ids.limit(n).subquery()
    return conn.execute(select(func.array_agg(sub.c.receipt_id))).scalar_one() or []


def word_candidates(ctx: AppContext, search_terms: list[Term]
                    ) -> tuple[list[int], list[Term]] | None:
    """PostgreSQL: (ids, terms left to check), `ids` the receipt ids among which every match
    is. Each term's ids are read from the word index alone, up to candidate_limit; those of
    every term that has no more are intersected here (sets of a few thousand), and the
    common terms are left to check on the candidates' rows. When every term is common, the
    candidates are their intersection in the database; None when even that has more than
    candidate_limit (then the list's order is walked)."""
    every = search_terms
    search_terms = indexed_terms(search_terms)
    if not search_terms:
        return None
    n = candidate_limit(ctx) + 1
    with ctx.engine.connect() as conn:
        rare: list[tuple[Term, list[int]]] = []
        for term in search_terms:
            ids = _ids(conn, term_ids(ctx, term), n)
            if len(ids) < n:
                rare.append((term, ids))
                if not ids:
                    return [], []
        if rare:
            ids = rare[0][1]
            if len(rare) > 1:
                both = set(ids).intersection(*(found for _, found in rare[1:]))
                ids = [i for i in ids if i in both]
            done = {term for term, _ in rare}
            return ids, [t for t in every if t not in done]
        if len(search_terms) == 1:
            return None
        ids = _ids(conn, intersect(*(term_ids(ctx, t) for t in search_terms)), n)
    if len(ids) >= n:
        return None
    return ids, [t for t in every if t not in search_terms]


def matching_receipts(ctx: AppContext, search_terms: list[Term]):  # type: ignore[no-untyped-def]
    """A condition on Receipt: it matches every term, by the word index (FTS5 on SQLite,
    receipt_word on PostgreSQL)."""
    r = Receipt.__table__.c
    if is_sqlite(ctx.engine):
        return r.id.in_(
            select(text("rowid")).select_from(text("receipt_fts"))
            .where(text("receipt_fts MATCH :q").bindparams(q=fts_query(search_terms))))
    return and_(*(r.id.in_(term_ids(ctx, t)) for t in search_terms))
