"""The center's users: roles, password hashes (stdlib scrypt), login and web sessions.

Hash format: "scrypt$n$r$p$salt_hex$hash_hex", so parameters can be raised later and old
hashes still verify; a hash made with weaker parameters than today's is replaced at the next
successful login. Today's parameters follow OWASP's password storage guidance for scrypt
(N=2^17, r=8, p=1: 128 MiB and about 0.4 s of one core per hash). Verification compares in
constant time.

Password policy (`password_problem`): at least 12 characters (at most 256: the login form reads
no more), not the username, and not the public demo password; one clear message when refused.

Sessions: a web session ends `SESSION_TTL` after login at the latest, and after
`idle` without a request (the setting `session_idle_minutes`); every request extends it.
Changing a user's password, or disabling them, ends all of their sessions at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import AgentSkill, Queue, QueueMember, Role, User, WebSession, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MIN_PASSWORD = 12
MAX_PASSWORD = 256
DEMO_PASSWORD = "demo19115"  # the seed's demo accounts (crm_core.seed.reference); refused elsewhere
SESSION_TTL = timedelta(hours=12)
SESSION_IDLE = timedelta(minutes=30)
# A request within this long of the last one does not write last_seen_at again.
SEEN_RESOLUTION = timedelta(seconds=30)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # OpenSSL needs about 128 * r * (n + p + 2) bytes; the default cap (32 MiB) is below N=2^17.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=maxmem)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def needs_rehash(stored: str) -> bool:
    """True for a hash made with weaker parameters than today's (or in an unknown form)."""
    try:
        scheme, n, r, p, _, _ = stored.split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return True


@functools.cache
def _dummy_hash() -> str:
    # Verifying against a dummy hash for unknown users keeps login time the same for both;
    # made on first use, so commands that never log anyone in do not pay for it.
    return hash_password(secrets.token_urlsafe(12))


def password_problem(password: str, username: str) -> str | None:
    """Why `password` may not be used for `username`, or None when it may. (The demo accounts
    of `ckm seed --demo` are the one place the demo password exists: the seed sets it.)"""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters (got {len(password)})"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    if username and password.strip().casefold() == username.casefold():
        return "must not be the username"
    if DEMO_PASSWORD in password.casefold():
        return f"must not contain the public demo password {DEMO_PASSWORD!r}"
    return None


def generate_password() -> str:
    """A random password that meets the policy (about 120 bits), for `ckm users add`."""
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    full_name: str
    role: str
    extension: str | None
    is_active: bool


def _view(u: User) -> UserView:
    return UserView(u.id, u.username, u.full_name, u.role, u.extension, u.is_active)


ROLES = tuple(r.value for r in Role)


def _field_errors(full_name: str | None, role: str | None, extension: str | None
                  ) -> dict[str, str]:
    errors: dict[str, str] = {}
    if full_name is not None and (not full_name.strip() or len(full_name) > 200):
        errors["full_name"] = "1 to 200 characters"
    if role is not None and role not in ROLES:
        errors["role"] = f"expected one of {', '.join(ROLES)}, got {role!r}"
    if extension is not None and not (extension.isdigit() and len(extension) <= 16):
        errors["extension"] = "digits only"
    return errors


def create_user(
    db: Database,
    *,
    username: str,
    full_name: str,
    role: str,
    password: str,
    extension: str | None = None,
) -> UserView:
    errors = _field_errors(full_name, role, extension)
    if not username or len(username) > 64 or not username.replace("_", "").isalnum():
        errors["username"] = "1 to 64 letters, digits or underscores"
    problem = password_problem(password, username)
    if problem:
        errors["password"] = problem
    with db.writing() as session:
        if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            errors["username"] = f"{username!r} is taken"
        if errors:
            raise ValidationError(errors)
        user = User(
            username=username,
            full_name=full_name.strip(),
            role=role,
            password_hash=hash_password(password),
            extension=extension,
        )
        session.add(user)
        session.flush()
        return _view(user)


def authenticate(db: Database, username: str, password: str) -> UserView | None:
    """The user if the password is right and the account active, else None (no reason given:
    a login form must not reveal which usernames exist). A right password stored with old
    parameters is hashed again with today's."""
    with db.reading() as session:
        user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    stored = user.password_hash
    if not verify_password(password, stored) or not user.is_active:
        return None
    if needs_rehash(stored):
        fresh = hash_password(password)
        with db.writing() as session:
            # Only if nobody changed the password meanwhile.
            session.execute(sa.update(User).where(User.id == user.id, User.password_hash == stored)
                            .values(password_hash=fresh))
    return _view(user)


