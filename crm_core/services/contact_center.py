"""Configuration the rest of the center reads from the CRM database: disposition codes, pause
reasons, IVR script versions, queues and members, agent skills, Open311 API keys.

Returned values are frozen views, safe to hand to other threads and packages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import (
    AgentSkill,
    ApiKey,
    DispositionCode,
    Interaction,
    IvrScriptVersion,
    PauseReason,
    Queue,
    QueueMember,
    User,
    utcnow,
)

QUEUE_STRATEGIES = ("longest_idle", "round_robin", "fewest_calls", "skills_based", "ring_all")
MAX_SCRIPT = 500_000


@dataclass(frozen=True)
class CodeView:
    code: str
    label: str


@dataclass(frozen=True)
class DispositionView(CodeView):
    requires_case: bool


@dataclass(frozen=True)
class PauseReasonView(CodeView):
    paid: bool
    max_minutes: int | None


def list_dispositions(db: Database) -> list[DispositionView]:
    with db.reading() as session:
        rows = session.scalars(
            sa.select(DispositionCode).where(DispositionCode.is_active).order_by(DispositionCode.id)
        )
        return [DispositionView(d.code, d.label, d.requires_case) for d in rows]


def list_pause_reasons(db: Database) -> list[PauseReasonView]:
    with db.reading() as session:
        rows = session.scalars(sa.select(PauseReason).where(PauseReason.is_active).order_by(PauseReason.id))
        return [PauseReasonView(p.code, p.label, p.paid, p.max_minutes) for p in rows]


# --- IVR scripts


@dataclass(frozen=True)
class ScriptVersionView:
    script_name: str
    version: int
    yaml_text: str
    author_id: int | None
    comment: str | None
    created_at: datetime
    published_at: datetime | None
    is_active: bool


@dataclass(frozen=True)
class QueuedCallView:
    """A call that waited in a queue: what the wallboard's chart of the day counts."""

    queue: str
    queued_at: datetime
    connected_at: datetime | None
    wait_s: float | None
    ended_at: datetime | None
    end_reason: str | None
    # Why the ACD took the caller out of the queue, and when (migration 0007): "abandoned"
    # is what the wallboard and the reports count as abandoned.
    left_queue_reason: str | None = None
    left_queue_at: datetime | None = None
    # When the resident asked to be called back: then the call is neither answered (the
    # callback's connection) nor abandoned.
    callback_requested_at: datetime | None = None

    @property
    def abandoned_at(self) -> datetime | None:
        if self.left_queue_reason == "abandoned":
            return self.left_queue_at
        # Calls recorded before the ACD's reason was: a hang-up recorded as abandoned.
        return self.ended_at if self.end_reason == "abandoned" else None


def queued_calls_between(db: Database, since: datetime, until: datetime) -> list[QueuedCallView]:
    """Calls that joined a queue in [since, until), oldest first (a day is a few thousand)."""
    i = Interaction
    query = (sa.select(i.queue, i.queued_at, i.connected_at, i.wait_s, i.ended_at, i.end_reason,
                       i.left_queue_reason, i.left_queue_at, i.callback_requested_at)
             .where(i.queued_at >= since, i.queued_at < until, i.queue.is_not(None))
             .order_by(i.queued_at))
    with db.reading() as session:
        return [QueuedCallView(queue or "", queued_at, connected, wait, ended, reason, left,
                               left_at, callback)
                for queue, queued_at, connected, wait, ended, reason, left, left_at, callback
                in session.execute(query) if queued_at is not None]


def _script_view(s: IvrScriptVersion) -> ScriptVersionView:
    return ScriptVersionView(
        s.script_name,
        s.version,
        s.yaml_text,
        s.author_id,
        s.comment,
        s.created_at,
        s.published_at,
        s.is_active,
    )


