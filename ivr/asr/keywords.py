"""Keywords inside sentences: does what the caller said name a choice, in any inflected form?

Residents say "dzwonię, bo tramwaj stoi na rondzie" or "pod blokiem leżą śmieci", not menu
words. Each phrase of a choice is reduced to its key words' lemmas (dictionary forms) with
`simplemma` (pure Python, from PyPI, with Polish, English and Ukrainian data — Morfeusz 2 would be
more complete but needs a native library and a dictionary download; `pystempel` stems Polish
only). The free transcript's words are lemmatised the same way, so "tramwaju", "tramwajem" and
"tramwaj" all meet the phrase "tramwaj", "kotem" meets "kot", "drzewa" meets "drzewo".

Whisper base on telephone audio garbles words ("śmiaści" for "śmieci") and often drops Polish
diacritics: words are compared after folding diacritics, and a near miss (same stem start, or a
high character similarity) counts for part of a hit. A phrase of several key words ("psy i
koty") scores the mean over its key words; a choice scores its best phrase.

Rules:
- Stop words (prepositions, conjunctions, pronouns, "jest"...) are never key words.
- A phrase's score is the mean of its key words' scores (0..1 each; 1 for a form of the word),
  raised by `SPECIFIC` per further key word when every key word is heard: "status
  zgłoszenia" heard whole is a better answer than "zgłoszenie" alone.
- `collisions` is the validator's check: two choices of one menu must not share a key-word set
  after lemmatisation, or the caller who says it cannot be told apart.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path

from marisa_trie import BytesTrie
from simplemma import Lemmatizer
from simplemma.strategies import DefaultStrategy
from simplemma.strategies.dictionaries.trie_dictionary_factory import TrieDictionaryFactory

from ivr.phrases import normalize

_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)?", re.UNICODE)
NEAR = 0.78  # below this character similarity two words are different words
SPECIFIC = 0.15


def _set(*lines: str) -> frozenset[str]:
    return frozenset(" ".join(lines).split())


STOPWORDS: dict[str, frozenset[str]] = {
    "pl": _set("a aby albo ale bo by być byłem był była było chcę chce chciałbym chciałabym",
               "co czy dla do dzwonię dzwonie gdzie i ich jak jakiś jest już ja ją jej mam mi",
               "mnie mój moja moje moim mojej na nad nie nic o od po pod proszę przez przy się",
               "są ta tak tam te tego ten to tu tylko u w we więc z za ze że żeby coś ktoś"),
    "en": _set("a an and are at be by for from i in is it its my of on or our please the",
               "there this to want was we with would like"),
    "uk": _set("а але в від до з за і й на не про по у це що я мені мене є"),
}


class _SharedTries(TrieDictionaryFactory):
    """simplemma's dictionaries as memory-mapped tries cached on disk (its own cache folder,
    per simplemma version). Unpickling the Polish dictionary costs ~6 s of a quiet core in
    every process that lemmatizes — the controller, each test session, `ckm ivr validate` —
    and a restarted controller must be back within seconds to carry its calls on; a cached
    trie loads in milliseconds. Written to a temporary file and renamed, so processes starting
    together never read half a trie."""

    def _write_trie_to_disk(self, lang: str, trie: BytesTrie) -> None:
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._cache_dir, prefix=f".{lang}.", suffix=".tmp")
        os.close(fd)
        try:
            trie.save(tmp)
            os.replace(tmp, Path(self._cache_dir) / f"{lang}.dic")
        finally:
            Path(tmp).unlink(missing_ok=True)


_LEMMATIZER = Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=_SharedTries()))


def words(text: str) -> list[str]:
    return [m.group(0).lower() for m in _WORD.finditer(text)]


@lru_cache(maxsize=65536)
def lemma(word: str, language: str) -> str:
    """The folded dictionary form of one word (itself, folded, when the language is unknown)."""
    try:
        base = _LEMMATIZER.lemmatize(word, lang=language)
    except ValueError:
        base = word
    return normalize(base) or normalize(word)


def key_words(phrase: str, language: str) -> tuple[str, ...]:
    """The lemmas a phrase is recognised by (its words less stop words)."""
    stop = STOPWORDS.get(language, frozenset())
    keys = [lemma(w, language) for w in words(phrase) if w not in stop and len(w) > 1]
    if not keys:  # a phrase of stop words only ("tak") is its own key word
        keys = [lemma(w, language) for w in words(phrase)]
    return tuple(dict.fromkeys(keys))


def key_forms(phrase: str, language: str) -> tuple[frozenset[str], ...]:
    """Per key word of a phrase, the folded forms it is recognised by: its lemma and itself
    (simplemma reads the noun "zgłoszenie" as a form of the verb "zgłosić"; the caller's
    "zgłoszenia" lemmatises to "zgłoszenie")."""
    stop = STOPWORDS.get(language, frozenset())
    kept = [w for w in words(phrase) if w not in stop and len(w) > 1] or words(phrase)
    out: dict[frozenset[str], None] = {}
    for w in kept:
        out.setdefault(frozenset({lemma(w, language), normalize(w)}), None)
    return tuple(out)


def word_similarity(heard: str, key: frozenset[str] | str, language: str) -> float:
    """0..1: how surely the heard word is (a form of) the key word."""
    keys = frozenset({key}) if isinstance(key, str) else key
    forms = {normalize(heard), lemma(heard, language)} - {""}
    if forms & keys:
        return 1.0
    best = 0.0
    for form in forms:
        for k in keys:
            ratio = SequenceMatcher(None, form, k).ratio()
            stem = len(_common_prefix(form, k))
            if stem >= 4 and stem >= 0.75 * min(len(form), len(k)):
                ratio = max(ratio, 0.9)  # same stem, an ending the lemmatiser did not know
            best = max(best, ratio)
    return best if best >= NEAR else 0.0


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


@dataclass(frozen=True)
class Spotted:
    score: float  # the best phrase's: 0..1, more for a longer phrase heard whole
    phrase: str  # that phrase


def spot(heard: str, choices: Sequence[Sequence[str]], language: str) -> list[Spotted]:
    """Per choice: how well its best phrase's key words are found in `heard`."""
    said = words(heard)
    out: list[Spotted] = []
    for phrases in choices:
        best = Spotted(0.0, phrases[0] if phrases else "")
        for phrase in phrases:
            keys = key_forms(phrase, language)
            if not keys or not said:
                continue
            found = [max(word_similarity(w, k, language) for w in said) for k in keys]
            score = sum(found) / len(keys)
            if min(found) >= 0.9:
                score *= 1.0 + SPECIFIC * (len(keys) - 1)
            if score > best.score:
                best = Spotted(round(score, 4), phrase)
        out.append(best)
    return out


def collisions(choices: Sequence[Sequence[str]], language: str) -> list[tuple[str, int, str, int]]:
    """(phrase, its choice, other phrase, other choice) for phrases of two choices that have
    the same key words after lemmatisation ("hałas" / "hałasu")."""
    seen: dict[tuple[str, ...], tuple[str, int]] = {}
    out: list[tuple[str, int, str, int]] = []
    for index, phrases in enumerate(choices):
        for phrase in phrases:
            keys = tuple(sorted(key_words(phrase, language)))
            if not keys:
                continue
            if keys in seen and seen[keys][1] != index:
                out.append((phrase, index, *seen[keys]))
            else:
                seen.setdefault(keys, (phrase, index))
    return out
