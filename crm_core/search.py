"""Knowledge-base articles: versioned saving and full-text search for consultants.

Search runs in widening steps and stops at the first that finds something:
1. every query word, by stem prefix (AND);
2. any query word (OR);
3. PostgreSQL only: trigram similarity of the unaccented title, for typos ("biletomad");
4. any word by its first four letters ("smietnik" → "smie*" meets "smiec", "smieciarka").
Words are folded and stemmed in Python (crm_core.textsearch) for both engines; SQLite matches
with FTS5, PostgreSQL with a tsvector GIN index. Only published articles valid now are found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_core import textsearch
from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.models import KbArticle, KbArticleVersion, utcnow

KB_LANGUAGES = ("pl", "en", "uk")
MAX_BODY = 50_000
_fts = sa.table("kb_fts", sa.column("rowid", sa.Integer), sa.column("search_text"), sa.column("rank"))


@dataclass(frozen=True)
class KbHit:
    id: int
    slug: str
    title: str
    snippet: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class KbArticleView:
    id: int
    slug: str
    language: str
    title: str
    body: str
    tags: tuple[str, ...]
    version: int
    published: bool
    valid_from: datetime | None
    valid_to: datetime | None
    updated_at: datetime


def _hit(a: KbArticle) -> KbHit:
    body = " ".join(a.body.split())
    snippet = body if len(body) <= 200 else body[:197].rsplit(" ", 1)[0] + "…"
    return KbHit(a.id, a.slug, a.title, snippet, tuple(a.tags))


def _view(a: KbArticle) -> KbArticleView:
    return KbArticleView(
        a.id,
        a.slug,
        a.language,
        a.title,
        a.body,
        tuple(a.tags),
        a.version,
        a.published,
        a.valid_from,
        a.valid_to,
        a.updated_at,
    )


def _visible(lang: str, now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        KbArticle.published.is_(True),
        KbArticle.language == lang,
        sa.or_(KbArticle.valid_from.is_(None), KbArticle.valid_from <= now),
        sa.or_(KbArticle.valid_to.is_(None), KbArticle.valid_to > now),
    ]


def _match_sqlite(session: Session, expr: str, lang: str, now: datetime, limit: int) -> list[KbHit]:
    rows = session.scalars(
        sa.select(KbArticle)
        .join(_fts, _fts.c.rowid == KbArticle.id)
        .where(_fts.c.search_text.op("MATCH")(expr), *_visible(lang, now))
        .order_by(_fts.c.rank)
        .limit(limit)
    ).all()
    return [_hit(a) for a in rows]


def _match_postgresql(session: Session, expr: str, lang: str, now: datetime, limit: int) -> list[KbHit]:
    # Generated column added by the migration on PostgreSQL only (not mapped: SQLite lacks it).
    vector: sa.ColumnElement[Any] = sa.literal_column("kb_articles.search_vector")
    query = sa.func.to_tsquery(sa.literal_column("'simple'"), expr)
    rows = session.scalars(
        sa.select(KbArticle)
        .where(vector.op("@@")(query), *_visible(lang, now))
        .order_by(sa.func.ts_rank(vector, query).desc(), KbArticle.id)
        .limit(limit)
    ).all()
    return [_hit(a) for a in rows]


def _trigram_postgresql(session: Session, folded: str, lang: str, now: datetime, limit: int) -> list[KbHit]:
    title = sa.func.lower(sa.func.unaccent(KbArticle.title))
    score = sa.func.word_similarity(folded, title)
    rows = session.scalars(
        sa.select(KbArticle)
        .where(score > 0.4, *_visible(lang, now))
        .order_by(score.desc(), KbArticle.id)
        .limit(limit)
    ).all()
    return [_hit(a) for a in rows]


def kb_search(
    db: Database, query: str, lang: str = "pl", *, limit: int = 10, at: datetime | None = None
) -> list[KbHit]:
    """Published, currently valid articles in `lang` matching `query`, best first."""
    if len(query) > 200:
        raise ValidationError({"query": "at most 200 characters"})
    terms = textsearch.query_terms(query)
    if not terms:
        return []
    now = at or utcnow()
    short = list(dict.fromkeys(t[: textsearch.MIN_STEM] for t in terms))
    with db.reading() as session:
        if db.dialect == "postgresql":
            for expr in dict.fromkeys(
                [" & ".join(f"{t}:*" for t in terms), " | ".join(f"{t}:*" for t in terms)]
            ):
                hits = _match_postgresql(session, expr, lang, now, limit)
                if hits:
                    return hits
            # A typo is closer to the intended title than a four-letter prefix is.
            folded = " ".join(textsearch.words(query))
            hits = _trigram_postgresql(session, folded, lang, now, limit)
            if hits:
                return hits
            return _match_postgresql(session, " | ".join(f"{t}:*" for t in short), lang, now, limit)
        steps = [
            " AND ".join(f'"{t}"*' for t in terms),
            " OR ".join(f'"{t}"*' for t in terms),
            " OR ".join(f'"{t}"*' for t in short),
        ]
        for expr in dict.fromkeys(steps):
            hits = _match_sqlite(session, expr, lang, now, limit)
            if hits:
                return hits
        return []


def save_article(
    db: Database,
    *,
    slug: str,
    title: str,
    body: str,
    tags: list[str] | tuple[str, ...] = (),
    language: str = "pl",
    published: bool = True,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    author_id: int | None = None,
    at: datetime | None = None,
) -> KbArticleView:
    """Create the article `slug` in `language`, or store a new version of it. Saving identical
    content again adds no version (the seed is re-run on every `make run`)."""
    now = at or utcnow()
    errors: dict[str, str] = {}
    if not slug or len(slug) > 120 or not slug.replace("-", "").isalnum():
        errors["slug"] = "1 to 120 letters, digits and dashes"
    if not title.strip() or len(title) > 200:
        errors["title"] = "1 to 200 characters"
    if not body.strip() or len(body) > MAX_BODY:
        errors["body"] = f"1 to {MAX_BODY} characters"
    if language not in KB_LANGUAGES:
        errors["language"] = f"expected one of {', '.join(KB_LANGUAGES)}"
    if any(len(t) > 40 for t in tags) or len(tags) > 20:
        errors["tags"] = "at most 20 tags of 40 characters"
    if valid_from and valid_to and valid_to <= valid_from:
        errors["valid_to"] = "must be after valid_from"
    if errors:
        raise ValidationError(errors)
    tag_list = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    # The title twice: a word in the title should outrank the same word deep in the body.
    search_text = textsearch.index_text(title, title, " ".join(tag_list), body)
    with db.writing() as session:
        article = session.scalar(
            sa.select(KbArticle).where(KbArticle.slug == slug, KbArticle.language == language)
        )
        changed_content = article is None or (article.title, article.body, article.tags) != (
            title,
            body,
            tag_list,
        )
        if article is None:
            article = KbArticle(slug=slug, language=language, version=0, updated_at=now)
            session.add(article)
        if changed_content:
            article.version += 1
            article.title, article.body, article.tags = title, body, tag_list
            article.search_text = search_text
            article.versions.append(
                KbArticleVersion(
                    version=article.version,
                    title=title,
                    body=body,
                    tags=tag_list,
                    author_id=author_id,
                    created_at=now,
                )
            )
        if changed_content or (article.published, article.valid_from, article.valid_to) != (
            published,
            valid_from,
            valid_to,
        ):
            article.published, article.valid_from, article.valid_to = (
                published,
                valid_from,
                valid_to,
            )
            article.updated_at = now
        session.flush()
        return _view(article)


def get_article(db: Database, slug: str, language: str = "pl") -> KbArticleView:
    with db.reading() as session:
        article = session.scalar(
            sa.select(KbArticle).where(KbArticle.slug == slug, KbArticle.language == language)
        )
        if article is None:
            raise NotFound("article", slug)
        return _view(article)


def article_versions(db: Database, slug: str, language: str = "pl") -> list[KbArticleVersion]:
    with db.reading() as session:
        return list(
            session.scalars(
                sa.select(KbArticleVersion)
                .join(KbArticle)
                .where(KbArticle.slug == slug, KbArticle.language == language)
                .order_by(KbArticleVersion.version)
            )
        )