def save_script_version(
    db: Database,
    script_name: str,
    yaml_text: str,
    *,
    author_id: int | None = None,
    comment: str | None = None,
    at: datetime | None = None,
) -> ScriptVersionView:
    """Store a new, immutable version (validation of the YAML itself belongs to ivr/)."""
    errors: dict[str, str] = {}
    if not script_name or len(script_name) > 80:
        errors["script_name"] = "1 to 80 characters"
    if not yaml_text.strip() or len(yaml_text) > MAX_SCRIPT:
        errors["yaml_text"] = f"1 to {MAX_SCRIPT} characters"
    if comment is not None and len(comment) > 500:
        errors["comment"] = "at most 500 characters"
    if errors:
        raise ValidationError(errors)
    with db.writing() as session:
        last = session.scalar(
            sa.select(sa.func.max(IvrScriptVersion.version)).where(
                IvrScriptVersion.script_name == script_name
            )
        )
        row = IvrScriptVersion(
            script_name=script_name,
            version=(last or 0) + 1,
            yaml_text=yaml_text,
            author_id=author_id,
            comment=comment,
            created_at=at or utcnow(),
            is_active=False,
        )
        session.add(row)
        session.flush()
        return _script_view(row)


def publish_script_version(
    db: Database, script_name: str, version: int, *, at: datetime | None = None
) -> ScriptVersionView:
    """Make `version` the one calls use; the previously active version is retired."""
    with db.writing() as session:
        row = session.scalar(
            sa.select(IvrScriptVersion).where(
                IvrScriptVersion.script_name == script_name, IvrScriptVersion.version == version
            )
        )
        if row is None:
            raise NotFound("script version", f"{script_name} v{version}")
        session.execute(
            sa.update(IvrScriptVersion)
            .where(IvrScriptVersion.script_name == script_name, IvrScriptVersion.is_active)
            .values(is_active=False)
        )
        row.is_active = True
        row.published_at = row.published_at or at or utcnow()
        session.flush()
        return _script_view(row)


def active_script(db: Database, script_name: str) -> ScriptVersionView | None:
    with db.reading() as session:
        row = session.scalar(
            sa.select(IvrScriptVersion).where(
                IvrScriptVersion.script_name == script_name, IvrScriptVersion.is_active
            )
        )
        return None if row is None else _script_view(row)


def script_versions(db: Database, script_name: str) -> list[ScriptVersionView]:
    with db.reading() as session:
        rows = session.scalars(
            sa.select(IvrScriptVersion)
            .where(IvrScriptVersion.script_name == script_name)
            .order_by(IvrScriptVersion.version)
        )
        return [_script_view(r) for r in rows]


# --- queues


@dataclass(frozen=True)
class QueueMemberView:
    username: str
    extension: str | None
    penalty: int


@dataclass(frozen=True)
class QueueView:
    name: str
    display_name: str
    strategy: str
    skills_required: tuple[str, ...]
    max_length: int
    sl_threshold_s: int
    sl_target_pct: int
    overflow_queue: str | None
    overflow_after_s: int | None
    callback_allowed: bool
    announce_position: bool
    announce_interval_s: int
    moh_class: str
    priority: int
    members: tuple[QueueMemberView, ...]
    wrapup_s: int = 60
    ring_timeout_s: int = 15
    autopause_after: int = 3
    record_calls: bool = False
    callback_attempts: int = 3
    callback_retry_s: int = 300


