"""What is wrong with a script, located in its source: `file:line:column: message; hint: ...`.

Every check of a script (YAML syntax, schema, meaning) reports `Problem`s; nothing else escapes
the loader or the validator. Lines and columns are 1-based, as editors show them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    column: int
    message: str
    hint: str = ""

    def render(self, file: str) -> str:
        text = f"{file}:{self.line}:{self.column}: {self.message}"
        return f"{text}; hint: {self.hint}" if self.hint else text


class ScriptInvalid(ValueError):
    """A script cannot be used; `problems` says every reason, each with its place."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = sorted(problems)
        super().__init__("\n".join(p.render(file) for p in self.problems))
