"""The migrations this build knows, newest last. A test checks them against the Alembic
scripts, so start-up can compare versions without loading Alembic (or SQLAlchemy: see
backend/first_page.py)."""

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011",
             "0012")
HEAD_REVISION = REVISIONS[-1]
