"""Tables of the contact center's own configuration, owned here so the schema is settled once:
disposition codes, pause reasons, IVR script versions, queues and their members, agent skills,
Open311 API keys and web sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.models.base import Base


class DispositionCode(Base):
    __tablename__ = "disposition_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    requires_case: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)


class PauseReason(Base):
    __tablename__ = "pause_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    paid: Mapped[bool] = mapped_column(default=True)
    max_minutes: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class IvrScriptVersion(Base):
    """An immutable version of an IVR script; publishing makes one version the active one."""

    __tablename__ = "ivr_script_versions"
    __table_args__ = (
        sa.UniqueConstraint("script_name", "version", name="uq_ivr_script_version"),
        # At most one active version per script, enforced by the database on both engines.
        sa.Index(
            "uq_ivr_script_active",
            "script_name",
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    script_name: Mapped[str] = mapped_column(sa.String(80))
    version: Mapped[int]
    yaml_text: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=False)


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    # longest_idle | round_robin | fewest_calls | skills_based | ring_all
    strategy: Mapped[str] = mapped_column(sa.String(20), default="longest_idle")
    skills_required: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    max_length: Mapped[int] = mapped_column(default=50)
    sl_threshold_s: Mapped[int] = mapped_column(default=30)
    sl_target_pct: Mapped[int] = mapped_column(default=80)
    overflow_queue_id: Mapped[int | None] = mapped_column(sa.ForeignKey("queues.id"))
    overflow_after_s: Mapped[int | None]
    callback_allowed: Mapped[bool] = mapped_column(default=False)
    announce_position: Mapped[bool] = mapped_column(default=True)
    announce_interval_s: Mapped[int] = mapped_column(default=60)
    moh_class: Mapped[str] = mapped_column(sa.String(40), default="default")
    priority: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    # How a call is handled once it reaches a consultant (migration 0002).
    wrapup_s: Mapped[int] = mapped_column(default=60, server_default="60")
    ring_timeout_s: Mapped[int] = mapped_column(default=15, server_default="15")
    autopause_after: Mapped[int] = mapped_column(default=3, server_default="3")  # 0: never
    record_calls: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    callback_attempts: Mapped[int] = mapped_column(default=3, server_default="3")
    callback_retry_s: Mapped[int] = mapped_column(default=300, server_default="300")


class QueueMember(Base):
    __tablename__ = "queue_members"
    __table_args__ = (sa.UniqueConstraint("queue_id", "user_id", name="uq_queue_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(sa.ForeignKey("queues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    penalty: Mapped[int] = mapped_column(default=0)  # lower rings first


class AgentSkill(Base):
    __tablename__ = "agent_skills"
    __table_args__ = (sa.UniqueConstraint("user_id", "skill", name="uq_agent_skill"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(sa.String(40))
    level: Mapped[int] = mapped_column(default=1)  # 1 basic .. 5 expert


class ApiKey(Base):
    """Open311 API key: only a SHA-256 of the key is kept; the prefix finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(12), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    owner: Mapped[str] = mapped_column(sa.String(200))
    rate_limit_per_min: Mapped[int] = mapped_column(default=60)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class WebSession(Base):
    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
