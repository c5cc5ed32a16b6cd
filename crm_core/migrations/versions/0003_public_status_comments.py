"""a status change's comment is public only when the consultant says so

Until now every comment written with a status change was shown on the resident's tracking page
and as Open311 `status_notes`, although consultants also write internal remarks there. The new
column `public` (default false) marks the comments meant for the resident and open data.
Comments already stored stay public: they were written when every comment was, and residents
may have read them already.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_status_history") as batch:
        batch.add_column(sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()))
    history = sa.table("case_status_history", sa.column("comment", sa.Text), sa.column("public", sa.Boolean))
    op.execute(history.update().where(history.c.comment.is_not(None)).values(public=True))


def downgrade() -> None:
    with op.batch_alter_table("case_status_history") as batch:
        batch.drop_column("public")
