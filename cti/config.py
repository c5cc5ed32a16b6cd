"""Plain configuration the routing core works from: queues, agents, callers.

Rules: these are frozen dataclasses with no database behind them. crm_core loads them from its
tables (queues, queue_members, users) and hands them in; tests build them by hand. Validation
happens here, once, so the core can trust every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class ConfigError(ValueError):
    """A queue or agent definition that cannot be routed with; the message names the field."""


class Strategy(StrEnum):
    LONGEST_IDLE = "longest_idle"  # the agent who has waited longest since their last call
    ROUND_ROBIN = "round_robin"  # next member after the one offered last (remembered per queue)
    RING_ALL = "ring_all"  # every eligible agent at once; first answer wins
    FEWEST_CALLS = "fewest_calls"  # the member who answered fewest calls from this queue today
    LINEAR = "linear"  # always in member order (Membership.position)
    RANDOM = "random"  # seeded, so replays and tests are deterministic


@dataclass(frozen=True)
class SkillRequirement:
    skill: str
    min_level: int = 1


@dataclass(frozen=True)
class PenaltyStep:
    """After `after_s` seconds of waiting, members with penalty up to `max_penalty` may be offered.

    Like app_queue's penalty rules: specialists first, generalists only once the caller has
    waited long enough.
    """

    after_s: float
    max_penalty: int


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    moh_class: str = "default"
    ring_timeout_s: float = 15.0
    retry_s: float = 5.0  # after a ring goes unanswered, pause before ringing the same agents
    wrapup_s: float = 10.0
    max_length: int = 0  # 0: unlimited
    # No member logged in (offline is "not logged in"; paused counts as logged in unless
    # paused_counts_as_empty): may a caller join, and are waiting callers sent away?
    join_when_empty: bool = True
    leave_when_empty: bool = False
    paused_counts_as_empty: bool = False
    required_skills: tuple[SkillRequirement, ...] = ()
    # Before the first step, members of every penalty may be offered when no steps are given;
    # with steps, only penalty 0 until the first step applies.
    penalty_steps: tuple[PenaltyStep, ...] = ()
    overflow_after_s: float | None = None
    overflow_queue: str | None = None
    overflow_to_callback: bool = False
    announce_every_s: float | None = None
    announce_only_when_improves: bool = True
    default_handle_s: float = 180.0  # talk + wrap-up estimate until real calls are measured
    service_level_s: float = 20.0
    service_level_target: float = 0.8
    autopause_after: int = 3  # consecutive unanswered offers; 0 disables
    record: bool = False
    callback_attempts: int = 3
    callback_retry_s: float = 300.0
    dispositions: frozenset[str] = frozenset()  # empty: any code accepted

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("queue name: expected a non-empty name")
        if self.ring_timeout_s <= 0:
            raise ConfigError(f"queue {self.name}: ring_timeout_s must be > 0")
        if self.wrapup_s < 0 or self.max_length < 0 or self.autopause_after < 0 or self.retry_s < 0:
            raise ConfigError(f"queue {self.name}: wrapup_s, max_length, autopause_after, "
                              "retry_s >= 0")
        if self.overflow_queue == self.name:
            raise ConfigError(f"queue {self.name}: cannot overflow into itself")
        if (self.overflow_queue or self.overflow_to_callback) and self.overflow_after_s is None:
            raise ConfigError(f"queue {self.name}: overflow target given without overflow_after_s")
        if self.announce_every_s is not None and self.announce_every_s <= 0:
            raise ConfigError(f"queue {self.name}: announce_every_s must be > 0")
        if not 0 < self.service_level_target <= 1:
            raise ConfigError(f"queue {self.name}: service_level_target in (0, 1]")
        if self.callback_attempts < 1:
            raise ConfigError(f"queue {self.name}: callback_attempts >= 1")
        steps = [s.after_s for s in self.penalty_steps]
        if steps != sorted(steps):
            raise ConfigError(f"queue {self.name}: penalty_steps must be ordered by after_s")

    def max_penalty(self, waited_s: float) -> int | None:
        """Highest member penalty allowed after waiting `waited_s`; None means no limit."""
        if not self.penalty_steps:
            return None
        allowed = 0
        for step in self.penalty_steps:
            if waited_s >= step.after_s:
                allowed = step.max_penalty
        return allowed


@dataclass(frozen=True)
class Membership:
    queue: str
    penalty: int = 0  # lower is preferred
    position: int = 0  # order for the linear and round-robin strategies


@dataclass(frozen=True)
class AgentProfile:
    agent_id: str
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    memberships: tuple[Membership, ...] = ()

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ConfigError("agent_id: expected a non-empty id")
        queues = [m.queue for m in self.memberships]
        if len(set(queues)) != len(queues):
            raise ConfigError(f"agent {self.agent_id}: a queue is listed twice in memberships")
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))

    def membership(self, queue: str) -> Membership | None:
        for m in self.memberships:
            if m.queue == queue:
                return m
        return None

    def has_skills(self, required: tuple[SkillRequirement, ...]) -> bool:
        return all(self.skills.get(r.skill, 0) >= r.min_level for r in required)


@dataclass(frozen=True)
class Caller:
    number: str
    name: str = ""


@dataclass(frozen=True)
class CallContext:
    """What the IVR learned before the queue: shown in the screen-pop."""

    ivr_path: tuple[str, ...] = ()
    category: str = ""
    transcript: str = ""


EMPTY_CONTEXT = CallContext()
