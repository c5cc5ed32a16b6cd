"""forwarding beyond ckm: how a department receives its cases (Open311 to its own system, or
structured e-mail), the outbox of forwards with what the remote side answered, and the e-mail
ckm received (attached or quarantined)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("forward_channel", sa.String(length=8), nullable=False,
                                   server_default="none"))
        batch.add_column(sa.Column("forward_target", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("forward_api_key", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("forward_service_codes", sa.Text(), nullable=True))
    op.create_table(
        "case_forwards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("claimed_until", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.Column("remote_id", sa.String(length=100), nullable=True),
        sa.Column("remote_token", sa.String(length=100), nullable=True),
        sa.Column("remote_status", sa.String(length=20), nullable=True),
        sa.Column("remote_notes", sa.Text(), nullable=True),
        sa.Column("next_poll_at", TIME, nullable=True),
        sa.Column("polled_at", TIME, nullable=True),
        sa.Column("poll_error", sa.Text(), nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.CheckConstraint("channel IN ('open311', 'email')", name="ck_case_forwards_channel"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')",
                           name="ck_case_forwards_status"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name="fk_case_forwards_case_id_cases"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name="fk_case_forwards_department_id_departments"),
        sa.PrimaryKeyConstraint("id", name="pk_case_forwards"),
        sa.UniqueConstraint("idempotency_key", name="uq_case_forwards_idempotency_key"),
    )
    op.create_index("ix_case_forwards_case_id", "case_forwards", ["case_id"])
    op.create_index("ix_case_forwards_due", "case_forwards", ["status", "next_attempt_at"])
    op.create_index("ix_case_forwards_poll", "case_forwards", ["status", "next_poll_at"])
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("message_key", sa.String(length=250), nullable=False),
        sa.Column("mail_from", sa.String(length=254), nullable=False),
        sa.Column("rcpt_to", sa.String(length=1000), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="SET NULL",
                                name="fk_inbound_mail_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_mail"),
        sa.UniqueConstraint("message_key", name="uq_inbound_mail_message_key"),
    )
    op.create_index("ix_inbound_mail_case_id", "inbound_mail", ["case_id"])
    op.create_index("ix_inbound_mail_outcome", "inbound_mail", ["outcome", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_mail_outcome", table_name="inbound_mail")
    op.drop_index("ix_inbound_mail_case_id", table_name="inbound_mail")
    op.drop_table("inbound_mail")
    op.drop_index("ix_case_forwards_poll", table_name="case_forwards")
    op.drop_index("ix_case_forwards_due", table_name="case_forwards")
    op.drop_index("ix_case_forwards_case_id", table_name="case_forwards")
    op.drop_table("case_forwards")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("forward_service_codes")
        batch.drop_column("forward_api_key")
        batch.drop_column("forward_target")
        batch.drop_column("forward_channel")
