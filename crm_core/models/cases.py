"""Cases (zgłoszenia): what a resident reported, where it went, and every status change."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base
from crm_core.models.organisation import Category, Department


class CaseStatus(enum.StrEnum):
    NEW = "new"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    CLOSED = "closed"


OPEN_STATUSES = (CaseStatus.NEW, CaseStatus.FORWARDED, CaseStatus.IN_PROGRESS)

case_interactions = sa.Table(
    "case_interactions",
    Base.metadata,
    sa.Column("case_id", sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("interaction_id", sa.ForeignKey("interactions.id", ondelete="CASCADE"), primary_key=True),
)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('new', 'forwarded', 'in_progress', 'resolved', 'rejected', 'closed')",
            name="status",
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        sa.Index("ix_cases_resident_status", "resident_id", "status"),
        # Duplicate suggestion: open cases of one category inside a lat/lon box.
        sa.Index("ix_cases_category_status_lat", "category_id", "status", "lat"),
        # The department inbox: tab counts (index-only) and the closed tab (migration 0008).
        sa.Index("ix_cases_department_status", "department_id", "status", "id"),
        sa.Index("ix_cases_department_updated", "department_id", "updated_at"),
        # Migration 0010 adds two partial indexes the inbox reads alone: a department's open
        # cases by coalesce(due_at, created_at), its finished ones by updated_at, each with the
        # columns the inbox filters on (PostgreSQL: INCLUDE); migration 0012 the finished ones
        # by district, by subcategory and by category, each by updated_at.
        # On PostgreSQL only, migration 0009 adds trigram (pg_trgm GIN) indexes on number,
        # address, description and location_text for the inbox's ILIKE search.
        # The case reports read a period of cases by when they were reported (migration 0007).
        sa.Index("ix_cases_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)  # 19115/2026/000123
    status: Mapped[str] = mapped_column(sa.String(12), default=CaseStatus.NEW.value)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("categories.id"))
    subcategory_id: Mapped[int | None] = mapped_column(sa.ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(sa.Text)
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=2)  # 1 urgent .. 4 low
    address: Mapped[str | None] = mapped_column(sa.String(200))
    district: Mapped[str | None] = mapped_column(sa.String(60))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    location_text: Mapped[str | None] = mapped_column(sa.String(500))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"))
    source_channel: Mapped[str] = mapped_column(sa.String(10), default="phone")
    # SHA-256 of the portal tracking token; the token itself is shown to the resident once.
    tracking_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Copies of case_work's deadline and last forwarding time (crm_core.services.sla keeps
    # them): the department inbox filters, counts and sorts on one table (migration 0010).
    due_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    # What the case reports take from the status history (migration 0011; kept by
    # services.cases._set_status): first forwarded, last resolved / rejected / closed, how
    # many times forwarded.
    first_forwarded_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    forwardings: Mapped[int] = mapped_column(default=0, server_default="0")

    category: Mapped[Category] = relationship(foreign_keys=[category_id])
    subcategory: Mapped[Category | None] = relationship(foreign_keys=[subcategory_id])
    department: Mapped[Department | None] = relationship()
    history: Mapped[list[CaseStatusChange]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseStatusChange.id"
    )


class CaseStatusChange(Base):
    __tablename__ = "case_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(12))
    to_status: Mapped[str] = mapped_column(sa.String(12))
    at: Mapped[datetime]
    by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Who, in words, when not a user: "portal", "open311:<key owner>", "department:ZDM".
    by_label: Mapped[str] = mapped_column(sa.String(80))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    # Shown to the resident (tracking page) and in open data (Open311 status_notes) only when
    # true: consultants also write internal remarks here (migration 0003).
    public: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    case: Mapped[Case] = relationship(back_populates="history")


class CaseNumberCounter(Base):
    """Last case number handed out per year; bumped with UPDATE … RETURNING under a row lock."""

    __tablename__ = "case_number_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(default=0)
