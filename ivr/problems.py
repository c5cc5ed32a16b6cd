"""What is wrong with a script, located in its source: `file:line:column: message; hint: ...`.

Every check of a script (YAML syntax, schema, meaning) reports `Problem`s; nothing else escapes
the loader or the validator. Lines and columns are 1-based, as editors show them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: int
    message: str
    hint: str = ""
    # A root cause other problems follow from (a link to a node that does not exist): listed
    # first. `covers` names the nodes a folded line stands for ("34 nodes are unreachable
    # because ..."), so the editor can show them on demand.
    root: bool = field(default=False, compare=False)
    covers: tuple[str, ...] = field(default=(), compare=False)

    def render(self, file: str) -> str:
        text = f"{file}:{self.line}:{self.column}: {self.message}"
        return f"{text}; hint: {self.hint}" if self.hint else text


def ordered(problems: Iterable[Problem]) -> list[Problem]:
    """Root causes first, each followed by what it folds; then the rest by place."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (not (p.root or p.covers), p.line, p.column,
                                         not p.root, p.message, p.hint))


class ScriptInvalid(ValueError):
    """A script cannot be used; `problems` says every reason, each with its place."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = ordered(problems)
        super().__init__("\n".join(p.render(file) for p in self.problems))
