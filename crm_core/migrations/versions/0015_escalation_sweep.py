"""the escalation sweep finds the work still to escalate by deadline: case_work's rows below
the highest level and not finished, in deadline order (a partial index; the sweep's UPDATE
states the same condition)

bench.dept_inbox's 500k cases (~10k open and overdue): the sweep read every overdue case into
ckm and counted working hours for each (0.13-0.7 s a minute, paid by the first inbox view
after each minute); as two UPDATEs without this index PostgreSQL hashed all of case_work
(~100 ms each).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PENDING = "escalation_level < 2 AND done_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_case_work_escalation", "case_work", ["due_at"],
                    postgresql_where=sa.text(PENDING), sqlite_where=sa.text(PENDING))


def downgrade() -> None:
    op.drop_index("ix_case_work_escalation", table_name="case_work")
