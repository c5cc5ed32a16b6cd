"""The department side of a case: who works in which department, deadlines (SLA) per category,
each case's deadline and escalation, and the department's internal notes."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base


class DepartmentMember(Base):
    """A user working in a department (department staff may belong to several); the head
    receives the first escalation of an overdue case."""

    __tablename__ = "department_members"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        sa.ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True, index=True)
    is_head: Mapped[bool] = mapped_column(default=False)


class SlaRule(Base):
    """Working hours a department has for a case of a category; a rule with a district
    overrides the city-wide one (district NULL), a subcategory's overrides its parent's."""

    __tablename__ = "sla_rules"
    __table_args__ = (sa.UniqueConstraint("category_id", "district", name="uq_sla_rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"), index=True)
    district: Mapped[str | None] = mapped_column(sa.String(60))
    working_hours: Mapped[int]


class CaseWork(Base):
    """One row per case that reached a department: its deadline, escalation and outcome."""

    __tablename__ = "case_work"
    __table_args__ = (
        sa.Index("ix_case_work_department_due", "department_id", "due_at"),
        # The inbox joins deadlines to open cases without reading the table; the compliance
        # figure reads a department's finished work by date (migration 0008).
        sa.Index("ix_case_work_case_due", "case_id", "due_at"),
        sa.Index("ix_case_work_department_done", "department_id", "done_at"),
    )

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    forwarded_at: Mapped[datetime]
    sla_hours: Mapped[int]
    due_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    # 0 none, 1 the department's head, 2 the center's supervisor
    escalation_level: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    escalated_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    on_time: Mapped[bool | None]
    returns: Mapped[int] = mapped_column(default=0)  # handed back to the center, all departments
    awaiting_resident_since: Mapped[datetime | None]


class CaseNote(Base):
    """A department's internal note on a case: never shown to the resident or in open data."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    by_label: Mapped[str] = mapped_column(sa.String(80))
    text: Mapped[str] = mapped_column(sa.Text)
