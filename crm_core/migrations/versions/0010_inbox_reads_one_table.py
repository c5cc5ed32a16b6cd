"""the department inbox reads the cases table alone: each case carries a copy of its deadline and
of when it was last forwarded (case_work's due_at and forwarded_at, kept by sla.start_clock), and
two partial indexes hold a department's open cases in deadline order and its finished ones in
order of the latest change, with every column the inbox filters on (PostgreSQL: INCLUDE, so
the tab counts and the page's ids are index-only scans); the SLA compliance figure reads a
covering index of finished work

bench.dept_inbox found (500k cases, EXPLAIN ANALYZE): every view joined the department's open
cases to case_work one by one to sort them by deadline, counted its 90k cases per status, and
the age filter hashed all of case_work.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
OPEN = "status IN ('forwarded', 'in_progress')"
DONE = "status IN ('resolved', 'rejected', 'closed')"
FILTERED = ["status", "district", "category_id", "subcategory_id", "forwarded_at", "created_at"]


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("due_at", TIME, nullable=True))
        batch.add_column(sa.Column("forwarded_at", TIME, nullable=True))
    op.execute(
        "UPDATE cases SET "
        "due_at = (SELECT w.due_at FROM case_work w WHERE w.case_id = cases.id), "
        "forwarded_at = (SELECT w.forwarded_at FROM case_work w WHERE w.case_id = cases.id) "
        "WHERE EXISTS (SELECT 1 FROM case_work w WHERE w.case_id = cases.id)")
    op.create_index(
        "ix_cases_inbox_open", "cases",
        ["department_id", sa.text("coalesce(due_at, created_at)"), "id"],
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        postgresql_include=[*FILTERED, "due_at"])
    op.create_index(
        "ix_cases_inbox_done", "cases", ["department_id", "updated_at", "id"],
        postgresql_where=sa.text(DONE), sqlite_where=sa.text(DONE),
        postgresql_include=FILTERED)
    op.create_index(
        "ix_case_work_compliance", "case_work", ["department_id", "done_at"],
        postgresql_where=sa.text("on_time IS NOT NULL"),
        sqlite_where=sa.text("on_time IS NOT NULL"), postgresql_include=["on_time"])


def downgrade() -> None:
    op.drop_index("ix_case_work_compliance", table_name="case_work")
    op.drop_index("ix_cases_inbox_done", table_name="cases")
    op.drop_index("ix_cases_inbox_open", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("forwarded_at")
        batch.drop_column("due_at")
