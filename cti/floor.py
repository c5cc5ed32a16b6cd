"""The floor: the state the ACD keeps (queues, agents, waiting entries, connected calls) and
the small operations every part of the dispatcher shares.

Rules: only the ACD's modules (`acd`, `call_control`, `agent_desk`) change this state, and
only through these helpers where one exists (`_set_agent` keeps the history and the
available-agent index, `_insert`/`_remove` keep each queue's order). Nothing here does I/O.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cti import commands as cmd
from cti import events as ev
from cti import notices as nt
from cti.agent import Agent, AgentStatus
from cti.config import CallContext, Caller, QueueConfig
from cti.queue import QueueEntry

WARSAW = ZoneInfo("Europe/Warsaw")
HISTORY_LIMIT = 5000  # per agent and day; crm_core keeps the durable history from the notices
TRANSFER_PRIORITY_BOOST = 1000  # a caller transferred to a busy colleague's queue goes first


class AcdError(ValueError):
    """An event the current state does not allow; the state is unchanged."""


@dataclass(frozen=True)
class Step:
    commands: tuple[cmd.Command, ...] = ()
    notices: tuple[nt.Notice, ...] = ()


@dataclass(frozen=True)
class Consult:
    kind: ev.TargetKind
    target: str  # agent id or external number
    answered: bool = False
    deadline: datetime | None = None


@dataclass(frozen=True)
class ActiveCall:
    call_id: str
    queue: str
    agent: str
    caller: Caller
    context: CallContext
    connected_at: datetime
    callback: bool = False
    held: bool = False
    consult: Consult | None = None
    priority: int = 0


def bridge_name(queue: str) -> str:
    return f"ckm-queue-{queue}"


class Floor:
    def __init__(self, *, seed: int = 0, tz: ZoneInfo = WARSAW) -> None:
        self.queues: dict[str, QueueConfig] = {}
        self.agents: dict[str, Agent] = {}
        self.available: set[str] = set()  # index of agents in AVAILABLE, kept by _set_agent
        self.entries: dict[str, QueueEntry] = {}
        self.calls: dict[str, ActiveCall] = {}
        self.order: dict[str, list[tuple[tuple[int, int], str]]] = {}
        self.rr_memory: dict[str, tuple[int, str]] = {}
        self.answered_today: dict[str, dict[str, int]] = {}
        self.handle_s: dict[str, float] = {}  # moving average of talk + wrap-up, per queue
        self.history: dict[str, list[nt.AgentStateChanged]] = {}
        self.wrapup_queue: dict[str, tuple[str, str]] = {}  # agent -> (call_id, queue)
        self.seq = 0
        self.offer_seq = 0
        self.day: str = ""
        self.now: datetime | None = None
        self.tz = tz
        self.seed = seed
        self.rng = random.Random(seed)
        self._at: datetime | None = None
        self._day_bounds: tuple[datetime, datetime] | None = None
        self._cmds: list[cmd.Command] = []
        self._notes: list[nt.Notice] = []

    def position(self, call_id: str) -> int:
        entry = self.entries[call_id]
        for i, (_, cid) in enumerate(self.order[entry.queue], 1):
            if cid == call_id:
                return i
        raise AssertionError(f"{call_id} missing from queue order")  # pragma: no cover

    def staffed(self, queue: str) -> int:
        config = self.queues[queue]
        return sum(1 for a in self.agents.values() if self._counts_as_staff(a, config))

    def _configure(self, config: QueueConfig) -> None:
        self.queues[config.name] = config
        self.order.setdefault(config.name, [])
        self.answered_today.setdefault(config.name, {})

    @staticmethod
    def _first_announce(config: QueueConfig, at: datetime) -> datetime | None:
        if config.announce_every_s is None:
            return None
        return at + timedelta(seconds=config.announce_every_s)

    def _reject(self, call_id: str, queue: str, reason: str, at: datetime) -> None:
        self._cmds.append(cmd.RejectFromQueue(call_id, queue, reason))
        self._notes.append(nt.CallLeftQueue(at, call_id, queue, reason, 0.0, False))

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _idle_target(agent: Agent) -> AgentStatus:
        return AgentStatus.PAUSED if agent.pending_pause is not None else AgentStatus.AVAILABLE

    @staticmethod
    def _counts_as_staff(agent: Agent, config: QueueConfig) -> bool:
        if agent.status is AgentStatus.OFFLINE:
            return False
        if agent.status is AgentStatus.PAUSED and config.paused_counts_as_empty:
            return False
        return agent.profile.membership(config.name) is not None

    def _set_agent(self, agent: Agent, *, reason: str | None = None) -> None:
        self.agents[agent.agent_id] = agent
        if agent.status is AgentStatus.AVAILABLE:
            self.available.add(agent.agent_id)
        else:
            self.available.discard(agent.agent_id)
        assert self._at is not None
        note = nt.AgentStateChanged(self._at, agent.agent_id, agent.status.value,
                                    agent.reason if reason is None else reason, agent.call_id)
        self._notes.append(note)
        history = self.history.setdefault(agent.agent_id, [])
        history.append(note)
        if len(history) > HISTORY_LIMIT:
            del history[: len(history) - HISTORY_LIMIT]

    def _queue(self, name: str) -> QueueConfig:
        config = self.queues.get(name)
        if config is None:
            raise AcdError(f"unknown queue {name!r} (known: {', '.join(sorted(self.queues))})")
        return config

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise AcdError(f"agent {agent_id} has never logged in")
        return agent

    def _agent_call(self, call_id: str, agent_id: str) -> ActiveCall:
        call = self.calls.get(call_id)
        if call is None:
            raise AcdError(f"call {call_id} is not connected")
        if call.agent != agent_id:
            raise AcdError(f"call {call_id} belongs to agent {call.agent}, not {agent_id}")
        return call

    @staticmethod
    def _waited(entry: QueueEntry, at: datetime) -> float:
        return max(0.0, (at - entry.joined_at).total_seconds())

    def _insert(self, entry: QueueEntry) -> None:
        self.entries[entry.call_id] = entry
        order = self.order[entry.queue]
        item = (entry.sort_key, entry.call_id)
        # Entries mostly arrive at the back: append unless the key sorts earlier (priority).
        if not order or order[-1] < item:
            order.append(item)
        else:
            bisect.insort(order, item)

    def _put(self, entry: QueueEntry) -> None:
        self.entries[entry.call_id] = entry

    def _remove(self, entry: QueueEntry) -> None:
        del self.entries[entry.call_id]
        self.order[entry.queue].remove((entry.sort_key, entry.call_id))

    def waiting(self, queue: str) -> Iterator[QueueEntry]:
        for _, call_id in self.order[queue]:
            yield self.entries[call_id]


def valid_number(number: str) -> bool:
    digits = number[1:] if number.startswith("+") else number
    return digits.isdigit() and 3 <= len(digits) <= 15
