"""Cases sent beyond ckm and mail that comes back: the outbox of forwards to departments' own
systems (Open311 or structured e-mail) with what their systems answered, and every e-mail
ckm received (attached to a case, or quarantined)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base, utcnow

FORWARD_CHANNELS = ("open311", "email")
FORWARD_STATUSES = ("pending", "sending", "sent", "failed")
INBOUND_OUTCOMES = ("note", "resolved", "rejected", "resident_answer", "quarantined", "ignored")


class CaseForward(Base):
    """One case sent to one department's own system. Delivery is an outbox row (pending →
    sending → sent | failed, with backoff and a lease, like `notifications`); once sent to an
    Open311 server it keeps the remote request's id, and the poller keeps what that server last
    said (`remote_status`, `remote_notes`) until the case is closed by it (`closed_at`)."""

    __tablename__ = "case_forwards"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('open311', 'email')", name="channel"),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name="status"),
        sa.Index("ix_case_forwards_due", "status", "next_attempt_at"),
        sa.Index("ix_case_forwards_poll", "status", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("departments.id"))
    # case:<id>:forward:<history id>: forwarding the same change twice stores it once.
    idempotency_key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(8))
    target: Mapped[str] = mapped_column(sa.String(500))  # endpoint URL or e-mail address
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Open311: the server's service_request_id, or first only its token (GeoReport v2 lets a
    # server answer a POST with a token and the id later, at tokens/{token}).
    remote_id: Mapped[str | None] = mapped_column(sa.String(100))
    remote_token: Mapped[str | None] = mapped_column(sa.String(100))
    remote_status: Mapped[str | None] = mapped_column(sa.String(20))
    remote_notes: Mapped[str | None] = mapped_column(sa.Text)
    next_poll_at: Mapped[datetime | None]
    polled_at: Mapped[datetime | None]
    poll_error: Mapped[str | None] = mapped_column(sa.Text)
    closed_at: Mapped[datetime | None]  # the remote side closed it and the case took its answer


class InboundMail(Base):
    """An e-mail ckm received (the MTA relays to ckm's SMTP listener): what it did with it.
    Quarantined mail (unknown sender, a forged or missing case token) is kept here, never
    attached to a case, and listed for supervisors."""

    __tablename__ = "inbound_mail"
    __table_args__ = (sa.Index("ix_inbound_mail_outcome", "outcome", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The sender's Message-ID (or a digest of the message): an MTA delivering again is a no-op.
    message_key: Mapped[str] = mapped_column(sa.String(250), unique=True)
    mail_from: Mapped[str] = mapped_column(sa.String(254))
    rcpt_to: Mapped[str] = mapped_column(sa.String(1000))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    raw: Mapped[bytes] = mapped_column(sa.LargeBinary)
