"""Residents (the callers) with their phone numbers, and the center's own users."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base, utcnow


class Role(enum.StrEnum):
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"
    IVR_AUTHOR = "ivr_author"
    DEPARTMENT_STAFF = "department_staff"
    ADMIN = "admin"


class Resident(Base):
    """A person who contacted the center; every field but the id is optional (callers may not
    give their name, and anonymous callers have no record at all)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    preferred_language: Mapped[str] = mapped_column(sa.String(8), default="pl")
    # Consent to be called back / e-mailed about their reports, and to recording beyond
    # the legal minimum; both are asked explicitly and default to no.
    consent_contact: Mapped[bool] = mapped_column(default=False)
    consent_recording: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    phones: Mapped[list[ResidentPhone]] = relationship(
        back_populates="resident", cascade="all, delete-orphan", order_by="ResidentPhone.id"
    )


class ResidentPhone(Base):
    __tablename__ = "resident_phones"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    # E.164, unique: a number identifies one resident (the screen-pop depends on it).
    number: Mapped[str] = mapped_column(sa.String(16), unique=True)
    label: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resident: Mapped[Resident] = relationship(back_populates="phones")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('consultant', 'supervisor', 'ivr_author', 'department_staff', 'admin')",
            name="role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Softphone extension the ACD rings for this agent (consultants and supervisors).
    extension: Mapped[str | None] = mapped_column(sa.String(16))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("departments.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
