"""Drive the interpreter with a list of caller inputs and write the dialogue as text.

The same `step` as in live calls; this module plays the executor: prompts finish at once,
lookups are answered from a `StaticLookup`, and when the inputs run out the caller says nothing
(timeouts) — which shows where a silent caller ends up.

Inputs: "1" or "123#" (keys, one Digit each), "say:śmieci" or "say:śmieci@0.4" (speech with a
confidence), "silence" (a timeout), "hangup".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from ivr import interpreter, lookup
from ivr.commands import (
    CollectDigits,
    Enqueue,
    Hangup,
    IvrCommand,
    Listen,
    Lookup,
    OfferCallback,
    Play,
    RecordStep,
    StopListening,
    StopPlayback,
)
from ivr.events import (
    CallerHangup,
    CallStarted,
    Digit,
    IvrEvent,
    PromptFinished,
    SpeechResult,
    Timeout,
)
from ivr.model import Script

MAX_EVENTS = 500


@dataclass(frozen=True)
class Outcome:
    lines: tuple[str, ...]
    commands: tuple[IvrCommand, ...]
    state: interpreter.CallState

    @property
    def final(self) -> IvrCommand | None:
        for cmd in reversed(self.commands):
            if isinstance(cmd, Enqueue | Hangup):
                return cmd
        return None


def parse_input(text: str, turn: int) -> IvrEvent:
    if text == "silence":
        return Timeout(turn)
    if text == "hangup":
        return CallerHangup()
    if text.startswith("say:"):
        body, _, conf = text[4:].rpartition("@")
        if not body:
            body, conf = conf, ""
        try:
            confidence = float(conf) if conf else 0.9
        except ValueError:
            body, confidence = text[4:], 0.9
        return SpeechResult(body, confidence, "simulated", turn=turn)
    raise ValueError(f"input {text!r}: expected keys (0-9*#), say:TEXT[@CONF], silence or hangup")


def run(script: Script, inputs: Iterable[str], caller: str, at: datetime,
        port: lookup.LookupPort, language: str | None = None,
        echo: Callable[[str], None] | None = None) -> Outcome:
    lines: list[str] = []
    every: list[IvrCommand] = []

    def say(line: str) -> None:
        lines.append(line)
        if echo is not None:
            echo(line)

    queue: list[str] = []
    for item in inputs:
        if item and all(c in "0123456789*#" for c in item):
            queue.extend(item)  # keys one by one
        else:
            parse_input(item, 0)  # reject bad inputs before the call starts
            queue.append(item)
    state, cmds = interpreter.start(script, CallStarted(caller, at, "simulated", language))
    say(f"CALL from {caller} at {at.isoformat(timespec='minutes')} → script {script.name} "
        f"version {script.version}")
    for _ in range(MAX_EVENTS):
        every.extend(cmds)
        events: list[IvrEvent] = []
        for cmd in cmds:
            events.extend(_show(cmd, say, port))
        if state.ended:
            break
        if state.phase == "input":
            if queue:
                item = queue.pop(0)
                event = (Digit(item, turn=state.turn) if len(item) == 1 and item in "0123456789*#"
                         else parse_input(item, state.turn))
                say(f"CALLER {_describe(event)}")
            else:
                event = Timeout(state.turn)
                say("CALLER (says nothing)")
            events.append(event)
        if not events:
            break
        cmds = []
        for event in events:
            state, more = interpreter.step(state, event)
            cmds.extend(more)
            if state.ended:
                break
    if not state.ended:
        say(f"(simulation stopped at node {state.node}, phase {state.phase})")
    return Outcome(tuple(lines), tuple(every), state)


def _describe(event: IvrEvent) -> str:
    if isinstance(event, Digit):
        return f"presses {event.digit}"
    if isinstance(event, SpeechResult):
        return f"says {event.text!r} (confidence {event.confidence:.2f})"
    if isinstance(event, CallerHangup):
        return "hangs up"
    return "waits"


def _show(cmd: IvrCommand, say: Callable[[str], None], port: lookup.LookupPort) -> list[IvrEvent]:
    if isinstance(cmd, Play):
        for p in cmd.prompts:
            say(f"IVR [{p.language}] {p.text or 'file ' + str(p.file)}")
        return [PromptFinished(cmd.turn)]
    if isinstance(cmd, Listen):
        say(f"     (listening, {cmd.language}: {', '.join(cmd.phrases)})")
    elif isinstance(cmd, CollectDigits) and cmd.max_digits > 1:
        say(f"     (collecting up to {cmd.max_digits} digits"
            + (f", ends with {cmd.terminator})" if cmd.terminator else ")"))
    elif isinstance(cmd, Lookup):
        result = lookup.answer(port, cmd)
        outcome = "failed" if not result.ok else (
            ", ".join(f"{k}={v}" for k, v in result.values.items() if v) if result.found
            else "not found")
        say(f"CRM  {cmd.kind}({cmd.key}) → {outcome}")
        return [result]
    elif isinstance(cmd, RecordStep):
        detail = f"{cmd.input_kind} {cmd.input_value!r}" if cmd.input_kind != "none" else ""
        if cmd.confidence is not None:
            detail += f" conf {cmd.confidence:.2f}"
        if detail or cmd.input_value:
            say(f"  ⇒ {cmd.node}: {detail or cmd.input_value} → {cmd.next_node or '(end)'}")
    elif isinstance(cmd, Enqueue):
        say(f"ACD  enqueue to '{cmd.queue}' (skills {', '.join(cmd.skills) or '-'}, priority "
            f"{cmd.priority}, category {cmd.category or '-'}, language {cmd.language})")
    elif isinstance(cmd, OfferCallback):
        say(f"ACD  callback requested to {cmd.number} (queue {cmd.queue})")
    elif isinstance(cmd, Hangup):
        say(f"END  hang up ({cmd.reason})")
    elif isinstance(cmd, StopPlayback | StopListening):
        pass
    return []
