"""the department inbox's search (number, address, description, place: ILIKE '%…%') served by
trigram indexes on PostgreSQL (pg_trgm, a trusted extension since PostgreSQL 13: the database's
owner may create it); SQLite keeps scanning, as it did

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("number", "address", "description", "location_text")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.create_index(f"ix_cases_{column}_trgm", "cases", [column], postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in reversed(COLUMNS):
        op.drop_index(f"ix_cases_{column}_trgm", table_name="cases")
