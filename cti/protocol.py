"""The CTI websocket's message schema, parsed at the edge.

Rules: every frame is one JSON object with a "type". Client frames are parsed into frozen
dataclasses by `parse`, which raises `ProtocolError` naming what was expected and what arrived;
the hub answers that with an error frame and keeps the connection. Server frames are built by
the functions at the bottom, so their shapes live in one place.

Client → server (``id`` is optional and echoed in the reply):
  {"type": "auth", "token": str}                       only when the handshake carried none
  {"type": "ping"}
  {"type": "login"}                                    log in with the endpoint from the CRM
  {"type": "set_state", "state": "available"|"paused"|"offline", "reason"?: str}
  {"type": "hold"|"unhold"|"hangup", "call_id": str}
  {"type": "transfer", "call_id": str, "kind": "queue"|"agent"|"external", "target": str,
   "attended"?: bool}
  {"type": "complete_transfer"|"cancel_transfer", "call_id": str}
  {"type": "complete_wrapup", "disposition": str, "notes"?: str}
  {"type": "schedule_callback", "queue": str, "number": str, "name"?: str,
   "not_before"?: ISO-8601 with offset}
  supervisors: {"type": "snoop", "call_id": str, "mode": "listen"|"whisper"|"barge"}
               {"type": "force_pause", "agent": str, "reason": str}
               {"type": "force_logout", "agent": str}
               {"type": "extend_wrapup", "agent": str, "seconds": int}

Server → client:
  {"type": "snapshot", "seq": int, "user": str, "role": str, "data": {...}}   first, always
  {"type": "event", "seq": int, "event": str, "data": {...}}                 deltas, seq rising
  {"type": "ack", "id": str|null} | {"type": "refused", "id": str|null, "reason": str}
  {"type": "error", "id": str|null, "reason": str} | {"type": "pong", "id": str|null}

Snapshot data: {"agent": {agent, state, reason, call_id, since, pending_pause} | null,
  "calls": [{call_id, queue, agent, caller{number,name}, held, connected_at, consult}],
  "ringing": [entry view with screen_pop]}; supervisors also get "figures" (as the event) and
  "waiting": [{call_id, queue, caller, priority, callback, phase, joined_at, offered_to,
  screen_pop}] in queue order.

Event names and data (every "at" is ISO-8601 UTC); who receives them (C = the consultant
concerned, S = supervisors and admins):
  agent_state        {agent, state, reason, call_id, at}                               C S
                     state: offline|available|reserved|on_call|wrap_up|paused
  call_queued        {call_id, queue, caller{number,name}, priority, callback, at}       S
  call_offered       {call_id, queue, agent, waited_s, callback, at, screen_pop{
                      caller_number, caller_name, ivr_path[], category, transcript,
                      history (CRM: resident, interactions, open_cases) | null,
                      history_pending}}                                                C S
  screen_pop_history {call_id, history}       follows a pop sent with history_pending   C
  offer_withdrawn    {call_id, agent, reason: timeout|declined|caller_gone|
                      answered_elsewhere|logout, at}                                   C S
  call_answered      {call_id, queue, agent, waited_s, callback, transferred, at}      C S
  call_held          {call_id, agent, held, at}                                        C S
  call_transferred   {call_id, agent, kind, target, attended, at}      (and target)    C S
  call_ended         {call_id, queue, agent, by: caller|agent|transfer, talk_s, at}    C S
  call_left_queue    {call_id, queue, reason, waited_s, callback, at}                    S
  wrap_up_done       {agent, call_id, disposition, at}                                 C S
  figures            {at, queues[{queue, waiting, longest_wait_s, callbacks_pending,
                      answered, abandoned, service_level, service_level_target,
                      service_level_s, asa_s, abandoned_pct, agents_logged_in,
                      agents_available}], agents[{agent, name, state, reason, in_state_s,
                      call_id}]}                                   every second          S
  queue_figures      {queue, waiting, longest_wait_s, callbacks_pending}  every second,
                     to the logged-in members of that queue (also "my_queues" in
                     their snapshot)                                                   C
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cti.events import SnoopMode, TargetKind


class ProtocolError(ValueError):
    """A frame that does not fit the schema; the message says what was expected."""

    def __init__(self, reason: str, msg_id: str | None = None) -> None:
        super().__init__(reason)
        self.msg_id = msg_id


@dataclass(frozen=True)
class ClientMessage:
    id: str | None


@dataclass(frozen=True)
class Auth(ClientMessage):
    token: str


@dataclass(frozen=True)
class Ping(ClientMessage):
    pass


@dataclass(frozen=True)
class Login(ClientMessage):
    pass


@dataclass(frozen=True)
class SetState(ClientMessage):
    state: str
    reason: str


@dataclass(frozen=True)
class Hold(ClientMessage):
    call_id: str


@dataclass(frozen=True)
class Unhold(ClientMessage):
    call_id: str


@dataclass(frozen=True)
class Hangup(ClientMessage):
    call_id: str


@dataclass(frozen=True)
class Transfer(ClientMessage):
    call_id: str
    kind: TargetKind
    target: str
    attended: bool


@dataclass(frozen=True)
class CompleteTransfer(ClientMessage):
    call_id: str


@dataclass(frozen=True)
class CancelTransfer(ClientMessage):
    call_id: str


@dataclass(frozen=True)
class CompleteWrapUp(ClientMessage):
    disposition: str
    notes: str


@dataclass(frozen=True)
class ScheduleCallback(ClientMessage):
    queue: str
    number: str
    name: str
    not_before: datetime | None


@dataclass(frozen=True)
class SnoopCall(ClientMessage):
    call_id: str
    mode: SnoopMode


@dataclass(frozen=True)
class ForcePause(ClientMessage):
    agent: str
    reason: str


@dataclass(frozen=True)
class ForceLogout(ClientMessage):
    agent: str


@dataclass(frozen=True)
class ExtendWrapUp(ClientMessage):
    agent: str
    seconds: int


SUPERVISOR_ONLY = (SnoopCall, ForcePause, ForceLogout, ExtendWrapUp)
STATES = ("available", "paused", "offline")
MAX_FRAME = 16_384


class _Fields:
    """Typed access to one frame's fields, with errors that name the field."""

    def __init__(self, kind: str, data: dict[str, Any], msg_id: str | None) -> None:
        self.kind, self.data, self.msg_id = kind, data, msg_id

    def fail(self, reason: str) -> ProtocolError:
        return ProtocolError(f"{self.kind}: {reason}", self.msg_id)

    def text(self, name: str, *, required: bool = True, default: str = "",
             max_len: int = 200) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(f"missing field {name!r} (a string)")
            return default
        if not isinstance(value, str):
            raise self.fail(f"field {name!r}: expected a string, got {type(value).__name__}")
        if required and not value.strip():
            raise self.fail(f"field {name!r}: expected a non-empty string")
        if len(value) > max_len:
            raise self.fail(f"field {name!r}: longer than {max_len} characters")
        return value

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in options:
            raise self.fail(f"field {name!r}: expected one of {', '.join(options)}, "
                            f"got {value!r}")
        return value

    def integer(self, name: str) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"field {name!r}: expected a whole number, got {value!r}")
        return value

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(f"field {name!r}: expected true or false, got {value!r}")
        return value

    def moment(self, name: str) -> datetime | None:
        raw = self.text(name, required=False)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self.fail(f"field {name!r}: expected ISO-8601, got {raw!r}") from None
        if value.tzinfo is None:
            raise self.fail(f"field {name!r}: expected a UTC offset in {raw!r}")
        return value


