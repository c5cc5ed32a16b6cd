"""Resident notifications: how a resident asked to be told about a case, and the durable outbox
of messages to them (one row per message, sent by `crm_core.notifications.dispatcher`)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow

NOTIFY_CHANNELS = ("email", "sms", "phone")
NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed")


class CaseNotifyPreference(Base):
    """The channel a resident chose when reporting (portal, consultant's form, Open311), the
    address on that channel and the language to write in. No row: the resident is not told."""

    __tablename__ = "case_notify_preferences"
    __table_args__ = (sa.CheckConstraint("channel IN ('email', 'sms', 'phone')", name="channel"),)

    case_id: Mapped[int] = mapped_column(
        sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    channel: Mapped[str] = mapped_column(sa.String(8))
    address: Mapped[str] = mapped_column(sa.String(254))  # e-mail address or E.164 number
    language: Mapped[str] = mapped_column(sa.String(8), default="pl")
    # The portal tracking token, kept only for residents who asked to be told (the case itself
    # stores only its hash): the messages carry the tracking link. None: link to the form.
    tracking_token: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """One message to one resident on one channel. `idempotency_key` is unique per (case,
    status change or question, channel): enqueueing the same event twice stores it once."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('email', 'sms', 'phone')", name="channel"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        sa.Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # accepted | resolved | rejected | question
    channel: Mapped[str] = mapped_column(sa.String(8))
    to_address: Mapped[str] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(8))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    # While `sending`: until when the claim holds; a claimer that died is taken over after it.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
