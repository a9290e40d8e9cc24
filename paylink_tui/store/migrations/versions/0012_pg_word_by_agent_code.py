"""PostgreSQL's search by an agent's words: receipt_word (agent_code, word, receipt_id), and
receipts by id with what the list's filters and order read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

PostgreSQL only (SQLite has no agent codes to search by: team mode's server runs on
PostgreSQL for an agency, and on SQLite the portfolio's rule is checked on FTS5's rows).
"Words of this agent's receipts starting with maria" was a range of the primary key (word,
receipt_id) over every agent's receipts, the portfolio checked on each entry: 52,000 entries
read to keep 2,800, 8 ms, at 1,000,000 receipts and 20 agents. With the code in front, it is
one range per code of the portfolio, and costs what the answer costs (0.7 ms). The primary
key stays for who sees every receipt (a supervisor, the one-agent mode). The index costs a
write per word of each new receipt; 8 s to build at 5,000,000 words here.

`ix_receipt_id_list (id) INCLUDE (status, hidden_until, agent_code, policy_number, due_date,
number)`: the search's candidates are looked up by id, their state and portfolio checked and
the page's order taken from this index alone, without reading the table's rows (2,800
candidates: 6 ms instead of 10; services/pending_pg.py). 1 s to build at 1,000,000 receipts.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX IF NOT EXISTS ix_receipt_word_code "
               "ON receipt_word (agent_code, word, receipt_id)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_receipt_id_list ON receipt (id) "
               "INCLUDE (status, hidden_until, agent_code, policy_number, due_date, number)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_receipt_id_list")
    op.execute("DROP INDEX IF EXISTS ix_receipt_word_code")
