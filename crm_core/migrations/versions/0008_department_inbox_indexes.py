"""indexes the department inbox reads at city scale (bench.dept_inbox, 500k cases): a
department's cases by status (the tab counts, index-only), by latest change (the closed tab),
each case's deadline beside its id (joined to the open cases without reading the table), and
a department's finished work by date (the SLA compliance figure)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_cases_department_status", "cases", ["department_id", "status", "id"])
    op.create_index("ix_cases_department_updated", "cases", ["department_id", "updated_at"])
    op.create_index("ix_case_work_case_due", "case_work", ["case_id", "due_at"])
    op.create_index("ix_case_work_department_done", "case_work", ["department_id", "done_at"])


def downgrade() -> None:
    op.drop_index("ix_case_work_department_done", table_name="case_work")
    op.drop_index("ix_case_work_case_due", table_name="case_work")
    op.drop_index("ix_cases_department_updated", table_name="cases")
    op.drop_index("ix_cases_department_status", table_name="cases")