def _user(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound("user", username)
    return user


def get_user(db: Database, username: str) -> UserView:
    with db.reading() as session:
        return _view(_user(session, username))


def list_users(db: Database, role: str | None = None) -> list[UserView]:
    stmt = sa.select(User).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role)
    with db.reading() as session:
        return [_view(u) for u in session.scalars(stmt)]


def _end_sessions(session: Session, user_id: int) -> int:
    result = session.execute(sa.delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def set_password(db: Database, username: str, password: str) -> int:
    """A new password; every session of the user ends (returns how many did)."""
    problem = password_problem(password, username)
    if problem:
        raise ValidationError({"password": problem})
    with db.writing() as session:
        user = _user(session, username)
        user.password_hash = hash_password(password)
        return _end_sessions(session, user.id)


def set_active(db: Database, username: str, active: bool) -> UserView:
    """Enable or disable an account; disabling ends every session of the user at once."""
    with db.writing() as session:
        user = _user(session, username)
        user.is_active = active
        if not active:
            _end_sessions(session, user.id)
        return _view(user)


def update_user(
    db: Database,
    username: str,
    *,
    full_name: str | None = None,
    role: str | None = None,
    extension: str | None = None,
    clear_extension: bool = False,
) -> UserView:
    """Change a user's name, role or softphone extension (None leaves a field as it is)."""
    errors = _field_errors(full_name, role, extension)
    if errors:
        raise ValidationError(errors)
    with db.writing() as session:
        user = _user(session, username)
        if full_name is not None:
            user.full_name = full_name.strip()
        if role is not None and role != user.role:
            user.role = role
            _end_sessions(session, user.id)  # pages and the CTI socket pick the new role up
        if extension is not None or clear_extension:
            user.extension = extension
        return _view(user)


# --- queue memberships and skills of one agent (the ACD reads them through cti.crm_link)


@dataclass(frozen=True)
class AgentSetup:
    user: UserView
    memberships: dict[str, int]  # queue name → penalty
    skills: dict[str, int]  # skill → level 1..5


def agent_setup(db: Database, username: str) -> AgentSetup:
    with db.reading() as session:
        user = _user(session, username)
        memberships: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
            sa.select(Queue.name, QueueMember.penalty)
            .join(Queue, Queue.id == QueueMember.queue_id)
            .where(QueueMember.user_id == user.id).order_by(Queue.name)).all())
        skills: dict[str, int] = dict(session.execute(  # type: ignore[arg-type]
            sa.select(AgentSkill.skill, AgentSkill.level)
            .where(AgentSkill.user_id == user.id).order_by(AgentSkill.skill)).all())
        return AgentSetup(_view(user), memberships, skills)


def remove_queue_member(db: Database, queue: str, username: str) -> bool:
    with db.writing() as session:
        user = _user(session, username)
        queue_id = session.scalar(sa.select(Queue.id).where(Queue.name == queue))
        if queue_id is None:
            raise NotFound("queue", queue)
        result = session.execute(sa.delete(QueueMember).where(
            QueueMember.queue_id == queue_id, QueueMember.user_id == user.id))
        return bool(getattr(result, "rowcount", 0))


def remove_skill(db: Database, username: str, skill: str) -> bool:
    with db.writing() as session:
        user = _user(session, username)
        result = session.execute(sa.delete(AgentSkill).where(
            AgentSkill.user_id == user.id, AgentSkill.skill == skill))
        return bool(getattr(result, "rowcount", 0))


# --- web sessions


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, user_id: int, *, at: datetime | None = None) -> str:
    """Start a web session; returns the cookie value (only its hash is stored)."""
    now = at or utcnow()
    token = secrets.token_urlsafe(32)
    with db.writing() as session:
        session.add(
            WebSession(
                token_hash=_token_hash(token),
                user_id=user_id,
                created_at=now,
                expires_at=now + SESSION_TTL,
                last_seen_at=now,
            )
        )
    return token


def session_user(db: Database, token: str, *, at: datetime | None = None,
                 idle: timedelta = SESSION_IDLE) -> UserView | None:
    """The user of a live session, which this request extends; None (and the session gone)
    once it expired or sat idle longer than `idle`."""
    now = at or utcnow()
    with db.writing() as session:
        row = session.get(WebSession, _token_hash(token))
        if row is None:
            return None
        if row.expires_at <= now or row.last_seen_at + idle <= now:
            session.delete(row)
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        if now - row.last_seen_at >= SEEN_RESOLUTION:
            row.last_seen_at = now
        return _view(user)


def end_sessions(db: Database, username: str) -> int:
    with db.writing() as session:
        return _end_sessions(session, _user(session, username).id)


def close_session(db: Database, token: str) -> None:
    with db.writing() as session:
        session.execute(sa.delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
