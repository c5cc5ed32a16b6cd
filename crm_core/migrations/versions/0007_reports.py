"""reports: why a caller left a queue, hold time and language on each call, the agents' state
log and its hourly totals, and the indexes that read a period of calls and cases

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("left_queue_reason", sa.String(30), nullable=True))
        batch.add_column(sa.Column("left_queue_at", TIME, nullable=True))
        batch.add_column(sa.Column("hold_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("held_since", TIME, nullable=True))
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
        batch.create_index("ix_interactions_started", ["started_at"], unique=False)
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_created_at", ["created_at"], unique=False)
    op.create_table(
        "agent_state_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_log")),
    )
    op.create_index("ix_agent_state_log_at", "agent_state_log", ["at"], unique=False)
    op.create_index("ix_agent_state_log_agent_at", "agent_state_log", ["agent", "at"],
                    unique=False)
    op.create_table(
        "agent_state_hours",
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("hour", TIME, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("hour_of_day", sa.SmallInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("unanswered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent", "hour", "state", "reason",
                                name=op.f("pk_agent_state_hours")),
    )
    op.create_index("ix_agent_state_hours_hour", "agent_state_hours", ["hour"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_agent_state_hours_hour", table_name="agent_state_hours")
    op.drop_table("agent_state_hours")
    op.drop_index("ix_agent_state_log_agent_at", table_name="agent_state_log")
    op.drop_index("ix_agent_state_log_at", table_name="agent_state_log")
    op.drop_table("agent_state_log")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_created_at")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index("ix_interactions_started")
        for column in ("language", "held_since", "hold_s", "left_queue_at", "left_queue_reason"):
            batch.drop_column(column)
