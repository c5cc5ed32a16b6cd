"""Interactions: every contact with a resident (calls, portal, app, e-mail), a call's IVR path."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base
from crm_core.models.people import Resident

CHANNELS = ("phone", "portal", "app", "email")


class Interaction(Base):
    __tablename__ = "interactions"
    __table_args__ = (
        sa.CheckConstraint("channel IN ('phone', 'portal', 'app', 'email')", name="channel"),
        # The screen-pop reads a resident's latest interactions: this index serves it alone.
        sa.Index("ix_interactions_resident_started", "resident_id", sa.text("started_at DESC")),
        # The reports read a period of calls by when they started (migration 0007).
        sa.Index("ix_interactions_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(10))
    # Asterisk channel id of the caller's leg; unique so replayed call events find their call.
    call_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("residents.id"))
    caller_number: Mapped[str | None] = mapped_column(sa.String(32))
    dialed: Mapped[str | None] = mapped_column(sa.String(32))
    started_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(sa.String(30))
    queue: Mapped[str | None] = mapped_column(sa.String(40))
    queued_at: Mapped[datetime | None]
    category_hint: Mapped[str | None] = mapped_column(sa.String(60))
    priority: Mapped[int | None]
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    agent_username: Mapped[str | None] = mapped_column(sa.String(64))
    connected_at: Mapped[datetime | None]
    wait_s: Mapped[float | None]
    talk_s: Mapped[float | None]
    transferred_to: Mapped[str | None] = mapped_column(sa.String(64))
    wrapped_up_at: Mapped[datetime | None]
    disposition_code: Mapped[str | None] = mapped_column(sa.String(40))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    recording_ref: Mapped[str | None] = mapped_column(sa.String(255))
    transcript: Mapped[str | None] = mapped_column(sa.Text)
    # A callback asked for on this call (migration 0002): pending | reached | failed.
    callback_number: Mapped[str | None] = mapped_column(sa.String(32))
    callback_status: Mapped[str | None] = mapped_column(sa.String(12))
    callback_attempts: Mapped[int | None]
    callback_requested_at: Mapped[datetime | None]
    callback_done_at: Mapped[datetime | None]
    # For the reports (migration 0007): why the ACD took the caller out of a queue without an
    # agent (abandoned | abandoned_after_transfer | overflow | full | no_agents) and when, the
    # time on hold (and since when it is on hold now), the IVR's language when it queued.
    left_queue_reason: Mapped[str | None] = mapped_column(sa.String(30))
    left_queue_at: Mapped[datetime | None]
    hold_s: Mapped[float | None]
    held_since: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(sa.String(8))

    resident: Mapped[Resident | None] = relationship()
    ivr_steps: Mapped[list[IvrPathStep]] = relationship(
        back_populates="interaction", cascade="all, delete-orphan", order_by="IvrPathStep.seq"
    )


class IvrPathStep(Base):
    """One IVR decision on a call: node left, what the caller pressed or said, where it went."""

    __tablename__ = "interaction_ivr_steps"
    __table_args__ = (sa.UniqueConstraint("interaction_id", "seq", name="uq_ivr_step_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interaction_id: Mapped[int] = mapped_column(sa.ForeignKey("interactions.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime]
    script: Mapped[str] = mapped_column(sa.String(80))
    version: Mapped[str] = mapped_column(sa.String(20))
    node: Mapped[str] = mapped_column(sa.String(80))
    input_kind: Mapped[str] = mapped_column(sa.String(10))  # dtmf | speech | timeout | none
    input_value: Mapped[str] = mapped_column(sa.String(500))
    confidence: Mapped[float | None]
    next_node: Mapped[str] = mapped_column(sa.String(80))

    interaction: Mapped[Interaction] = relationship(back_populates="ivr_steps")


class AgentStateLog(Base):
    """One agent state change (migration 0007): the reports' logged-in time, time by state and
    pause reason, and unanswered offers (a `reserved` spell not followed by `on_call` on the
    same call). A state lasts until the agent's next row."""

    __tablename__ = "agent_state_log"
    __table_args__ = (
        sa.Index("ix_agent_state_log_at", "at"),
        # An agent's latest change (the recorder's previous state, the report's current one).
        sa.Index("ix_agent_state_log_agent_at", "agent", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]
    state: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str] = mapped_column(sa.String(80), default="")
    call_id: Mapped[str | None] = mapped_column(sa.String(64))


class AgentStateHour(Base):
    """Seconds an agent spent in a state (and pause reason) within one hour, and the offers
    they let ring out then (migration 0007): the agents' report sums these instead of reading
    every state change of a month. Written by the CRM recorder as each state ends; `hour` is
    the start of a Warsaw hour (so day, weekday and hour filters are exact)."""

    __tablename__ = "agent_state_hours"
    __table_args__ = (sa.Index("ix_agent_state_hours_hour", "hour"),)

    agent: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    # The hour's Warsaw weekday (0 Monday) and hour of day: the report's filters, in SQL.
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    hour_of_day: Mapped[int] = mapped_column(sa.SmallInteger)
    seconds: Mapped[float] = mapped_column(default=0.0)
    unanswered: Mapped[int] = mapped_column(default=0)


class AppliedEvent(Base):
    """Ids of outbox entries already applied: replaying the journal twice changes nothing."""

    __tablename__ = "applied_events"

    event_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    applied_at: Mapped[datetime]
