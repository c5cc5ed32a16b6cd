"""each case carries what the case reports take from its status history: when it was first
forwarded, when it was last resolved, rejected or closed, and how many times it was forwarded
(crm_core.services.cases._set_status keeps them with every change; backfilled here from
case_status_history)

bench.reports_bench (365k cases, ~1M history rows) found the year's case report spending most
of its time aggregating the whole history per case and joining it back (seconds, and again in
each parallel worker); with the three columns the report reads the period's cases alone.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("first_forwarded_at", TIME, nullable=True))
    op.add_column("cases", sa.Column("finished_at", TIME, nullable=True))
    op.add_column("cases", sa.Column("forwardings", sa.Integer, nullable=False,
                                     server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE cases SET first_forwarded_at = h.first_forwarded_at, "
            "  finished_at = h.finished_at, forwardings = h.forwardings "
            "FROM (SELECT case_id, "
            "        min(at) FILTER (WHERE to_status = 'forwarded') AS first_forwarded_at, "
            "        max(at) FILTER (WHERE to_status IN ('resolved', 'rejected', 'closed')) "
            "          AS finished_at, "
            "        count(*) FILTER (WHERE to_status = 'forwarded') AS forwardings "
            "      FROM case_status_history GROUP BY case_id) h "
            "WHERE h.case_id = cases.id")
    else:
        op.execute(
            "UPDATE cases SET "
            "first_forwarded_at = (SELECT min(at) FROM case_status_history h "
            "  WHERE h.case_id = cases.id AND h.to_status = 'forwarded'), "
            "finished_at = (SELECT max(at) FROM case_status_history h "
            "  WHERE h.case_id = cases.id AND h.to_status IN ('resolved', 'rejected', 'closed')), "
            "forwardings = (SELECT count(*) FROM case_status_history h "
            "  WHERE h.case_id = cases.id AND h.to_status = 'forwarded')")


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite has it since 3.35): a batch table copy would lose
    # the expression indexes of migration 0010, which SQLAlchemy cannot reflect.
    for column in ("forwardings", "finished_at", "first_forwarded_at"):
        op.execute(f"ALTER TABLE cases DROP COLUMN {column}")
