"""Queue entries and the strategies that pick which agent(s) to ring for one entry.

Rules: pure functions over plain values. An entry's place is its sort key (higher priority first,
then arrival sequence); a callback keeps the key of the call it replaced, which is how a resident
who hung up keeps their place. Strategies see only agents already known to be eligible (logged
in, available, member, skilled, not yet tried for this entry) and never mutate anything; round
robin's memory and the random generator are handed in by the dispatcher.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cti.agent import Agent
from cti.config import EMPTY_CONTEXT, CallContext, Caller, QueueConfig, SkillRequirement, Strategy


class EntryPhase(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # ringing one agent (or several for ring-all)
    DIALING = "dialing"  # callback: agent answered, we are dialling the resident


@dataclass(frozen=True)
class QueueEntry:
    call_id: str
    queue: str
    caller: Caller
    priority: int
    seq: int  # arrival order, global; kept across overflow and callback conversion
    joined_at: datetime  # joined this queue (service level and ASA count from here)
    skills: tuple[SkillRequirement, ...] = ()
    context: CallContext = EMPTY_CONTEXT
    callback: bool = False
    attempts: int = 0  # callback dial attempts so far
    not_before: datetime | None = None  # callback: not to be dialled before this moment
    only_agent: str | None = None  # directed transfer: ring only this agent (once)
    phase: EntryPhase = EntryPhase.WAITING
    offered_to: frozenset[str] = frozenset()
    offer_deadline: datetime | None = None
    tried: frozenset[str] = frozenset()  # agents whose ring for this entry went unanswered
    retry_after: datetime | None = None  # not before this may tried agents be rung again
    offer_id: int = 0  # the current (or last) ring round; stale answers/declines carry older ids
    next_announce_at: datetime | None = None
    last_position: int | None = None
    last_wait_s: int | None = None
    overflow_done: bool = False
    transferred: bool = False  # re-queued by a transfer: not a new arrival for the figures

    @property
    def sort_key(self) -> tuple[int, int]:
        return (-self.priority, self.seq)


def allowed_by_penalty(
    config: QueueConfig, agents: Sequence[Agent], waited_s: float
) -> list[tuple[int, Agent]]:
    """Members whose penalty the caller's wait allows, with their penalty and in lowest tier."""
    limit = config.max_penalty(waited_s)
    scored: list[tuple[int, Agent]] = []
    for agent in agents:
        member = agent.profile.membership(config.name)
        if member is None or (limit is not None and member.penalty > limit):
            continue
        scored.append((member.penalty, agent))
    if not scored:
        return []
    best = min(p for p, _ in scored)
    return [(p, a) for p, a in scored if p == best]


def choose(
    config: QueueConfig,
    candidates: Sequence[Agent],
    waited_s: float,
    *,
    last_offered: tuple[int, str] | None,
    answered_today: Mapping[str, int],
    rng: random.Random,
) -> list[Agent]:
    """The agent(s) to ring for one entry: one agent, or all of the best tier for ring-all."""
    tier = [a for _, a in allowed_by_penalty(config, candidates, waited_s)]
    if not tier:
        return []
    strategy = config.strategy
    if strategy is Strategy.RING_ALL:
        return sorted(tier, key=lambda a: a.agent_id)
    if strategy is Strategy.LONGEST_IDLE:
        return [min(tier, key=lambda a: (_idle_key(a), a.agent_id))]
    if strategy is Strategy.FEWEST_CALLS:
        return [min(tier, key=lambda a: (answered_today.get(a.agent_id, 0), _idle_key(a),
                                          a.agent_id))]
    ordered = sorted(tier, key=lambda a: (_position(config, a), a.agent_id))
    if strategy is Strategy.LINEAR:
        return [ordered[0]]
    if strategy is Strategy.ROUND_ROBIN:
        if last_offered is None:
            return [ordered[0]]
        # The member after the one offered last, in member order, wrapping round. The last one
        # may have left the queue or be busy, so compare by order, not by identity.
        for agent in ordered:
            if (_position(config, agent), agent.agent_id) > last_offered:
                return [agent]
        return [ordered[0]]
    return [rng.choice(ordered)]


def _idle_key(agent: Agent) -> datetime:
    assert agent.idle_since is not None, "an available agent always has idle_since"
    return agent.idle_since


def _position(config: QueueConfig, agent: Agent) -> int:
    member = agent.profile.membership(config.name)
    return member.position if member is not None else 0


def member_key(queue: str, agent: Agent) -> tuple[int, str]:
    """Round robin's memory: the last offered agent's place in member order."""
    member = agent.profile.membership(queue)
    return (member.position if member is not None else 0, agent.agent_id)