def parse(frame: str) -> ClientMessage:
    if len(frame) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(frame)} characters; at most {MAX_FRAME}")
    try:
        data = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"expected a JSON object, got invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    raw_id = data.get("id")
    if raw_id is not None and not isinstance(raw_id, str | int):
        raise ProtocolError("field 'id': expected a string or number")
    msg_id = None if raw_id is None else str(raw_id)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("missing field 'type' (a string)", msg_id)
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ProtocolError(f"unknown type {kind!r}; expected one of "
                            f"{', '.join(sorted(_BUILDERS))}", msg_id)
    return builder(_Fields(kind, data, msg_id))


_BUILDERS: dict[str, Callable[[_Fields], ClientMessage]] = {
    "auth": lambda f: Auth(f.msg_id, f.text("token", max_len=4096)),
    "ping": lambda f: Ping(f.msg_id),
    "login": lambda f: Login(f.msg_id),
    "set_state": lambda f: SetState(f.msg_id, f.choice("state", STATES),
                                    f.text("reason", required=False)),
    "hold": lambda f: Hold(f.msg_id, f.text("call_id")),
    "unhold": lambda f: Unhold(f.msg_id, f.text("call_id")),
    "hangup": lambda f: Hangup(f.msg_id, f.text("call_id")),
    "transfer": lambda f: Transfer(
        f.msg_id, f.text("call_id"),
        TargetKind(f.choice("kind", tuple(k.value for k in TargetKind))),
        f.text("target"), f.flag("attended")),
    "complete_transfer": lambda f: CompleteTransfer(f.msg_id, f.text("call_id")),
    "cancel_transfer": lambda f: CancelTransfer(f.msg_id, f.text("call_id")),
    "complete_wrapup": lambda f: CompleteWrapUp(f.msg_id, f.text("disposition"),
                                                f.text("notes", required=False, max_len=4000)),
    "schedule_callback": lambda f: ScheduleCallback(
        f.msg_id, f.text("queue"), f.text("number", max_len=32),
        f.text("name", required=False), f.moment("not_before")),
    "snoop": lambda f: SnoopCall(f.msg_id, f.text("call_id"),
                                 SnoopMode(f.choice("mode", tuple(m.value for m in SnoopMode)))),
    "force_pause": lambda f: ForcePause(f.msg_id, f.text("agent"), f.text("reason")),
    "force_logout": lambda f: ForceLogout(f.msg_id, f.text("agent")),
    "extend_wrapup": lambda f: ExtendWrapUp(f.msg_id, f.text("agent"), f.integer("seconds")),
}


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


def snapshot_frame(seq: int, user: str, role: str, data: dict[str, Any]) -> str:
    return _dump({"type": "snapshot", "seq": seq, "user": user, "role": role, "data": data})


def event_frame(seq: int, event: str, data: dict[str, Any]) -> str:
    return _dump({"type": "event", "seq": seq, "event": event, "data": data})


def ack_frame(msg_id: str | None) -> str:
    return _dump({"type": "ack", "id": msg_id})


def refused_frame(msg_id: str | None, reason: str) -> str:
    return _dump({"type": "refused", "id": msg_id, "reason": reason})


def error_frame(msg_id: str | None, reason: str) -> str:
    return _dump({"type": "error", "id": msg_id, "reason": reason})


def pong_frame(msg_id: str | None) -> str:
    return _dump({"type": "pong", "id": msg_id})
