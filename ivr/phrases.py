"""Closed-set phrase matching: map what a recogniser heard to one menu choice, with a score.

Text is compared after normalisation (case, diacritics, punctuation, `ł`→`l`) because Whisper
often drops Polish diacritics on telephone audio. A phrase matches a heard sentence when it is
close to the whole sentence or to any run of words in it ("chcę zgłosić śmieci" → "śmieci").
The confidence also falls when two choices are nearly as good (an ambiguous answer must be
re-asked, not guessed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss"})


def normalize(text: str) -> str:
    text = text.translate(_FOLD).lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACE.sub(" ", text).strip()


def similarity(heard: str, phrase: str) -> float:
    """0..1: how well `phrase` is found in `heard` (both raw text)."""
    h, p = normalize(heard), normalize(phrase)
    if not h or not p:
        return 0.0
    if h == p:
        return 1.0
    best = SequenceMatcher(None, h, p).ratio()
    words, n = h.split(), len(p.split())
    for width in {max(1, n - 1), n, n + 1}:
        for i in range(0, max(1, len(words) - width + 1)):
            window = " ".join(words[i:i + width])
            best = max(best, SequenceMatcher(None, window, p).ratio())
    return best


@dataclass(frozen=True)
class PhraseMatch:
    index: int  # which choice
    phrase: str  # the phrase that matched best
    score: float  # similarity of that phrase
    confidence: float  # score, lowered when another choice is nearly as good


def best_choice(heard: str, choices: Sequence[Sequence[str]]) -> PhraseMatch | None:
    """The choice whose phrases best match `heard`; None when nothing is comparable."""
    scored: list[tuple[float, int, str]] = []
    for index, phrases in enumerate(choices):
        if not phrases:
            continue
        score, phrase = max((similarity(heard, p), p) for p in phrases)
        scored.append((score, index, phrase))
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    score, index, phrase = scored[0]
    if score <= 0.0:
        return None
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    confidence = score * min(1.0, 0.5 + (score - runner_up) / 0.3)
    return PhraseMatch(index, phrase, round(score, 4), round(max(0.0, confidence), 4))


def shared_phrases(choices: Mapping[int, Sequence[str]]) -> list[tuple[str, int, int]]:
    """(phrase, first choice, second choice) for every phrase given to two choices."""
    seen: dict[str, int] = {}
    out: list[tuple[str, int, int]] = []
    for index, phrases in choices.items():
        for phrase in phrases:
            key = normalize(phrase)
            if key in seen and seen[key] != index:
                out.append((phrase, seen[key], index))
            else:
                seen.setdefault(key, index)
    return out
