"""Knowledge-base articles consultants read to callers; every edit is kept as a version."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_core.models.base import Base


class KbArticle(Base):
    """The current version of an article, denormalised for search; versions keep the past."""

    __tablename__ = "kb_articles"
    __table_args__ = (sa.UniqueConstraint("slug", "language", name="uq_kb_slug_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120))
    language: Mapped[str] = mapped_column(sa.String(8), default="pl")
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    version: Mapped[int] = mapped_column(default=1)
    published: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]
    # Folded, stemmed words of title + tags + body (see crm_core.textsearch); the FTS index
    # (SQLite FTS5 / PostgreSQL tsvector) is built on this column.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    updated_at: Mapped[datetime]

    versions: Mapped[list[KbArticleVersion]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="KbArticleVersion.version"
    )


class KbArticleVersion(Base):
    __tablename__ = "kb_article_versions"
    __table_args__ = (sa.UniqueConstraint("article_id", "version", name="uq_kb_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("kb_articles.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]

    article: Mapped[KbArticle] = relationship(back_populates="versions")
