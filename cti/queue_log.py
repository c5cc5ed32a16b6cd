"""ckm's ACD in Asterisk's `queue_log` format, for the reporting tools that read app_queue's.

One line per fact, pipe-delimited as app_queue writes it to /var/log/asterisk/queue_log:

    epoch|callid|queuename|agent|event|data1|data2|...

`callid` is the caller's channel id (ckm's call id), "CTI" for ADDMEMBER / REMOVEMEMBER (where
app_queue writes "CLI" or "MANAGER"); `agent` is the ckm agent id (app_queue's member name; for
ADDMEMBER / REMOVEMEMBER app_queue writes the member's interface, ckm keeps the agent id so an
analyser sees one agent throughout); "NONE" where there is none. The events and their data, as
app_queue writes them:

    ENTERQUEUE        url|callerid|position
    CONNECT           holdtime|agent channel id|ringtime
    COMPLETECALLER    holdtime|calltime|origposition         (the caller hung up)
    COMPLETEAGENT     holdtime|calltime|origposition         (the agent hung up)
    ABANDON           position|origposition|waittime
    RINGNOANSWER      ringtime in ms                         (an offer timed out or declined)
    RINGCANCELED      ringtime in ms                         (the caller hung up while it rang)
    EXITWITHTIMEOUT   position|origposition|waittime         (overflow; a callback given up)
    EXITEMPTY         position|origposition|waittime         (no agents left for a waiting call)
    JOINEMPTY / FULL  position|origposition|waittime         (refused on joining)
    TRANSFER          target|kind|holdtime|calltime|origposition          (blind)
    ATTENDEDTRANSFER  BRIDGE|target|holdtime|calltime|origposition        (attended)
    ADDMEMBER         "" or PAUSED                           (login, per queue)
    REMOVEMEMBER      (empty)                                (logout, per queue)
    PAUSE / UNPAUSE   reason                                 (per queue)

Times are whole seconds as app_queue counts them. `QueueLogLines` is pure: notices in, lines
out; it keeps what a line needs and a notice does not carry (when the caller joined, their
first position, when the phone started ringing). What only the running center knows (the
position the ACD gave, an agent's queues, the agent leg's channel id) comes from a `Lookup`.
`QueueLogWriter` appends the lines to a file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cti import notices as nt

log = logging.getLogger(__name__)

NONE = "NONE"
# app_queue puts where a member was added or removed in the callid field of ADDMEMBER and
# REMOVEMEMBER ("CLI", "MANAGER", or the channel of AddQueueMember()); ckm's agents join and
# leave through the CTI hub (the desktop, or a supervisor's forced logout).
SOURCE = "CTI"


class Lookup(Protocol):
    def position(self, call_id: str) -> int | None: ...

    def queue_of(self, call_id: str) -> str | None: ...

    def queues_of(self, agent: str) -> tuple[str, ...]: ...

    def agent_channel(self, call_id: str, agent: str) -> str: ...


class NoLookup:
    def position(self, call_id: str) -> int | None:
        return None

    def queue_of(self, call_id: str) -> str | None:
        return None

    def queues_of(self, agent: str) -> tuple[str, ...]:
        return ()

    def agent_channel(self, call_id: str, agent: str) -> str:
        return ""


@dataclass
class _Waiting:
    queue: str
    joined_at: datetime
    origpos: int


@dataclass
class _Connected:
    queue: str
    agent: str
    holdtime: int
    origpos: int
    connected_at: datetime
    transferred: bool = False


def line(at: datetime, callid: str, queue: str, agent: str, event: str,
         *data: object) -> str:
    fields = [str(int(at.timestamp())), callid or NONE, queue or NONE, agent or NONE, event]
    fields.extend(_clean(str(d)) for d in (data or ("",)))
    return "|".join(fields)


def _clean(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ").replace("\r", " ")


def _secs(seconds: float) -> int:
    return max(0, int(seconds))


class QueueLogLines:
    def __init__(self, lookup: Lookup | None = None) -> None:
        self.lookup: Lookup = lookup if lookup is not None else NoLookup()
        self.waiting: dict[str, _Waiting] = {}
        self.order: dict[str, list[str]] = {}  # queue -> waiting call ids, front first
        self.offers: dict[tuple[str, str], datetime] = {}  # (call, agent) -> ringing since
        self.connected: dict[str, _Connected] = {}
        self.agents: dict[str, tuple[str, tuple[str, ...]]] = {}  # agent -> (state, queues)

    def adopt(self, acd: Any) -> None:
        """Start from the ACD as it is (restored from a snapshot): who is logged in, who waits
        where, who talks, so the next notices add to the log and repeat nothing."""
        for agent in acd.agents.values():
            if agent.status.value != "offline":
                self.agents[agent.agent_id] = (
                    agent.status.value, tuple(m.queue for m in agent.profile.memberships))
        for queue, line_up in acd.order.items():
            for pos, (_, call_id) in enumerate(line_up, 1):
                entry = acd.entries[call_id]
                self.order.setdefault(queue, []).append(call_id)
                self.waiting[call_id] = _Waiting(queue, entry.joined_at, pos)
        for call in acd.calls.values():
            self.connected[call.call_id] = _Connected(call.queue, call.agent, 0, 1,
                                                      call.connected_at)

    # --- positions -----------------------------------------------------------------------

    def _join(self, call_id: str, queue: str, at: datetime) -> int:
        line_up = self.order.setdefault(queue, [])
        pos = self.lookup.position(call_id) or len(line_up) + 1
        pos = max(1, min(pos, len(line_up) + 1))
        line_up.insert(pos - 1, call_id)
        self.waiting[call_id] = _Waiting(queue, at, pos)
        return pos

    def _leave(self, call_id: str) -> tuple[_Waiting, int] | None:
        w = self.waiting.pop(call_id, None)
        if w is None:
            return None
        line_up = self.order.get(w.queue, [])
        pos = line_up.index(call_id) + 1 if call_id in line_up else 1
        if call_id in line_up:
            line_up.remove(call_id)
        return w, pos

    # --- notices → lines -------------------------------------------------------------------

    def lines(self, n: nt.Notice) -> list[str]:
        if isinstance(n, nt.CallQueued):
            w = self.waiting.get(n.call_id)
            if w is not None and w.queue == n.queue:
                return []  # a waiting caller asked to be called back: same place in line
            pos = self._join(n.call_id, n.queue, n.at)
            return [line(n.at, n.call_id, n.queue, NONE, "ENTERQUEUE", "", n.caller.number,
                         pos)]
        if isinstance(n, nt.CallOffered):
            if n.call_id not in self.waiting:  # e.g. restored from a snapshot
                self.waiting[n.call_id] = _Waiting(n.queue, n.at, 1)
            self.offers[(n.call_id, n.agent)] = n.at
            return []
        if isinstance(n, nt.OfferWithdrawn):
            since = self.offers.pop((n.call_id, n.agent), None)
            w = self.waiting.get(n.call_id)
            if since is None or w is None or n.reason == "answered_elsewhere":
                return []
            ms = max(0, int((n.at - since).total_seconds() * 1000))
            event = "RINGCANCELED" if n.reason == "caller_gone" else "RINGNOANSWER"
            return [line(n.at, n.call_id, w.queue, n.agent, event, ms)]
        if isinstance(n, nt.CallConnected):
            return self._connected(n)
        if isinstance(n, nt.CallTransferred):
            c = self.connected.get(n.call_id)
            if c is None:
                return []
            c.transferred = True
            calltime = _secs((n.at - c.connected_at).total_seconds())
            if n.attended:
                return [line(n.at, n.call_id, c.queue, c.agent, "ATTENDEDTRANSFER", "BRIDGE",
                             f"{n.kind}:{n.target}", c.holdtime, calltime, c.origpos)]
            return [line(n.at, n.call_id, c.queue, c.agent, "TRANSFER", n.target, n.kind,
                         c.holdtime, calltime, c.origpos)]
        if isinstance(n, nt.CallEnded):
            c = self.connected.pop(n.call_id, None)
            if n.by == "transfer" or (c is not None and c.transferred):
                return []
            holdtime, origpos = (c.holdtime, c.origpos) if c is not None else (0, 1)
            event = "COMPLETEAGENT" if n.by == "agent" else "COMPLETECALLER"
            return [line(n.at, n.call_id, n.queue, n.agent, event, holdtime,
                         _secs(n.talk_s), origpos)]
        if isinstance(n, nt.CallLeftQueue):
            return self._left(n)
        if isinstance(n, nt.AgentStateChanged):
            return self._agent(n)
        return []

    def _connected(self, n: nt.CallConnected) -> list[str]:
        left = self._leave(n.call_id)
        since = self.offers.pop((n.call_id, n.agent), None)
        for key in [k for k in self.offers if k[0] == n.call_id]:
            del self.offers[key]
        if left is None and n.transferred:
            # Handed to a colleague in a consultation: app_queue logs only the transfer.
            prev = self.connected.get(n.call_id)
            if prev is not None:
                self.connected[n.call_id] = _Connected(prev.queue, n.agent, prev.holdtime,
                                                       prev.origpos, n.at)
            return []
        origpos = left[0].origpos if left is not None else 1
        holdtime = _secs(n.waited_s)
        ringtime = _secs((n.at - since).total_seconds()) if since is not None else 0
        self.connected[n.call_id] = _Connected(n.queue, n.agent, holdtime, origpos, n.at)
        channel = self.lookup.agent_channel(n.call_id, n.agent)
        return [line(n.at, n.call_id, n.queue, n.agent, "CONNECT", holdtime, channel,
                     ringtime)]

    def _left(self, n: nt.CallLeftQueue) -> list[str]:
        left = self._leave(n.call_id)
        for key in [k for k in self.offers if k[0] == n.call_id]:
            del self.offers[key]
        wait = _secs(n.waited_s)
        if left is None:
            # Refused on joining (never in line): app_queue's JOINEMPTY / FULL.
            if n.reason in ("full", "no_agents"):
                event = "FULL" if n.reason == "full" else "JOINEMPTY"
                return [line(n.at, n.call_id, n.queue, NONE, event, 1, 1, wait)]
            return []
        w, pos = left
        if n.reason in ("abandoned", "abandoned_after_transfer"):
            event = "ABANDON"
        elif n.reason == "no_agents":
            event = "EXITEMPTY"
        elif n.reason == "full":
            event = "FULL"
        else:  # overflow, callback_failed
            event = "EXITWITHTIMEOUT"
        return [line(n.at, n.call_id, w.queue, NONE, event, pos, w.origpos, wait)]

    def _agent(self, n: nt.AgentStateChanged) -> list[str]:
        before, queues = self.agents.get(n.agent, ("offline", ()))
        out: list[str] = []
        if before == "offline" and n.state != "offline":
            queues = self.lookup.queues_of(n.agent)
            added = "PAUSED" if n.state == "paused" else ""  # as app_queue adds a paused member
            out += [line(n.at, SOURCE, q, n.agent, "ADDMEMBER", added) for q in queues]
        if n.state == "paused" and before != "paused":
            out += [line(n.at, NONE, q, n.agent, "PAUSE", n.reason) for q in queues]
        elif before == "paused" and n.state != "paused":
            out += [line(n.at, NONE, q, n.agent, "UNPAUSE", "") for q in queues]
        if n.state == "offline" and before != "offline":
            out += [line(n.at, SOURCE, q, n.agent, "REMOVEMEMBER", "") for q in queues]
            self.agents.pop(n.agent, None)
            return out
        self.agents[n.agent] = (n.state, queues)
        return out


class QueueLogWriter:
    """Appends the lines of every notice to `path` (one write per notice, flushed at once:
    analysers tail the file)."""

    def __init__(self, path: Path, lookup: Lookup | None = None) -> None:
        self.path = path
        self.lines = QueueLogLines(lookup)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        self._failed = False

    def __call__(self, notice: nt.Notice) -> None:
        out = self.lines.lines(notice)
        if not out or self._fh.closed:
            return
        try:
            self._fh.write("".join(f"{text}\n" for text in out))
            self._fh.flush()
        except OSError:
            if not self._failed:
                log.exception("queue_log %s: write failed", self.path)
            self._failed = True

    def close(self) -> None:
        self._fh.close()


class SwitchboardLookup:
    """What the running center knows: the ACD's positions and memberships (through the
    switchboard, whose ACD is replaced when a snapshot is restored) and, from `channel`, the
    agent leg's channel id the pbx adapter gave the call."""

    def __init__(self, board: Any, channel: Callable[[str, str], str] | None = None) -> None:
        self.board = board
        self.channel = channel

    def position(self, call_id: str) -> int | None:
        acd = self.board.acd
        return int(acd.position(call_id)) if call_id in acd.entries else None

    def queue_of(self, call_id: str) -> str | None:
        entry = self.board.acd.entries.get(call_id)
        return None if entry is None else str(entry.queue)

    def queues_of(self, agent: str) -> tuple[str, ...]:
        found = self.board.acd.agents.get(agent)
        if found is None:
            return ()
        return tuple(m.queue for m in found.profile.memberships)

    def agent_channel(self, call_id: str, agent: str) -> str:
        return self.channel(call_id, agent) if self.channel is not None else ""
