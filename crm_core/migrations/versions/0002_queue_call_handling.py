"""queue call-handling settings: wrap-up, ring timeout, auto-pause, recording, callbacks

Until now these lived only in the ACD's defaults, so every queue ran a 10 s wrap-up whatever
the center wanted; they are per-queue columns now, read by cti.crm_link.queue_config.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("wrapup_s", sa.Integer(), "60"),
    ("ring_timeout_s", sa.Integer(), "15"),
    ("autopause_after", sa.Integer(), "3"),
    ("record_calls", sa.Boolean(), sa.false()),
    ("callback_attempts", sa.Integer(), "3"),
    ("callback_retry_s", sa.Integer(), "300"),
)


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        for name, kind, default in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        for name, _, _ in COLUMNS:
            batch.drop_column(name)
