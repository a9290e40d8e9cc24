"""word-prefix search on PostgreSQL: a table of each receipt's words, kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

PostgreSQL only (SQLite has had the same rule from FTS5 since 0001; nothing changes there):
- `receipt_word (word COLLATE "C", receipt_id, agent_code)`, primary key (word, receipt_id)
  INCLUDE (agent_code): one row per distinct word of `receipt.search_text`, with the
  receipt's agent code (0008, the portfolio rule). "Receipts with a word starting with gar
  (in these codes)" is a range of that btree read from the index alone, and stops after
  2,001 ids: it costs what the answer costs (services/search.py).
- triggers on receipt (insert, delete, update of search_text or agent_code) keep it,
  whoever writes; an import of many new receipts sets `paylink.receipt_words_bulk` for its transaction and
  fills the table with one INSERT … SELECT instead (services/importing.py).
- the pg_trgm index `ix_receipt_search_trgm` goes: nothing reads it now, and every insert
  paid for it. The two order indexes become (order columns) INCLUDE (hidden_until,
  search_text, agent_code, id): the list's order is walked index-only, a common word and
  the portfolio checked on index entries, and the page's rows read by id.
bench/pending.py has the figures; README, "Benchmarks".
"""
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BULK_SETTING = "paylink.receipt_words_bulk"

_FUNCTION = f"""
CREATE FUNCTION receipt_word_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{BULK_SETTING}', true) = 'on' AND TG_OP = 'INSERT' THEN
        RETURN NULL;  -- the import indexes its new rows in one statement
    END IF;
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM receipt_word
        WHERE receipt_id = OLD.id AND word = ANY (string_to_array(OLD.search_text, ' '));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO receipt_word (word, receipt_id, agent_code)
        SELECT DISTINCT w, NEW.id, NEW.agent_code FROM unnest(string_to_array(NEW.search_text, ' ')) AS w
        WHERE w <> ''
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('CREATE TABLE receipt_word (word text COLLATE "C" NOT NULL, '
               'receipt_id integer NOT NULL, agent_code varchar(40), '
               'PRIMARY KEY (word, receipt_id) INCLUDE (agent_code))')
    op.execute(_FUNCTION)
    op.execute("CREATE TRIGGER receipt_word_ins AFTER INSERT ON receipt "
               "FOR EACH ROW EXECUTE FUNCTION receipt_word_sync()")
    op.execute("CREATE TRIGGER receipt_word_del AFTER DELETE ON receipt "
               "FOR EACH ROW EXECUTE FUNCTION receipt_word_sync()")
    op.execute("CREATE TRIGGER receipt_word_upd AFTER UPDATE OF search_text, agent_code "
               "ON receipt FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text "
               "OR OLD.agent_code IS DISTINCT FROM NEW.agent_code) "
               "EXECUTE FUNCTION receipt_word_sync()")
    op.execute("INSERT INTO receipt_word (word, receipt_id, agent_code) "
               "SELECT DISTINCT w, r.id, r.agent_code FROM receipt r, "
               "unnest(string_to_array(r.search_text, ' ')) AS w WHERE w <> ''")
    op.execute("DROP INDEX IF EXISTS ix_receipt_search_trgm")
    # The list's two orders, each with what its filters read and the id: PostgreSQL checks
    # a filter on index entries only in an index-only scan (services/receipts.py).
    op.execute("DROP INDEX IF EXISTS ix_receipt_pending_order")
    op.execute("CREATE INDEX ix_receipt_pending_order ON receipt "
               "(status, policy_number, due_date, number) "
               "INCLUDE (hidden_until, search_text, agent_code, id)")
    op.execute("DROP INDEX IF EXISTS ix_receipt_lapse_order")
    op.execute("CREATE INDEX ix_receipt_lapse_order ON receipt "
               "(status, due_date, policy_number, number) "
               "INCLUDE (hidden_until, search_text, agent_code, id)")
    op.execute("ANALYZE receipt_word")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_receipt_pending_order")
    op.execute("CREATE INDEX ix_receipt_pending_order ON receipt "
               "(status, policy_number, due_date, number)")
    op.execute("DROP INDEX IF EXISTS ix_receipt_lapse_order")
    op.execute("CREATE INDEX ix_receipt_lapse_order ON receipt "
               "(status, due_date, policy_number, number, hidden_until, search_text)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_receipt_search_trgm ON receipt "
               "USING gin ((' ' || search_text) gin_trgm_ops)")
    for name in ("receipt_word_ins", "receipt_word_del", "receipt_word_upd"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON receipt")
    op.execute("DROP FUNCTION IF EXISTS receipt_word_sync()")
    op.execute("DROP TABLE IF EXISTS receipt_word")
