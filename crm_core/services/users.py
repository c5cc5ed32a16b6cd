"""The center's users: roles, password hashes (stdlib scrypt), login and web sessions.

Hash format: "scrypt$n$r$p$salt_hex$hash_hex", so parameters can be raised later and old
hashes still verify. Verification compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import Role, User, WebSession, utcnow

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8
SESSION_TTL = timedelta(hours=12)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


# Verifying against a dummy hash for unknown users keeps login time the same for both.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


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


def create_user(
    db: Database,
    *,
    username: str,
    full_name: str,
    role: str,
    password: str,
    extension: str | None = None,
) -> UserView:
    errors: dict[str, str] = {}
    if not username or len(username) > 64 or not username.replace("_", "").isalnum():
        errors["username"] = "1 to 64 letters, digits or underscores"
    if not full_name.strip() or len(full_name) > 200:
        errors["full_name"] = "1 to 200 characters"
    if role not in {r.value for r in Role}:
        errors["role"] = f"expected one of {', '.join(r.value for r in Role)}, got {role!r}"
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"at least {MIN_PASSWORD} characters"
    if extension is not None and not (extension.isdigit() and len(extension) <= 16):
        errors["extension"] = "digits only"
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
    a login form must not reveal which usernames exist)."""
    with db.reading() as session:
        user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, user.password_hash) or not user.is_active:
        return None
    return _view(user)


def get_user(db: Database, username: str) -> UserView:
    with db.reading() as session:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFound("user", username)
        return _view(user)


def list_users(db: Database, role: str | None = None) -> list[UserView]:
    stmt = sa.select(User).order_by(User.username)
    if role is not None:
        stmt = stmt.where(User.role == role)
    with db.reading() as session:
        return [_view(u) for u in session.scalars(stmt)]


def set_password(db: Database, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError({"password": f"at least {MIN_PASSWORD} characters"})
    with db.writing() as session:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFound("user", username)
        user.password_hash = hash_password(password)


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


def session_user(db: Database, token: str, *, at: datetime | None = None) -> UserView | None:
    now = at or utcnow()
    with db.writing() as session:
        row = session.get(WebSession, _token_hash(token))
        if row is None or row.expires_at <= now:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        row.last_seen_at = now
        return _view(user)


def close_session(db: Database, token: str) -> None:
    with db.writing() as session:
        session.execute(sa.delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
