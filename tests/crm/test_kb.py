"""Consultants find knowledge-base articles however the caller spells the words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.search import article_versions, get_article, kb_search, save_article


def _slugs(db: Database, query: str, **kw: object) -> list[str]:
    return [hit.slug for hit in kb_search(db, query, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["śmieci", "smieci", "ŚMIECI", "śmietnik", "smietnik",
                                   "śmieciami"])  # fmt: skip
def test_waste_articles_are_found_with_or_without_diacritics(seeded: Database, query: str) -> None:
    found = _slugs(seeded, query)
    assert found and all(slug.startswith("odpady-") for slug in found[:3])


def test_inflected_forms_and_several_words(seeded: Database) -> None:
    assert _slugs(seeded, "wywóz gabarytów")[0] == "odpady-wielkogabarytowe"
    assert "zwierzeta-dziki" in _slugs(seeded, "dziki na osiedlu")[:2]
    assert _slugs(seeded, "dziura w jezdni")[0] == "drogi-dziura"
    assert _slugs(seeded, "abonament parkowanie")[0] == "parkowanie-strefa"
    assert _slugs(seeded, "qwertyuiop") == []
    assert _slugs(seeded, "   ") == []


def test_only_published_articles_valid_now_in_the_language_are_found(db: Database) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    save_article(
        db,
        slug="maraton",
        title="Maraton – zamknięte ulice",
        body="Objazdy w centrum.",
        valid_from=now - timedelta(days=1),
        valid_to=now + timedelta(days=1),
    )
    save_article(db, slug="szkic", title="Maraton – szkic", body="Jeszcze nie.", published=False)
    save_article(db, slug="marathon", title="Marathon road closures", body="Detours.",
                 language="en")  # fmt: skip
    assert _slugs(db, "maraton", at=now) == ["maraton"]
    assert _slugs(db, "maraton", at=now + timedelta(days=2)) == []
    assert _slugs(db, "marathon", lang="en", at=now) == ["marathon"]


def test_edits_are_kept_as_versions_and_search_follows_the_current_text(db: Database) -> None:
    save_article(db, slug="kot", title="Koty wolno żyjące", body="Karma dla karmicieli.")
    save_article(db, slug="kot", title="Koty wolno żyjące", body="Karma dla karmicieli.")
    changed = save_article(db, slug="kot", title="Koty miejskie", body="Sterylizacja bezpłatna.")
    assert changed.version == 2
    assert [v.title for v in article_versions(db, "kot")] == ["Koty wolno żyjące",
                                                               "Koty miejskie"]  # fmt: skip
    assert _slugs(db, "sterylizacja") == ["kot"]
    assert _slugs(db, "karmiciele") == []
    assert get_article(db, "kot").body == "Sterylizacja bezpłatna."


def test_bad_article_fields_are_reported(db: Database) -> None:
    with pytest.raises(ValidationError) as err:
        save_article(db, slug="zły slug!", title="", body="x", language="xx")
    assert set(err.value.fields) == {"slug", "title", "language"}
    with pytest.raises(ValidationError):
        kb_search(db, "x" * 201)


def test_postgresql_trigram_fallback_catches_typos(seeded: Database) -> None:
    if seeded.dialect != "postgresql":
        assert _slugs(seeded, "smeci") == []  # FTS5 has no typo tolerance; documented
        return
    assert _slugs(seeded, "biletomad")[:1] == ["ztm-biletomat"]
