"""Snapshot and restore of the ACD, as JSON, so callers keep their place across a restart.

Rules: `dump` is a pure function of the ACD; `restore` rebuilds one from that JSON and the queue
configuration (which lives in the CRM database, so it is not in the snapshot; a queue removed
meanwhile is kept with default rules for whoever is still in it). What cannot be
trusted after a restart is settled conservatively: a ring in progress is forgotten (the entry
waits again at its place and the agent is available; the pbx adapter hangs up leftover agent
legs it finds when it re-adopts channels), and a callback being dialled goes back to waiting.
Connected calls are kept; the adapter reports `CallerHungUp` for any that did not survive.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cti.acd import Acd, ActiveCall, Consult
from cti.agent import Agent, AgentStatus
from cti.config import (
    AgentProfile,
    CallContext,
    Caller,
    Membership,
    QueueConfig,
    SkillRequirement,
)
from cti.events import TargetKind
from cti.queue import EntryPhase, QueueEntry

VERSION = 1
log = logging.getLogger(__name__)


class SnapshotError(ValueError):
    """A snapshot that cannot be restored; the message says what is wrong with it."""


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _pt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _caller(c: Caller) -> dict[str, str]:
    return {"number": c.number, "name": c.name}


def _context(c: CallContext) -> dict[str, Any]:
    return {"ivr_path": list(c.ivr_path), "category": c.category, "transcript": c.transcript}


def _entry(e: QueueEntry) -> dict[str, Any]:
    return {
        "call_id": e.call_id, "queue": e.queue, "caller": _caller(e.caller),
        "priority": e.priority, "seq": e.seq, "joined_at": _t(e.joined_at),
        "skills": [[s.skill, s.min_level] for s in e.skills], "context": _context(e.context),
        "callback": e.callback, "attempts": e.attempts, "not_before": _t(e.not_before),
        "only_agent": e.only_agent, "next_announce_at": _t(e.next_announce_at),
        "last_position": e.last_position, "last_wait_s": e.last_wait_s,
        "overflow_done": e.overflow_done, "transferred": e.transferred,
    }


def _agent(a: Agent) -> dict[str, Any]:
    p = a.profile
    return {
        "agent_id": p.agent_id, "name": p.name, "skills": dict(p.skills),
        "memberships": [[m.queue, m.penalty, m.position] for m in p.memberships],
        "status": a.status.value, "since": _t(a.since), "endpoint": a.endpoint,
        "reason": a.reason, "call_id": a.call_id, "idle_since": _t(a.idle_since),
        "unanswered": a.unanswered, "pending_pause": a.pending_pause,
        "wrapup_until": _t(a.wrapup_until),
    }


def _call(c: ActiveCall) -> dict[str, Any]:
    return {
        "call_id": c.call_id, "queue": c.queue, "agent": c.agent, "caller": _caller(c.caller),
        "context": _context(c.context), "connected_at": _t(c.connected_at),
        "callback": c.callback, "held": c.held, "priority": c.priority,
        "consult": None if c.consult is None else {
            "kind": c.consult.kind.value, "target": c.consult.target,
            "answered": c.consult.answered, "deadline": _t(c.consult.deadline)},
    }


def dump(acd: Acd) -> dict[str, Any]:
    return {
        "version": VERSION,
        "now": _t(acd.now),
        "seq": acd.seq,
        "offer_seq": acd.offer_seq,
        "day": acd.day,
        "rr_memory": {q: list(k) for q, k in acd.rr_memory.items()},
        "answered_today": acd.answered_today,
        "handle_s": acd.handle_s,
        "wrapup_queue": {a: list(v) for a, v in acd.wrapup_queue.items()},
        "entries": [_entry(acd.entries[cid]) for q in acd.order.values() for _, cid in q],
        "agents": [_agent(a) for a in acd.agents.values()],
        "calls": [_call(c) for c in acd.calls.values()],
    }


def dumps(acd: Acd) -> str:
    return json.dumps(dump(acd), ensure_ascii=False, separators=(",", ":"))


def restore(data: dict[str, Any], queues: Iterable[QueueConfig], *, seed: int = 0) -> Acd:
    if data.get("version") != VERSION:
        raise SnapshotError(f"snapshot version: expected {VERSION}, got {data.get('version')!r}")
    acd = Acd(queues, seed=seed)
    try:
        _fill(acd, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"snapshot: {type(exc).__name__}: {exc}") from None
    return acd


def loads(text: str, queues: Iterable[QueueConfig], *, seed: int = 0) -> Acd:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SnapshotError("snapshot: expected a JSON object")
    return restore(data, queues, seed=seed)


def _fill(acd: Acd, data: dict[str, Any]) -> None:
    # A queue switched off in the CRM while callers waited in it: keep serving them (with
    # default rules, by its former members) rather than lose their places.
    referenced = {raw["queue"] for raw in [*data["entries"], *data["calls"]]}
    referenced |= {m[0] for raw in data["agents"] for m in raw["memberships"]}
    for name in sorted(referenced - set(acd.queues)):
        log.warning("ACD snapshot: queue %r is no longer configured; kept with default rules "
                    "for the callers and agents still in it", name)
        acd._configure(QueueConfig(str(name)))
    acd.now = _pt(data["now"])
    acd.seq = int(data["seq"])
    acd.offer_seq = int(data.get("offer_seq", 0))
    acd.day = str(data["day"])
    acd.rng = random.Random(acd.seed + acd.seq)
    acd.rr_memory = {q: (int(k[0]), str(k[1])) for q, k in data["rr_memory"].items()}
    for q, counts in data["answered_today"].items():
        acd.answered_today.setdefault(q, {}).update({a: int(n) for a, n in counts.items()})
    acd.handle_s = {q: float(v) for q, v in data["handle_s"].items()}
    acd.wrapup_queue = {a: (str(v[0]), str(v[1])) for a, v in data["wrapup_queue"].items()}
    dialing_agents: set[str] = set()
    for raw in data["agents"]:
        profile = AgentProfile(
            raw["agent_id"], raw["name"], {k: int(v) for k, v in raw["skills"].items()},
            tuple(Membership(m[0], int(m[1]), int(m[2])) for m in raw["memberships"]))
        agent = Agent(
            profile, AgentStatus(raw["status"]), _pt(raw["since"]), raw["endpoint"],
            raw["reason"], raw["call_id"], _pt(raw["idle_since"]), int(raw["unanswered"]),
            raw["pending_pause"], _pt(raw["wrapup_until"]))
        acd.agents[profile.agent_id] = agent
    for raw in data["calls"]:
        consult = raw["consult"]
        acd.calls[raw["call_id"]] = ActiveCall(
            raw["call_id"], raw["queue"], raw["agent"], Caller(**raw["caller"]),
            _ctx(raw["context"]), _need(raw["connected_at"]), bool(raw["callback"]),
            bool(raw["held"]),
            None if consult is None else Consult(
                TargetKind(consult["kind"]), consult["target"], bool(consult["answered"]),
                _pt(consult["deadline"])),
            int(raw["priority"]))
    for raw in data["entries"]:
        entry = QueueEntry(
            call_id=raw["call_id"], queue=raw["queue"], caller=Caller(**raw["caller"]),
            priority=int(raw["priority"]), seq=int(raw["seq"]),
            joined_at=_need(raw["joined_at"]),
            skills=tuple(SkillRequirement(s, int(n)) for s, n in raw["skills"]),
            context=_ctx(raw["context"]), callback=bool(raw["callback"]),
            attempts=int(raw["attempts"]), not_before=_pt(raw["not_before"]),
            only_agent=raw["only_agent"], phase=EntryPhase.WAITING,
            next_announce_at=_pt(raw["next_announce_at"]), last_position=raw["last_position"],
            last_wait_s=raw["last_wait_s"], overflow_done=bool(raw["overflow_done"]),
            transferred=bool(raw.get("transferred", False)))
        acd.entries[entry.call_id] = entry
        acd.order[entry.queue].append((entry.sort_key, entry.call_id))
        dialing_agents.update(a.agent_id for a in acd.agents.values() if a.call_id == entry.call_id)
    for q in acd.order.values():
        q.sort()
    acd.available = {a.agent_id for a in acd.agents.values()
                     if a.status is AgentStatus.AVAILABLE}
    # Rings and callback dials in flight are not trusted after a restart (see module rules).
    for agent_id in dialing_agents:
        agent = acd.agents[agent_id]
        if agent.status in (AgentStatus.RESERVED, AgentStatus.ON_CALL):
            acd.agents[agent_id] = Agent(
                agent.profile, AgentStatus.AVAILABLE, agent.since, agent.endpoint, "", None,
                agent.idle_since or agent.since, agent.unanswered, agent.pending_pause, None)
            acd.available.add(agent_id)


def _ctx(raw: dict[str, Any]) -> CallContext:
    return CallContext(tuple(raw["ivr_path"]), raw["category"], raw["transcript"])


def _need(value: Any) -> datetime:
    parsed = _pt(value)
    if parsed is None:
        raise ValueError("expected a timestamp, got null")
    return parsed