def list_queues(db: Database) -> list[QueueView]:
    """Active queues with their members (lowest penalty first): the ACD's configuration."""
    with db.reading() as session:
        queues = session.scalars(sa.select(Queue).where(Queue.is_active).order_by(Queue.name)).all()
        names = {q.id: q.name for q in session.scalars(sa.select(Queue))}
        members = session.execute(
            sa.select(QueueMember.queue_id, User.username, User.extension, QueueMember.penalty)
            .join(User, User.id == QueueMember.user_id)
            .where(User.is_active)
            .order_by(QueueMember.penalty, User.username)
        ).all()
    by_queue: dict[int, list[QueueMemberView]] = {}
    for queue_id, username, extension, penalty in members:
        by_queue.setdefault(queue_id, []).append(QueueMemberView(username, extension, penalty))
    return [
        QueueView(
            q.name,
            q.display_name,
            q.strategy,
            tuple(q.skills_required),
            q.max_length,
            q.sl_threshold_s,
            q.sl_target_pct,
            names.get(q.overflow_queue_id) if q.overflow_queue_id else None,
            q.overflow_after_s,
            q.callback_allowed,
            q.announce_position,
            q.announce_interval_s,
            q.moh_class,
            q.priority,
            tuple(by_queue.get(q.id, ())),
            q.wrapup_s,
            q.ring_timeout_s,
            q.autopause_after,
            q.record_calls,
            q.callback_attempts,
            q.callback_retry_s,
        )
        for q in queues
    ]


def get_queue(db: Database, name: str) -> QueueView:
    for queue in list_queues(db):
        if queue.name == name:
            return queue
    raise NotFound("queue", name)


def create_queue(
    db: Database,
    *,
    name: str,
    display_name: str,
    strategy: str = "longest_idle",
    skills_required: tuple[str, ...] = (),
    max_length: int = 50,
    sl_threshold_s: int = 30,
    sl_target_pct: int = 80,
    overflow_queue: str | None = None,
    overflow_after_s: int | None = None,
    callback_allowed: bool = False,
    moh_class: str = "default",
    priority: int = 0,
) -> QueueView:
    errors: dict[str, str] = {}
    if not name or len(name) > 40 or not name.replace("_", "").isalnum():
        errors["name"] = "1 to 40 letters, digits or underscores"
    if strategy not in QUEUE_STRATEGIES:
        errors["strategy"] = f"expected one of {', '.join(QUEUE_STRATEGIES)}"
    if not 1 <= max_length <= 1000:
        errors["max_length"] = "expected 1 to 1000"
    if not 0 <= sl_target_pct <= 100:
        errors["sl_target_pct"] = "expected 0 to 100"
    with db.writing() as session:
        if session.scalar(sa.select(Queue.id).where(Queue.name == name)) is not None:
            errors["name"] = f"queue {name!r} exists"
        overflow_id = None
        if overflow_queue is not None:
            overflow_id = session.scalar(sa.select(Queue.id).where(Queue.name == overflow_queue))
            if overflow_id is None:
                errors["overflow_queue"] = f"no queue {overflow_queue!r}"
        if errors:
            raise ValidationError(errors)
        session.add(
            Queue(
                name=name,
                display_name=display_name,
                strategy=strategy,
                skills_required=list(skills_required),
                max_length=max_length,
                sl_threshold_s=sl_threshold_s,
                sl_target_pct=sl_target_pct,
                overflow_queue_id=overflow_id,
                overflow_after_s=overflow_after_s,
                callback_allowed=callback_allowed,
                moh_class=moh_class,
                priority=priority,
            )
        )
    return get_queue(db, name)


HANDLING_LIMITS = {
    "wrapup_s": (0, 3600), "ring_timeout_s": (1, 300), "autopause_after": (0, 100),
    "callback_attempts": (1, 10), "callback_retry_s": (0, 86_400),
}


def configure_queue(db: Database, name: str, *, record_calls: bool | None = None,
                    **handling: int | None) -> QueueView:
    """Change how a queue's calls are handled (wrap-up, ring timeout, auto-pause, callback
    attempts and retry, recording); values out of range are refused with their field named."""
    errors: dict[str, str] = {}
    for field_name, value in handling.items():
        if field_name not in HANDLING_LIMITS:
            errors[field_name] = f"unknown setting (known: {', '.join(HANDLING_LIMITS)})"
        elif value is not None:
            low, high = HANDLING_LIMITS[field_name]
            if not low <= value <= high:
                errors[field_name] = f"expected {low} to {high}, got {value}"
    with db.writing() as session:
        queue = session.scalars(sa.select(Queue).where(Queue.name == name)).one_or_none()
        if queue is None:
            errors["queue"] = f"no queue {name!r}"
        if errors:
            raise ValidationError(errors)
        assert queue is not None
        for field_name, value in handling.items():
            if value is not None:
                setattr(queue, field_name, value)
        if record_calls is not None:
            queue.record_calls = record_calls
    return get_queue(db, name)


