"""A clock-driven driver for the pure ACD: short-hand events and readers for the commands.

Used by the tests, the benchmark and scripted drills; it owns a simulated clock, never a real one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti import commands as cmd
from cti import events as ev
from cti.acd import Acd, Step
from cti.config import AgentProfile, Caller, Membership, QueueConfig, SkillRequirement

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class Drill:
    def __init__(self, *queues: QueueConfig, seed: int = 0) -> None:
        self.acd = Acd(queues, seed=seed)
        self.t = T0
        self.steps: list[Step] = []

    def feed(self, event: ev.AcdEvent) -> Step:
        step = self.acd.handle(event)
        self.steps.append(step)
        return step

    def advance(self, seconds: float) -> Step:
        self.t += timedelta(seconds=seconds)
        return self.feed(ev.Tick(self.t))

    def login(self, agent: str, *queues: str | tuple[str, int],
              skills: dict[str, int] | None = None, position: int = 0,
              paused: str | None = None) -> Step:
        members = []
        for q in queues:
            name, penalty = (q, 0) if isinstance(q, str) else q
            members.append(Membership(name, penalty=penalty, position=position))
        profile = AgentProfile(agent, agent.title(), skills or {}, tuple(members))
        return self.feed(ev.AgentLoggedIn(self.t, profile, f"PJSIP/{agent}", paused))

    def call(self, call_id: str, queue: str, *, priority: int = 0,
             skills: tuple[SkillRequirement, ...] = (), number: str = "") -> Step:
        digits = sum(ord(ch) for ch in call_id) % 10_000_000
        caller = Caller(number or f"+4822{digits:07d}", "Jan Kowalski")
        return self.feed(ev.CallEnqueued(self.t, call_id, queue, caller, priority, skills))

    def answer(self, call_id: str, agent: str) -> Step:
        return self.feed(ev.AgentAnswered(self.t, call_id, agent))

    def hangup(self, call_id: str) -> Step:
        return self.feed(ev.CallerHungUp(self.t, call_id))

    def status(self, agent: str) -> str:
        return self.acd.agents[agent].status.value


def rings(step: Step) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent) for c in step.commands if isinstance(c, cmd.RingAgent)]


def of(step: Step, kind: type[cmd.Command]) -> list[cmd.Command]:
    return [c for c in step.commands if isinstance(c, kind)]
