"""an admin's inbox of every department: all departments' open cases in deadline order and
their finished ones by latest change, with every column the inbox filters on (PostgreSQL:
INCLUDE, index-only)

bench.dept_inbox (500k cases): without them a page of every department was read as one
deadline-ordered range per department (28 of them, 100 entries each) and merged, 10-12 ms of
a 30 ms view; with them it is the first 100 entries of one index (0.1 ms in EXPLAIN ANALYZE).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OPEN = "status IN ('forwarded', 'in_progress')"
DONE = "status IN ('resolved', 'rejected', 'closed')"
FILTERED = ["status", "district", "category_id", "subcategory_id", "forwarded_at", "created_at",
            "department_id"]


def upgrade() -> None:
    op.create_index(
        "ix_cases_inbox_open_all", "cases", [sa.text("coalesce(due_at, created_at)"), "id"],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        postgresql_include=[*FILTERED, "due_at"])
    op.create_index(
        "ix_cases_inbox_done_all", "cases", ["updated_at", "id"],
        postgresql_where=sa.text(DONE), sqlite_where=sa.text(DONE),
        postgresql_include=FILTERED)


def downgrade() -> None:
    op.drop_index("ix_cases_inbox_done_all", table_name="cases")
    op.drop_index("ix_cases_inbox_open_all", table_name="cases")
