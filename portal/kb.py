"""The knowledge base as residents see it: published articles valid now, in their language
(Polish when an article has no translation). Search is crm_core's; browsing is listed here."""

from __future__ import annotations

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import KbArticle, utcnow
from crm_core.search import KbHit


def _hit(a: KbArticle) -> KbHit:
    body = " ".join(a.body.split())
    snippet = body if len(body) <= 200 else body[:197].rsplit(" ", 1)[0] + "…"
    return KbHit(a.id, a.slug, a.title, snippet, tuple(a.tags))


def _visible(lang: str) -> list[sa.ColumnElement[bool]]:
    now = utcnow()
    return [
        KbArticle.published.is_(True),
        KbArticle.language == lang,
        sa.or_(KbArticle.valid_from.is_(None), KbArticle.valid_from <= now),
        sa.or_(KbArticle.valid_to.is_(None), KbArticle.valid_to > now),
    ]


def browse(db: Database, lang: str, limit: int = 100) -> list[KbHit]:
    with db.reading() as session:
        rows = session.scalars(
            sa.select(KbArticle).where(*_visible(lang)).order_by(KbArticle.title).limit(limit)
        ).all()
        if not rows and lang != "pl":
            rows = session.scalars(
                sa.select(KbArticle).where(*_visible("pl")).order_by(KbArticle.title).limit(limit)
            ).all()
        return [_hit(a) for a in rows]


def article(db: Database, slug: str, lang: str) -> KbArticle | None:
    if len(slug) > 120:
        return None
    with db.reading() as session:
        for language in dict.fromkeys((lang, "pl")):
            found = session.scalar(sa.select(KbArticle).where(KbArticle.slug == slug, *_visible(language)))
            if found is not None:
                session.expunge(found)
                return found
    return None
