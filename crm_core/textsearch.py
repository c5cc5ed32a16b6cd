"""Polish text folding and light stemming for knowledge-base search, the same on both databases.

Neither SQLite FTS5 nor PostgreSQL 15 ships a Polish stemmer, and callers' spelling varies
("śmieci", "smieci", "śmietnik"). So the words are prepared here, in Python, identically for
SQLite and PostgreSQL: lower-case, diacritics removed (including "ł", which Unicode does not
decompose), common inflectional endings cut off. The index holds these stems; a query is
prepared the same way and matched by prefix, so "smieci" and "śmieciami" meet at "smiec".
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[0-9a-z]+")
# Longest first: endings of Polish nouns and adjectives (after diacritics are removed).
_ENDINGS = sorted(
    {
        "ami",
        "ach",
        "owie",
        "owi",
        "ow",
        "om",
        "em",
        "ie",
        "ia",
        "iu",
        "io",
        "ej",
        "ego",
        "emu",
        "ych",
        "ymi",
        "ich",
        "imi",
        "ym",
        "im",
        "a",
        "e",
        "i",
        "y",
        "u",
        "o",
    },
    key=len,
    reverse=True,
)
MIN_STEM = 4
# Folded already (no diacritics), so "się" is "sie".
_STOPWORDS = frozenset(
    ("a", "i", "o", "u", "w", "z", "na", "do", "od", "po", "za", "ze", "we", "jak", "czy",
     "co", "to", "nie", "sie", "jest", "sa", "oraz", "lub", "albo", "dla", "przez", "przy")
)  # fmt: skip


def fold(text: str) -> str:
    """Lower-case and strip diacritics: "Śmieci Łódź" -> "smieci lodz"."""
    text = text.lower().replace("ł", "l")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """Cut one inflectional ending, keeping at least MIN_STEM letters."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            return word[: -len(ending)]
    return word


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in _STOPWORDS]


def index_text(*parts: str) -> str:
    """What goes into the full-text index: stems, separated by spaces."""
    return " ".join(stem(w) for part in parts for w in words(part))


def query_terms(query: str, *, limit: int = 8) -> list[str]:
    """Stems of a user's query, duplicates dropped, at most `limit` (a query is a few words)."""
    seen: list[str] = []
    for w in words(query):
        s = stem(w)
        if s not in seen:
            seen.append(s)
    return seen[:limit]
