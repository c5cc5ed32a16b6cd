"""Listing Open311 API keys for administrators (creating and revoking are crm_core's)."""

from __future__ import annotations

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import ApiKey
from crm_core.services.contact_center import ApiKeyView


def list_keys(db: Database, *, include_revoked: bool = False) -> list[ApiKeyView]:
    stmt = sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    with db.reading() as session:
        return [
            ApiKeyView(k.id, k.prefix, k.owner, k.rate_limit_per_min, k.created_at, k.revoked_at)
            for k in session.scalars(stmt)
        ]