def set_queue_member(db: Database, queue: str, username: str, penalty: int = 0) -> None:
    with db.writing() as session:
        queue_id = session.scalar(sa.select(Queue.id).where(Queue.name == queue))
        user_id = session.scalar(sa.select(User.id).where(User.username == username))
        errors = {}
        if queue_id is None:
            errors["queue"] = f"no queue {queue!r}"
        if user_id is None:
            errors["username"] = f"no user {username!r}"
        if errors:
            raise ValidationError(errors)
        member = session.scalar(
            sa.select(QueueMember).where(QueueMember.queue_id == queue_id, QueueMember.user_id == user_id)
        )
        if member is None:
            session.add(QueueMember(queue_id=queue_id, user_id=user_id, penalty=penalty))
        else:
            member.penalty = penalty


def agent_skills(db: Database, username: str) -> dict[str, int]:
    with db.reading() as session:
        rows = session.execute(
            sa.select(AgentSkill.skill, AgentSkill.level)
            .join(User, User.id == AgentSkill.user_id)
            .where(User.username == username)
        ).all()
        return {skill: level for skill, level in rows}


def set_agent_skill(db: Database, username: str, skill: str, level: int) -> None:
    if not 1 <= level <= 5:
        raise ValidationError({"level": "expected 1 to 5"})
    with db.writing() as session:
        user_id = session.scalar(sa.select(User.id).where(User.username == username))
        if user_id is None:
            raise ValidationError({"username": f"no user {username!r}"})
        row = session.scalar(
            sa.select(AgentSkill).where(AgentSkill.user_id == user_id, AgentSkill.skill == skill)
        )
        if row is None:
            session.add(AgentSkill(user_id=user_id, skill=skill, level=level))
        else:
            row.level = level


# --- Open311 API keys


@dataclass(frozen=True)
class ApiKeyView:
    id: int
    prefix: str
    owner: str
    rate_limit_per_min: int
    created_at: datetime
    revoked_at: datetime | None


def _key_view(k: ApiKey) -> ApiKeyView:
    return ApiKeyView(k.id, k.prefix, k.owner, k.rate_limit_per_min, k.created_at, k.revoked_at)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    db: Database, owner: str, *, rate_limit_per_min: int = 60, at: datetime | None = None
) -> tuple[ApiKeyView, str]:
    """A new key for `owner`; the key text is returned once and never stored."""
    if not owner.strip() or len(owner) > 200:
        raise ValidationError({"owner": "1 to 200 characters"})
    if not 1 <= rate_limit_per_min <= 10_000:
        raise ValidationError({"rate_limit_per_min": "expected 1 to 10000"})
    prefix = secrets.token_hex(4)
    key = f"{prefix}.{secrets.token_urlsafe(24)}"
    with db.writing() as session:
        row = ApiKey(
            prefix=prefix,
            key_hash=_key_hash(key),
            owner=owner.strip(),
            rate_limit_per_min=rate_limit_per_min,
            created_at=at or utcnow(),
        )
        session.add(row)
        session.flush()
        return _key_view(row), key


def verify_api_key(db: Database, key: str) -> ApiKeyView | None:
    prefix = key.split(".", 1)[0]
    with db.reading() as session:
        row = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _key_hash(key)):
        return None
    return _key_view(row)


def revoke_api_key(db: Database, prefix: str, *, at: datetime | None = None) -> None:
    with db.writing() as session:
        row = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
        if row is None:
            raise NotFound("api key", prefix)
        row.revoked_at = row.revoked_at or at or utcnow()
