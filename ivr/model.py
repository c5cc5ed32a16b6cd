"""The script model: what an IVR script says, parsed once from YAML into frozen objects.

A `Script` is immutable and carries its version; a call pins the `Script` object it started
with, so publishing a new version never changes a call in progress. `Mark` keeps where each part
came from in the source file, for error messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Literal

NodeType = Literal[
    "say", "emergency", "menu", "collect", "lookup", "branch", "set", "language", "queue",
    "callback_offer", "hangup", "goto",
]
NODE_TYPES: tuple[str, ...] = (
    "say", "emergency", "menu", "collect", "lookup", "branch", "set", "language", "queue",
    "callback_offer", "hangup", "goto",
)
LookupKind = Literal["case_status", "open_cases"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Mark:
    line: int = 1
    column: int = 1


@dataclass(frozen=True)
class Prompt:
    """Text per language (rendered by TTS ahead of time) or one recorded file for all."""

    texts: Mapping[str, str] = field(default_factory=dict)
    file: str | None = None
    mark: Mark = Mark()

    def text_for(self, language: str, default_language: str) -> str:
        return self.texts.get(language) or self.texts.get(default_language) or ""


@dataclass(frozen=True)
class Choice:
    key: str | None
    phrases: Mapping[str, tuple[str, ...]]
    next: str
    set_vars: Mapping[str, str]
    mark: Mark
    key_mark: Mark
    next_mark: Mark


@dataclass(frozen=True)
class TimeWindow:
    start: time
    end: time  # may be before start: the window crosses midnight

    def contains(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


@dataclass(frozen=True)
class Condition:
    """All the given tests must hold. `None` means the test is not asked."""

    var: str | None = None
    equals: str | None = None
    not_equals: str | None = None
    greater_than: float | None = None
    less_than: float | None = None
    caller_known: bool | None = None
    time: TimeWindow | None = None
    weekdays: tuple[str, ...] | None = None
    holiday: bool | None = None


@dataclass(frozen=True)
class Rule:
    when: Condition
    goto: str
    mark: Mark
    goto_mark: Mark


@dataclass(frozen=True)
class Node:
    id: str
    type: NodeType
    mark: Mark
    prompt: Prompt | None = None
    next: str | None = None
    barge_in: bool = True
    # menu / callback_offer
    choices: tuple[Choice, ...] = ()
    noinput: Prompt | None = None
    nomatch: Prompt | None = None
    max_retries: int | None = None
    timeout_s: float | None = None
    on_failure: str | None = None
    speech: bool = True
    # collect
    var: str | None = None
    min_digits: int = 1
    max_digits: int = 1
    terminator: str | None = None
    # lookup
    lookup: LookupKind | None = None
    input_var: str | None = None
    result: str | None = None
    on_error: str | None = None
    # branch
    rules: tuple[Rule, ...] = ()
    else_: str | None = None
    # set
    vars: Mapping[str, str] = field(default_factory=dict)
    # language
    language: str | None = None
    # queue / callback_offer
    queue: str | None = None
    skills: tuple[str, ...] = ()
    priority: int = 0
    category: str | None = None
    accepted: str | None = None
    declined: str | None = None
    # where each outgoing edge is written, for messages: field name -> mark
    marks: Mapping[str, Mark] = field(default_factory=dict)

    def mark_of(self, name: str) -> Mark:
        return self.marks.get(name, self.mark)

    def targets(self) -> list[tuple[str, str, Mark]]:
        """Every node this one can lead to, as written: (field, target, mark)."""
        out: list[tuple[str, str, Mark]] = []
        for name in ("next", "on_failure", "on_error", "else_", "accepted", "declined"):
            target = getattr(self, name)
            if target is not None:
                out.append((name.rstrip("_"), target, self.mark_of(name.rstrip("_"))))
        for choice in self.choices:
            out.append(("choice", choice.next, choice.next_mark))
        for rule in self.rules:
            out.append(("rule", rule.goto, rule.goto_mark))
        return out


@dataclass(frozen=True)
class Script:
    name: str
    version: str
    languages: tuple[str, ...]
    default_language: str
    voices: Mapping[str, str]
    start: str
    operator: str
    nodes: Mapping[str, Node]
    confidence_threshold: float = 0.55
    timeout_s: float = 5.0
    max_retries: int = 2
    timezone: str = "Europe/Warsaw"
    holiday_calendar: str = "pl"
    extra_holidays: frozenset[date] = frozenset()
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "<script>"
    marks: Mapping[str, Mark] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise KeyError(
                f"script {self.name} {self.version}: no node {node_id!r} "
                f"(nodes: {', '.join(sorted(self.nodes))})"
            ) from None

    def voice(self, language: str) -> str:
        return self.voices.get(language) or DEFAULT_VOICES.get(language, "zlw/pl")

    def mark_of(self, name: str) -> Mark:
        return self.marks.get(name, Mark())


DEFAULT_VOICES: Mapping[str, str] = {"pl": "zlw/pl", "en": "gmw/en-us", "uk": "zle/uk", "ko": "ko"}
