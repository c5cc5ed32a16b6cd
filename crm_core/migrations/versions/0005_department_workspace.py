"""the department workspace: memberships, deadlines (SLA) per category, each case's deadline,
escalation and outcome, internal notes, and whether a department sees residents' contacts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("share_resident_contact", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "department_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("is_head", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_department_members_user_id_users"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="CASCADE",
                                name="fk_department_members_department_id_departments"),
        sa.PrimaryKeyConstraint("user_id", "department_id", name="pk_department_members"),
    )
    op.create_index("ix_department_members_department_id", "department_members", ["department_id"])
    op.create_table(
        "sla_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=60), nullable=True),
        sa.Column("working_hours", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"],
                                name="fk_sla_rules_category_id_categories"),
        sa.PrimaryKeyConstraint("id", name="pk_sla_rules"),
        sa.UniqueConstraint("category_id", "district", name="uq_sla_rules_uq_sla_rule"),
    )
    op.create_index("ix_sla_rules_category_id", "sla_rules", ["category_id"])
    op.create_table(
        "case_work",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("forwarded_at", TIME, nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("accepted_at", TIME, nullable=True),
        sa.Column("escalation_level", sa.SmallInteger(), nullable=False),
        sa.Column("escalated_at", TIME, nullable=True),
        sa.Column("done_at", TIME, nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("awaiting_resident_since", TIME, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name="fk_case_work_case_id_cases"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name="fk_case_work_department_id_departments"),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_work"),
    )
    op.create_index("ix_case_work_department_due", "case_work", ["department_id", "due_at"])
    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_label", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE",
                                name="fk_case_notes_case_id_cases"),
        sa.ForeignKeyConstraint(["by_user_id"], ["users.id"], name="fk_case_notes_by_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_case_id", table_name="case_notes")
    op.drop_table("case_notes")
    op.drop_index("ix_case_work_department_due", table_name="case_work")
    op.drop_table("case_work")
    op.drop_index("ix_sla_rules_category_id", table_name="sla_rules")
    op.drop_table("sla_rules")
    op.drop_index("ix_department_members_department_id", table_name="department_members")
    op.drop_table("department_members")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("share_resident_contact")
