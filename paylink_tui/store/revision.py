"""The newest migration. A test checks that it matches the Alembic scripts, so start-up
can compare versions without loading Alembic (or SQLAlchemy: see store/first_page.py)."""

HEAD_REVISION = "0002"
