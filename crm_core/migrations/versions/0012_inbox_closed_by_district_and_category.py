"""the department inbox's closed tab filtered by district or by category: a department's
finished cases of one district, of one subcategory and of one main category, each by latest
change (PostgreSQL: with the other filtered columns INCLUDEd, index-only)

bench.dept_inbox (500k cases): with only migration 0010's index, a district and a category
that rarely meet walked all of a department's ~85k finished cases twice (the capped count and
the page) before finding that nothing matched.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DONE = "status IN ('resolved', 'rejected', 'closed')"
FILTERED = ["status", "district", "category_id", "subcategory_id", "forwarded_at", "created_at"]
BY = {"ix_cases_inbox_done_district": "district",
      "ix_cases_inbox_done_subcategory": "subcategory_id",
      "ix_cases_inbox_done_category": "category_id"}


def upgrade() -> None:
    for name, column in BY.items():
        op.create_index(
            name, "cases", ["department_id", column, "updated_at", "id"],
            postgresql_where=sa.text(DONE), sqlite_where=sa.text(DONE),
            postgresql_include=[c for c in FILTERED if c != column])


def downgrade() -> None:
    for name in reversed(BY):
        op.drop_index(name, table_name="cases")
