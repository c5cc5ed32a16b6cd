"""A menu's grammar: its phrases, grouped by the choice they stand for.

`Grammar` *is* the tuple of the menu's phrases (so every caller that passed a list of phrases
to `Recognizer.set_grammar` still does, and a `Listen` command still carries a tuple of
strings), and also knows which phrases belong to the same choice. Deciding among choices
rather than among phrases matters twice: two phrases of one choice ("status", "status sprawy")
are not rivals when the recogniser measures how sure it is, and the text it returns is a
phrase of the winning choice.

A plain list of phrases given to `set_grammar` becomes a grammar of one choice per phrase
(the old behaviour).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class Grammar(tuple[str, ...]):
    """The menu's distinct phrases, in order; `choices` groups them per choice."""

    choices: tuple[tuple[str, ...], ...]

    def __new__(cls, choices: Iterable[Iterable[str]]) -> Grammar:
        grouped = tuple(tuple(dict.fromkeys(p.strip() for p in phrases if p.strip()))
                        for phrases in choices)
        flat = tuple(dict.fromkeys(p for phrases in grouped for p in phrases))
        grammar = super().__new__(cls, flat)
        grammar.choices = grouped
        return grammar

    @classmethod
    def of(cls, phrases: Sequence[str]) -> Grammar:
        """`phrases` as a grammar: itself when it already is one, else one choice each."""
        if isinstance(phrases, Grammar):
            return phrases
        return cls([p] for p in dict.fromkeys(p.strip() for p in phrases if p.strip()))

    def __reduce__(self) -> tuple[type[Grammar], tuple[tuple[tuple[str, ...], ...]]]:
        return (Grammar, (self.choices,))
