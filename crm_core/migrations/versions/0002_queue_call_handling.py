"""queue call-handling settings (wrap-up, ring timeout, auto-pause, recording, callbacks)
and the callback's outcome on the interaction

Until now the queue settings lived only in the ACD's defaults, so every queue ran a 10 s
wrap-up whatever the center wanted; they are per-queue columns now, read by
cti.crm_link.queue_config. A callback asked for on a call is recorded on that call's
interaction: the number, how many times it was dialled and how it ended.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Any

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


CALLBACK_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("callback_number", sa.String(length=32)),
    ("callback_status", sa.String(length=12)),  # pending | reached | failed
    ("callback_attempts", sa.Integer()),
    ("callback_requested_at", sa.DateTime(timezone=True)),
    ("callback_done_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("queues") as batch:
        for name, kind, default in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table("interactions") as batch:
        for name, column_type in CALLBACK_COLUMNS:
            batch.add_column(sa.Column(name, column_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        for name, _ in CALLBACK_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("queues") as batch:
        for name, _, _ in COLUMNS:
            batch.drop_column(name)
