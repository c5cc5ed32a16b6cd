"""The IVR interpreter: a pure state machine, `step(state, event) -> (state, commands)`.

Rules of this module:
- No I/O, no clock, no randomness. Time comes in on the events (`at`).
- `CallState` is frozen and holds the `Script` object the call started with: publishing a new
  version of a script never changes a call in progress.
- Every wait (prompt, input, lookup) has a `turn`; events for an older turn are stale and are
  ignored (state unchanged, no commands) — telephony races are normal, not errors.
- An event that makes no sense at all (anything before `CallStarted`, a second `CallStarted`)
  raises `IllegalEvent` and leaves the state as it was.
- A caller is never dropped silently: no input or no match after the retries, a lookup that
  fails, a loop of automatic nodes — all lead to the operator queue. 0 in any menu does too.
- Keys always work: 0 pressed anywhere (during the greeting, the 112 notice, a `say` node, a
  lookup) reaches the operator queue; any other key pressed where nothing listens is kept
  (`typed`) and answers the next menu or collect node as if pressed there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ground.holidays import is_holiday
from ivr.asr.grammar import Grammar
from ivr.commands import (
    CollectDigits,
    Enqueue,
    Hangup,
    IvrCommand,
    Listen,
    Lookup,
    OfferCallback,
    Play,
    PromptRef,
    RecordStep,
    StopListening,
    StopPlayback,
)
from ivr.events import (
    CallerHangup,
    CallStarted,
    Digit,
    IvrEvent,
    LookupResult,
    PromptFinished,
    SpeechResult,
    SpeechStarted,
    Timeout,
)
from ivr.model import WEEKDAYS, Condition, Node, Prompt, Script
from ivr.phrases import best_choice

Phase = Literal["new", "playing", "input", "lookup", "closing", "ended"]
MAX_AUTOMATIC_HOPS = 64
MAX_TYPED = 16
_TEMPLATE = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")
_WAIT_COMMANDS = (Play, Listen, CollectDigits, StopPlayback, StopListening)


class IllegalEvent(RuntimeError):
    """An event the interpreter cannot accept in this phase (the state is unchanged)."""


@dataclass(frozen=True)
class CallState:
    script: Script
    call_id: str = ""
    phase: Phase = "new"
    node: str = ""
    language: str = ""
    vars: Mapping[str, str] = field(default_factory=dict)
    turn: int = 0
    retries: int = 0
    playing: bool = False  # a prompt of this turn may still be playing
    digits: str = ""  # digits collected so far by a collect node
    typed: str = ""  # keys pressed where nothing listened, for the next menu (MAX_TYPED)
    now: datetime | None = None
    pending: tuple[IvrCommand, ...] = ()  # run when the closing prompt has finished
    end_reason: str = ""

    @property
    def ended(self) -> bool:
        return self.phase == "ended"

    def snapshot(self) -> dict[str, Any]:
        """What a restarted controller needs to re-adopt the call (store it as channel vars)."""
        return {"script": self.script.name, "version": self.script.version, "node": self.node,
                "language": self.language, "vars": dict(self.vars)}


def new_call(script: Script, call_id: str = "") -> CallState:
    return CallState(script=script, call_id=call_id, language=script.default_language)


def start(script: Script, event: CallStarted) -> tuple[CallState, list[IvrCommand]]:
    """Shorthand for `step(new_call(script, event.call_id), event)`."""
    return step(new_call(script, event.call_id), event)


def resume(script: Script, snapshot: Mapping[str, Any], now: datetime) -> tuple[CallState,
                                                                               list[IvrCommand]]:
    """Re-enter the node a call was in (after a controller restart) with its variables."""
    state = CallState(script=script, call_id=str(snapshot.get("call_id", "")), phase="new",
                      language=str(snapshot.get("language") or script.default_language),
                      vars={str(k): str(v) for k, v in dict(snapshot.get("vars", {})).items()},
                      now=now)
    node = str(snapshot.get("node") or script.start)
    return _enter(state, node if node in script.nodes else script.operator, [])


def step(state: CallState, event: IvrEvent) -> tuple[CallState, list[IvrCommand]]:
    if isinstance(event, CallStarted):
        if state.phase != "new":
            raise IllegalEvent(f"call {state.call_id}: expected no second CallStarted, the call "
                               f"is already at node {state.node!r}")
        language = event.language if event.language in state.script.languages else None
        lang = language or state.script.default_language
        state = dataclasses.replace(
            state, call_id=event.call_id or state.call_id, now=event.at, language=lang,
            vars={"caller.number": event.caller_number, "language": lang, "category": "",
                  "caller.known": "no",
                  "caller.withheld": "no" if _dialable(event.caller_number) else "yes",
                  **state.vars})
        return _enter(state, state.script.start, [])
    if state.phase == "new":
        raise IllegalEvent(f"expected CallStarted first, got {type(event).__name__}")
    if state.phase == "ended":
        return state, []  # late events after the IVR let go of the call
    at = getattr(event, "at", None)
    if at is not None:
        state = dataclasses.replace(state, now=at)
    if isinstance(event, CallerHangup):
        record = _record(state, "none", "caller hung up", None, "", "")
        return dataclasses.replace(state, phase="ended", end_reason="caller_hangup"), [record]
    turn = getattr(event, "turn", None)
    if turn is not None and turn != state.turn:
        return state, []  # stale: answers an earlier wait
    node = state.script.node(state.node)
    if isinstance(event, PromptFinished):
        return _prompt_finished(state, node)
    if state.phase == "playing" and isinstance(event, Digit) and node.barge_in:
        return _type_ahead(state, node, event)
    if state.phase == "input":
        if isinstance(event, SpeechStarted):
            return _barge_in(state, node, [])
        if node.type == "collect":
            return _collect_input(state, node, event)
        return _menu_input(state, node, event)
    if state.phase == "lookup" and isinstance(event, LookupResult):
        return _lookup_done(state, node, event)
    if isinstance(event, Digit):
        return _key_between_menus(state, node, event)
    return state, []


def _key_between_menus(state: CallState, node: Node,
                       event: Digit) -> tuple[CallState, list[IvrCommand]]:
    """A key where nothing listens (the 112 notice, a prompt that may not be skipped, a
    lookup): 0 still reaches a consultant; any other key is kept for the next menu."""
    going_to_queue = any(isinstance(c, Enqueue) for c in state.pending)
    if event.digit == "0" and not going_to_queue and node.id != state.script.operator:
        cmds: list[IvrCommand] = []
        if state.playing:
            cmds.append(StopPlayback(state.turn))
        cmds.append(_record(state, "dtmf", "0", None, "", state.script.operator))
        return _enter(dataclasses.replace(state, playing=False, pending=(), typed=""),
                      state.script.operator, cmds)
    if state.phase == "closing":
        return state, []  # the call is being handed on or ended: nothing is left to answer
    return dataclasses.replace(state, typed=(state.typed + event.digit)[-MAX_TYPED:]), []


def _answer_typed(state: CallState, cmds: list[IvrCommand]) -> tuple[CallState,
                                                                    list[IvrCommand]]:
    """A menu or collect node that has just asked: keys typed before it answer it now (the
    prompt is not waited for; what it would have waited for is dropped)."""
    keys, state = state.typed, dataclasses.replace(state, typed="")
    for index, key in enumerate(keys):
        if state.phase != "input":
            # The keys so far led on to something that does not listen: keep the rest.
            return dataclasses.replace(state, typed=keys[index:]), cmds
        waiting = state.turn
        cmds = [c for c in cmds if not (isinstance(c, _WAIT_COMMANDS) and c.turn == waiting)]
        state, more = step(state, Digit(key, state.now, waiting))
        cmds += [c for c in more if not (isinstance(c, _WAIT_COMMANDS) and c.turn == waiting)]
    return state, cmds


# --- entering nodes


def _enter(state: CallState, node_id: str, cmds: list[IvrCommand],
           hops: int = 0) -> tuple[CallState, list[IvrCommand]]:
    script = state.script
    while True:
        hops += 1
        if hops > MAX_AUTOMATIC_HOPS:
            # A validated script cannot do this; a defensive net so the caller still gets help.
            cmds.append(_record(state, "none", "loop guard", None, "", script.operator))
            node_id = script.operator
            hops = -1_000
        node = script.node(node_id)
        state = dataclasses.replace(state, node=node.id, turn=state.turn + 1, retries=0,
                                    playing=False, digits="")
        if node.type in ("goto", "set", "language", "branch"):
            state, node_id = _automatic(state, node)
            continue
        if node.type in ("say", "emergency"):
            cmds.append(Play(_prompts(state, node, ("prompt",)), node.barge_in, state.turn))
            return dataclasses.replace(state, phase="playing", playing=True), cmds
        if node.type in ("menu", "collect", "callback_offer"):
            state, cmds = _ask(state, node, cmds, ("prompt",))
            return _answer_typed(state, cmds) if state.typed else (state, cmds)
        if node.type == "lookup":
            key = (state.vars.get(node.input_var or "", "") if node.lookup == "case_status"
                   else state.vars.get("caller.number", ""))
            cmds.append(Lookup(str(node.lookup), key, state.turn))
            return dataclasses.replace(state, phase="lookup"), cmds
        final = _final_command(state, node)
        if node.prompt is not None:
            cmds.append(Play(_prompts(state, node, ("prompt",)), False, state.turn))
            return dataclasses.replace(state, phase="closing", playing=True,
                                       pending=(final,)), cmds
        cmds.append(final)
        return _ended(state, node), cmds


def _final_command(state: CallState, node: Node) -> IvrCommand:
    if node.type == "queue":
        category = _fill(node.category, state.vars) if node.category else state.vars.get(
            "category", "")
        return Enqueue(str(node.queue), node.skills, node.priority, category, state.language)
    return Hangup("ivr_hangup")


def _ended(state: CallState, node: Node) -> CallState:
    reason = "enqueued" if node.type == "queue" else "ivr_hangup"
    return dataclasses.replace(state, phase="ended", playing=False, pending=(), end_reason=reason)


def _automatic(state: CallState, node: Node) -> tuple[CallState, str]:
    if node.type == "set":
        new_vars = {**state.vars, **{k: _fill(v, state.vars) for k, v in node.vars.items()}}
        lang = new_vars.get("language", state.language)
        if lang not in state.script.languages:
            lang = state.language
        return dataclasses.replace(state, vars=new_vars, language=lang), str(node.next)
    if node.type == "language":
        lang = str(node.language)
        return (dataclasses.replace(state, language=lang, vars={**state.vars, "language": lang}),
                str(node.next))
    if node.type == "branch":
        for rule in node.rules:
            if _holds(state, rule.when):
                return state, rule.goto
        return state, str(node.else_)
    return state, str(node.next)


def _ask(state: CallState, node: Node, cmds: list[IvrCommand],
         slots: tuple[str, ...]) -> tuple[CallState, list[IvrCommand]]:
    timeout = node.timeout_s or state.script.timeout_s
    cmds.append(Play(_prompts(state, node, slots), node.barge_in, state.turn))
    if node.type == "collect":
        cmds.append(CollectDigits(node.max_digits, node.terminator, timeout, state.turn))
    else:
        phrases = _phrases(state, node)
        if node.speech and phrases:
            cmds.append(Listen(phrases, state.language, timeout, state.turn))
        cmds.append(CollectDigits(1, None, timeout, state.turn))
    return dataclasses.replace(state, phase="input", playing=True), cmds


def _phrases(state: CallState, node: Node) -> tuple[str, ...]:
    # a Grammar is the tuple of phrases that also knows which belong to one choice
    return Grammar(c.phrases.get(state.language, ()) for c in node.choices)


def _prompts(state: CallState, node: Node, slots: tuple[str, ...]) -> tuple[PromptRef, ...]:
    out: list[PromptRef] = []
    for slot in slots:
        prompt: Prompt | None = getattr(node, slot)
        if prompt is None:
            continue
        lang = state.language
        text = "" if prompt.file else _fill(prompt.text_for(lang, state.script.default_language),
                                            state.vars)
        out.append(PromptRef(f"{node.id}.{slot}.{lang}", text, lang, state.script.voice(lang),
                             prompt.file))
    return tuple(out)


def _dialable(number: str) -> bool:
    """A caller id the center can call back (not "anonymous", not empty, not a name)."""
    digits = number[1:] if number.startswith("+") else number
    return digits.isdigit() and 3 <= len(digits) <= 15


def _fill(text: str, variables: Mapping[str, str]) -> str:
    return _TEMPLATE.sub(lambda m: variables.get(m.group(1), ""), text)


# --- waits


def _prompt_finished(state: CallState, node: Node) -> tuple[CallState, list[IvrCommand]]:
    if state.phase == "playing":
        cmds: list[IvrCommand] = [_record(state, "none", "", None, "", str(node.next))]
        return _enter(dataclasses.replace(state, playing=False), str(node.next), cmds)
    if state.phase == "closing":
        return _ended(state, node), list(state.pending)
    return dataclasses.replace(state, playing=False), []


def _type_ahead(state: CallState, node: Node, event: Digit) -> tuple[CallState, list[IvrCommand]]:
    """A key during a skippable prompt: stop it, move on, and let the next menu take the key
    (0 goes to a consultant at once)."""
    if event.digit == "0":
        return _key_between_menus(state, node, event)
    cmds: list[IvrCommand] = [StopPlayback(state.turn),
                              _record(state, "dtmf", event.digit, None, "", str(node.next))]
    typed = (state.typed + event.digit)[-MAX_TYPED:]
    return _enter(dataclasses.replace(state, playing=False, typed=typed), str(node.next), cmds)


def _barge_in(state: CallState, node: Node,
              cmds: list[IvrCommand]) -> tuple[CallState, list[IvrCommand]]:
    if state.playing and node.barge_in:
        cmds.append(StopPlayback(state.turn))
        return dataclasses.replace(state, playing=False), cmds
    return state, cmds


def _menu_input(state: CallState, node: Node,
                event: IvrEvent) -> tuple[CallState, list[IvrCommand]]:
    cmds: list[IvrCommand] = []
    if isinstance(event, Timeout):
        if node.type == "callback_offer":
            return _leave(state, node, str(node.declined), "timeout", "", None, "", cmds)
        return _retry(state, node, "noinput", "timeout", "", None, "", cmds)
    if isinstance(event, Digit):
        state, cmds = _barge_in(state, node, cmds)
        for choice in node.choices:
            if choice.key == event.digit:
                return _choose(state, node, choice.next, choice.set_vars, "dtmf", event.digit,
                               None, "", cmds)
        if event.digit == "0":
            return _leave(state, node, state.script.operator, "dtmf", "0", None, "", cmds)
        if node.type == "callback_offer":
            return _leave(state, node, str(node.declined), "dtmf", event.digit, None, "", cmds)
        return _retry(state, node, "nomatch", "dtmf", event.digit, None, "", cmds)
    if isinstance(event, SpeechResult):
        state, cmds = _barge_in(state, node, cmds)
        per_choice = [c.phrases.get(state.language, ()) for c in node.choices]
        match = best_choice(event.text, per_choice)
        confidence = round(event.confidence * (match.confidence if match else 0.0), 4)
        if match is not None and confidence >= state.script.confidence_threshold:
            choice = node.choices[match.index]
            return _choose(state, node, choice.next, choice.set_vars, "speech", event.text,
                           confidence, event.engine, cmds)
        if node.type == "callback_offer":
            return _leave(state, node, str(node.declined), "speech", event.text, confidence,
                          event.engine, cmds)
        return _retry(state, node, "nomatch", "speech", event.text, confidence, event.engine,
                      cmds)
    return state, []


def _collect_input(state: CallState, node: Node,
                   event: IvrEvent) -> tuple[CallState, list[IvrCommand]]:
    cmds: list[IvrCommand] = []
    if isinstance(event, Digit):
        state, cmds = _barge_in(state, node, cmds)
        if node.terminator is not None and event.digit == node.terminator:
            if len(state.digits) >= node.min_digits:
                return _collected(state, node, cmds)
            return _retry(state, node, "nomatch", "dtmf", state.digits + event.digit, None, "",
                          cmds)
        state = dataclasses.replace(state, digits=state.digits + event.digit)
        if len(state.digits) >= node.max_digits:
            return _collected(state, node, cmds)
        return state, cmds
    if isinstance(event, Timeout):
        if state.digits and len(state.digits) >= node.min_digits:
            return _collected(state, node, cmds)
        why: Literal["noinput", "nomatch"] = "nomatch" if state.digits else "noinput"
        return _retry(state, node, why, "timeout", state.digits, None, "", cmds)
    return state, []  # speech is not asked for here


def _collected(state: CallState, node: Node,
               cmds: list[IvrCommand]) -> tuple[CallState, list[IvrCommand]]:
    new_vars = {**state.vars, str(node.var): state.digits, "digits": state.digits}
    return _choose(dataclasses.replace(state, vars=new_vars), node, str(node.next), {}, "dtmf",
                   state.digits, None, "", cmds)


def _choose(state: CallState, node: Node, target: str, set_vars: Mapping[str, str],
            kind: str, value: str, confidence: float | None, engine: str,
            cmds: list[IvrCommand]) -> tuple[CallState, list[IvrCommand]]:
    if set_vars:
        new_vars = {**state.vars, **{k: _fill(v, state.vars) for k, v in set_vars.items()}}
        lang = new_vars.get("language", state.language)
        state = dataclasses.replace(
            state, vars=new_vars,
            language=lang if lang in state.script.languages else state.language)
    if node.type == "callback_offer":
        # A number typed for the callback (a withheld caller's) wins over the caller id.
        number = state.vars.get("callback.number") or state.vars.get("caller.number", "")
        cmds.append(OfferCallback(str(node.queue), number,
                                  state.vars.get("category", ""), state.language))
    return _leave(state, node, target, kind, value, confidence, engine, cmds)


def _leave(state: CallState, node: Node, target: str, kind: str, value: str,
           confidence: float | None, engine: str,
           cmds: list[IvrCommand]) -> tuple[CallState, list[IvrCommand]]:
    if state.playing and node.barge_in:
        cmds.append(StopPlayback(state.turn))
    if node.type != "collect" and node.speech and _phrases(state, node):
        cmds.append(StopListening(state.turn))
    cmds.append(_record(state, kind, value, confidence, engine, target))
    return _enter(dataclasses.replace(state, playing=False), target, cmds)


def _retry(state: CallState, node: Node, why: Literal["noinput", "nomatch"], kind: str,
           value: str, confidence: float | None, engine: str,
           cmds: list[IvrCommand]) -> tuple[CallState, list[IvrCommand]]:
    retries = state.retries + 1
    limit = node.max_retries if node.max_retries is not None else state.script.max_retries
    if retries > limit:
        return _leave(state, node, node.on_failure or state.script.operator, kind, value,
                      confidence, engine, cmds)
    if node.type != "collect" and node.speech and _phrases(state, node):
        cmds.append(StopListening(state.turn))
    cmds.append(_record(state, kind, value, confidence, engine, node.id))
    state = dataclasses.replace(state, turn=state.turn + 1, retries=retries, digits="",
                                playing=False)
    slots = (why, "prompt") if getattr(node, why) is not None else ("prompt",)
    state, cmds = _ask(state, node, cmds, slots)
    return dataclasses.replace(state, retries=retries), cmds


def _lookup_done(state: CallState, node: Node,
                 event: LookupResult) -> tuple[CallState, list[IvrCommand]]:
    prefix = str(node.result)
    new_vars = dict(state.vars)
    new_vars[f"{prefix}.found"] = "yes" if event.ok and event.found else "no"
    for key, value in event.values.items():
        new_vars[f"{prefix}.{key}"] = str(value)
    if node.lookup == "open_cases" and event.ok:
        new_vars["caller.known"] = "yes" if event.found else "no"
    target = str(node.next) if event.ok else (node.on_error or str(node.next))
    outcome = ("failed" if not event.ok else "found" if event.found else "not found")
    cmds: list[IvrCommand] = [_record(state, "none", f"{node.lookup}: {outcome}", None, "",
                                      target)]
    return _enter(dataclasses.replace(state, vars=new_vars), target, cmds)


# --- conditions


def _holds(state: CallState, cond: Condition) -> bool:
    if cond.var is not None:
        value = state.vars.get(cond.var, "")
        if cond.equals is not None and value != cond.equals:
            return False
        if cond.not_equals is not None and value == cond.not_equals:
            return False
        for bound, above in ((cond.greater_than, True), (cond.less_than, False)):
            if bound is None:
                continue
            try:
                number = float(value)
            except ValueError:
                return False
            if (number <= bound) if above else (number >= bound):
                return False
        plain = (cond.equals, cond.not_equals, cond.greater_than, cond.less_than)
        if all(x is None for x in plain) and value in ("", "no", "0", "false"):
            return False
    if cond.caller_known is not None and (state.vars.get("caller.known") == "yes") != \
            cond.caller_known:
        return False
    if cond.time is None and cond.weekdays is None and cond.holiday is None:
        return True
    if state.now is None:
        return False
    zone = ZoneInfo(state.script.timezone)
    local = (state.now.astimezone(zone) if state.now.tzinfo is not None
             else state.now.replace(tzinfo=zone))
    if cond.time is not None and not cond.time.contains(local.time().replace(tzinfo=None)):
        return False
    if cond.weekdays is not None and WEEKDAYS[local.weekday()] not in cond.weekdays:
        return False
    if cond.holiday is not None:
        holiday = is_holiday(local.date(), state.script.holiday_calendar,
                             state.script.extra_holidays)
        if holiday != cond.holiday:
            return False
    return True


def _record(state: CallState, kind: str, value: str, confidence: float | None, engine: str,
            target: str) -> RecordStep:
    return RecordStep(state.script.name, state.script.version, state.node, kind, value,
                      confidence, engine, target)
