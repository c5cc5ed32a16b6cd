"""The interpreter node by node: feed events, assert commands and where the call goes."""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from ground.events import IvrStep
from ivr import interpreter
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
    LookupResult,
    PromptFinished,
    SpeechResult,
    SpeechStarted,
    Timeout,
)
from ivr.interpreter import CallState, IllegalEvent
from ivr.model import Script

from .conftest import WARSAW, WEEKDAY_MORNING, script_from

MENU = """
script: t
version: "1"
languages: [pl, en]
start: hello
operator: consultant
max_retries: 2
timeout_s: 5
confidence_threshold: 0.6
nodes:
  hello:
    type: say
    prompt: {pl: "Dzień dobry", en: "Hello"}
    next: menu
  menu:
    type: menu
    prompt: {pl: "Drogi jeden, hałas dwa", en: "Roads one, noise two"}
    noinput: {pl: "Nie słyszę", en: "I did not hear you"}
    nomatch: {pl: "Nie rozumiem", en: "I did not understand"}
    choices:
      - key: 1
        phrases: {pl: [drogi, chodniki], en: [roads]}
        set: {category: drogi}
        next: roads
      - key: 2
        phrases: {pl: [hałas], en: [noise]}
        next: noise
  roads:
    type: queue
    queue: drogi
    skills: [drogi]
    priority: 5
    category: "{category}"
  noise:
    type: queue
    queue: halas
  consultant:
    type: queue
    queue: ogolna
    prompt: {pl: "Łączę z konsultantem", en: "Connecting you"}
"""


def started(script: Script, at: datetime = WEEKDAY_MORNING,
            language: str | None = None) -> tuple[CallState, list[IvrCommand]]:
    return interpreter.start(script, CallStarted("+48600100200", at, "call-1", language))


def at_menu(script: Script) -> CallState:
    state, cmds = started(script)
    play = cmds[-1]
    assert isinstance(play, Play)
    state, cmds = interpreter.step(state, PromptFinished(play.turn))
    assert state.node == "menu" and state.phase == "input"
    return state


def of(cmds: list[IvrCommand], kind: type) -> list:  # type: ignore[type-arg]
    return [c for c in cmds if isinstance(c, kind)]


def test_say_plays_the_prompt_in_the_callers_language_then_moves_on() -> None:
    script = script_from(MENU)
    state, cmds = started(script, language="en")
    (play,) = cmds
    assert isinstance(play, Play)
    assert [p.text for p in play.prompts] == ["Hello"]
    assert play.prompts[0].voice == "gmw/en-us" and play.prompts[0].id == "hello.prompt.en"
    state, cmds = interpreter.step(state, PromptFinished(play.turn))
    assert state.node == "menu"
    assert [p.text for p in of(cmds, Play)[0].prompts] == ["Roads one, noise two"]


def test_menu_asks_by_voice_and_keys_and_a_key_chooses() -> None:
    script = script_from(MENU)
    state, cmds = started(script)
    state, cmds = interpreter.step(state, PromptFinished(cmds[0].turn))  # type: ignore[union-attr]
    (listen,) = of(cmds, Listen)
    assert listen.phrases == ("drogi", "chodniki", "hałas") and listen.language == "pl"
    assert listen.timeout_s == 5
    (collect,) = of(cmds, CollectDigits)
    assert collect.max_digits == 1
    state, cmds = interpreter.step(state, Digit("1", turn=state.turn))
    (enqueue,) = of(cmds, Enqueue)
    assert enqueue == Enqueue("drogi", ("drogi",), 5, "drogi", "pl")
    assert state.ended
    (step,) = [c for c in of(cmds, RecordStep) if c.node == "menu"]
    assert (step.input_kind, step.input_value, step.next_node) == ("dtmf", "1", "roads")


def test_speech_above_the_threshold_chooses() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, SpeechResult("hałas", 0.9, "vosk", turn=state.turn))
    assert of(cmds, Enqueue)[0].queue == "halas"
    step = next(c for c in of(cmds, RecordStep) if c.node == "menu")
    assert step.input_kind == "speech" and step.engine == "vosk" and step.confidence == 0.9


def test_free_speech_is_mapped_to_the_closest_choice() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, SpeechResult("chcę zgłosić chodniki", 0.95,
                                                       "whisper", turn=state.turn))
    assert of(cmds, Enqueue)[0].queue == "drogi"


def test_speech_below_the_threshold_is_a_nomatch() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, SpeechResult("hałas", 0.4, "vosk", turn=state.turn))
    assert state.node == "menu" and state.retries == 1 and not state.ended
    texts = [p.text for p in of(cmds, Play)[0].prompts]
    assert texts == ["Nie rozumiem", "Drogi jeden, hałas dwa"]
    step = of(cmds, RecordStep)[0]
    assert (step.input_kind, step.confidence, step.next_node) == ("speech", 0.4, "menu")


def test_a_caller_who_says_nothing_reaches_a_consultant_after_the_retries() -> None:
    state = at_menu(script_from(MENU))
    prompts = []
    for _ in range(2):
        state, cmds = interpreter.step(state, Timeout(state.turn))
        prompts.append(of(cmds, Play)[0].prompts[0].text)
    assert prompts == ["Nie słyszę", "Nie słyszę"]
    state, cmds = interpreter.step(state, Timeout(state.turn))
    assert state.node == "consultant"
    # the consultant prompt plays first, then the call is handed over
    assert of(cmds, Play)[0].prompts[0].text == "Łączę z konsultantem"
    assert not of(cmds, Enqueue)
    state, cmds = interpreter.step(state, PromptFinished(state.turn))
    assert of(cmds, Enqueue)[0].queue == "ogolna" and state.ended


def test_zero_reaches_a_consultant_from_any_menu() -> None:
    state = at_menu(script_from(MENU))
    state, _cmds = interpreter.step(state, Digit("0", turn=state.turn))
    assert state.node == "consultant"


def test_unknown_key_is_a_nomatch() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, Digit("7", turn=state.turn))
    assert state.node == "menu" and state.retries == 1
    assert of(cmds, Play)[0].prompts[0].text == "Nie rozumiem"


def test_barge_in_a_key_during_the_menu_prompt_stops_it() -> None:
    state = at_menu(script_from(MENU))
    turn = state.turn
    state, cmds = interpreter.step(state, Digit("2", turn=turn))
    assert cmds[0] == StopPlayback(turn)
    assert StopListening(turn) in cmds


def test_barge_in_speech_onset_stops_the_prompt_without_deciding() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, SpeechStarted(turn=state.turn))
    assert cmds == [StopPlayback(state.turn)] and state.node == "menu"
    state, cmds = interpreter.step(state, SpeechStarted(turn=state.turn))
    assert cmds == []  # already stopped


def test_no_stop_playback_once_the_prompt_finished() -> None:
    state = at_menu(script_from(MENU))
    state, _ = interpreter.step(state, PromptFinished(state.turn))
    state, cmds = interpreter.step(state, Digit("1", turn=state.turn))
    assert not of(cmds, StopPlayback)


def test_a_key_during_the_greeting_skips_it_and_answers_the_next_menu() -> None:
    script = script_from(MENU)
    state, _ = started(script)
    state, cmds = interpreter.step(state, Digit("2"))
    assert StopPlayback(1) in cmds
    assert of(cmds, Enqueue)[0].queue == "halas"
    assert not of(cmds, Listen)  # the menu was answered before it was asked


def test_stale_events_are_ignored() -> None:
    state = at_menu(script_from(MENU))
    old = state.turn
    state, _ = interpreter.step(state, Timeout(old))  # retry: new turn
    same, cmds = interpreter.step(state, Timeout(old))
    assert (same, cmds) == (state, [])
    same, cmds = interpreter.step(state, PromptFinished(old))
    assert (same, cmds) == (state, [])


def test_illegal_events_raise_and_leave_the_state() -> None:
    script = script_from(MENU)
    fresh = interpreter.new_call(script)
    with pytest.raises(IllegalEvent, match="expected CallStarted first, got Digit"):
        interpreter.step(fresh, Digit("1"))
    state, _ = started(script)
    with pytest.raises(IllegalEvent, match="no second CallStarted"):
        interpreter.step(state, CallStarted("+48600100200", WEEKDAY_MORNING))


def test_caller_hangup_ends_and_later_events_are_ignored() -> None:
    state = at_menu(script_from(MENU))
    state, cmds = interpreter.step(state, CallerHangup())
    assert state.ended and state.end_reason == "caller_hangup"
    assert of(cmds, RecordStep)[0].input_value == "caller hung up"
    assert interpreter.step(state, Digit("1")) == (state, [])


def test_script_version_is_pinned_in_the_call() -> None:
    v1 = script_from(MENU)
    state = at_menu(v1)
    v2 = script_from(MENU.replace('version: "1"', 'version: "2"')
                     .replace("queue: halas", "queue: ogolna"))
    assert v2.version == "2"
    # publishing v2 does not touch the call: it still runs v1
    state, cmds = interpreter.step(state, Digit("2", turn=state.turn))
    assert of(cmds, Enqueue)[0].queue == "halas"
    assert of(cmds, RecordStep)[0].version == "1"


def test_record_step_becomes_the_ivr_step_domain_event() -> None:
    state = at_menu(script_from(MENU))
    _, cmds = interpreter.step(state, Digit("1", turn=state.turn))
    event = of(cmds, RecordStep)[0].to_event("call-1", WEEKDAY_MORNING)
    assert isinstance(event, IvrStep)
    assert event.to_dict()["node"] == "menu" and event.next_node == "roads"


COLLECT = """
script: t
version: "1"
languages: [pl]
start: number
operator: consultant
nodes:
  number:
    type: collect
    prompt: {pl: "Podaj numer i krzyżyk"}
    nomatch: {pl: "Za krótki"}
    var: case_number
    min_digits: 3
    max_digits: 6
    terminator: "#"
    timeout_s: 7
    next: status
  status:
    type: lookup
    lookup: case_status
    input: case_number
    result: case
    next: verdict
    on_error: sorry
  verdict:
    type: branch
    rules:
      - if: {var: case.status, equals: in_progress}
        goto: working
    else: consultant
  working:
    type: say
    prompt: {pl: "W realizacji"}
    next: bye
  sorry:
    type: say
    prompt: {pl: "Nie można sprawdzić"}
    next: consultant
  bye:
    type: hangup
  consultant:
    type: queue
    queue: ogolna
"""


def test_collect_digits_until_the_terminator_then_lookup_and_branch() -> None:
    script = script_from(COLLECT)
    state, cmds = started(script)
    assert of(cmds, CollectDigits) == [CollectDigits(6, "#", 7.0, state.turn)]
    assert not of(cmds, Listen)
    for d in "1234":
        state, cmds = interpreter.step(state, Digit(d, turn=state.turn))
    assert state.digits == "1234" and state.phase == "input"
    state, cmds = interpreter.step(state, Digit("#", turn=state.turn))
    (lookup,) = of(cmds, Lookup)
    assert (lookup.kind, lookup.key) == ("case_status", "1234")
    state, cmds = interpreter.step(state, LookupResult("case_status", True, True,
                                                       {"status": "in_progress"}, lookup.turn))
    assert state.node == "working" and state.vars["case.status"] == "in_progress"
    state, cmds = interpreter.step(state, PromptFinished(state.turn))
    assert of(cmds, Hangup) == [Hangup("ivr_hangup")] and state.ended


def test_collect_ends_at_max_digits_and_on_timeout() -> None:
    script = script_from(COLLECT)
    state, _ = started(script)
    for d in "123456":
        state, cmds = interpreter.step(state, Digit(d, turn=state.turn))
    assert of(cmds, Lookup)[0].key == "123456"
    state, _ = started(script)
    for d in "987":
        state, _ = interpreter.step(state, Digit(d, turn=state.turn))
    state, cmds = interpreter.step(state, Timeout(state.turn))
    assert of(cmds, Lookup)[0].key == "987"


def test_collect_too_short_is_asked_again() -> None:
    state, _ = started(script_from(COLLECT))
    state, _ = interpreter.step(state, Digit("1", turn=state.turn))
    state, cmds = interpreter.step(state, Digit("#", turn=state.turn))
    assert state.node == "number" and state.retries == 1 and state.digits == ""
    assert next(p.text for p in of(cmds, Play)[0].prompts) == "Za krótki"


def test_collect_accepts_zero_as_a_digit() -> None:
    state, _ = started(script_from(COLLECT))
    for d in "100#":
        state, cmds = interpreter.step(state, Digit(d, turn=state.turn))
    assert of(cmds, Lookup)[0].key == "100"


def test_failed_lookup_takes_the_error_path() -> None:
    state, _ = started(script_from(COLLECT))
    for d in "123#":
        state, cmds = interpreter.step(state, Digit(d, turn=state.turn))
    state, cmds = interpreter.step(state, LookupResult("case_status", False, turn=state.turn))
    assert state.node == "sorry"
    assert of(cmds, RecordStep)[-1].input_value == "case_status: failed"


BRANCHES = """
script: t
version: "1"
languages: [pl]
start: lang
operator: consultant
holidays: {calendar: pl, dates: ["2026-06-15"]}
nodes:
  lang:
    type: language
    language: pl
    next: prep
  prep:
    type: set
    vars: {greeting: "yes", who: "{caller.number}"}
    next: when
  when:
    type: branch
    rules:
      - if: {holiday: true}
        goto: holiday
      - if: {time: "22:00-06:00"}
        goto: night
      - if: {weekday: [sat, sun]}
        goto: weekend
      - if: {var: who, equals: "+48600100200", time: "08:00-16:00"}
        goto: vip
    else: day
  holiday: {type: queue, queue: zielen}
  night: {type: queue, queue: halas}
  weekend: {type: queue, queue: transport}
  vip: {type: queue, queue: drogi}
  day: {type: queue, queue: informacja}
  consultant:
    type: queue
    queue: ogolna
"""


@pytest.mark.parametrize(("moment", "expected"), [
    ("2026-11-27 10:00", "drogi"),  # Friday morning, var and time window
    ("2026-11-27 17:00", "informacja"),
    ("2026-11-27 23:30", "halas"),  # night window crosses midnight
    ("2026-11-28 05:59", "halas"),
    ("2026-11-28 12:00", "transport"),  # Saturday
    ("2026-11-11 12:00", "zielen"),  # Independence Day
    ("2026-04-06 12:00", "zielen"),  # Easter Monday 2026
    ("2026-12-24 12:00", "zielen"),  # Christmas Eve, a holiday from 2025
    ("2026-06-15 12:00", "zielen"),  # the script's own date
])
def test_branch_on_time_weekday_holiday_and_vars(moment: str, expected: str) -> None:
    script = script_from(BRANCHES)
    with freeze_time(moment):
        now = datetime.now().replace(tzinfo=WARSAW)
    state, cmds = interpreter.start(script, CallStarted("+48600100200", now))
    assert of(cmds, Enqueue)[0].queue == expected
    assert state.vars["who"] == "+48600100200" and state.vars["greeting"] == "yes"


def test_time_comes_from_the_event_in_any_zone() -> None:
    script = script_from(BRANCHES)
    utc_evening = datetime.fromisoformat("2026-11-27T21:30:00+00:00")  # 22:30 in Warsaw
    _, cmds = interpreter.start(script, CallStarted("+48600100200", utc_evening))
    assert of(cmds, Enqueue)[0].queue == "halas"


CALLBACK = """
script: t
version: "1"
languages: [pl]
start: offer
operator: consultant
nodes:
  offer:
    type: callback_offer
    prompt: {pl: "Oddzwonimy? Jeden lub tak"}
    queue: ogolna
    accept: {key: 1, phrases: {pl: [tak]}}
    accepted: thanks
    declined: consultant
  thanks:
    type: hangup
    prompt: {pl: "Dziękujemy"}
  consultant:
    type: queue
    queue: ogolna
"""


def test_callback_offer_accepted_by_voice_registers_a_callback() -> None:
    state, _ = started(script_from(CALLBACK))
    state, cmds = interpreter.step(state, SpeechResult("tak", 0.9, "whisper", turn=state.turn))
    assert of(cmds, OfferCallback) == [OfferCallback("ogolna", "+48600100200", "", "pl")]
    assert state.node == "thanks" and state.phase == "closing"
    state, cmds = interpreter.step(state, PromptFinished(state.turn))
    assert cmds == [Hangup("ivr_hangup")]


def test_callback_offer_declined_or_silent_goes_to_the_queue() -> None:
    state, _ = started(script_from(CALLBACK))
    _, cmds = interpreter.step(state, Digit("2", turn=state.turn))
    assert of(cmds, Enqueue)[0].queue == "ogolna" and not of(cmds, OfferCallback)
    _, cmds = interpreter.step(state, Timeout(state.turn))
    assert of(cmds, Enqueue)[0].queue == "ogolna"


def test_emergency_notice_cannot_be_skipped() -> None:
    script = script_from("""
script: t
version: "1"
languages: [pl]
start: notice
operator: consultant
nodes:
  notice:
    type: emergency
    prompt: {pl: "Zagrożenie życia: sto dwanaście"}
    next: consultant
  consultant:
    type: queue
    queue: ogolna
""")
    state, cmds = started(script)
    assert of(cmds, Play)[0].barge_in is False
    kept, cmds = interpreter.step(state, Digit("1"))
    # The notice plays on (nothing stops it); the key is kept for the next menu.
    assert cmds == [] and (kept.node, kept.phase, kept.typed) == ("notice", "playing", "1")
    _, cmds = interpreter.step(state, PromptFinished(state.turn))
    assert of(cmds, Enqueue)


KEYS_SCRIPT = """
script: t
version: "1"
languages: [pl]
start: greeting
operator: consultant
nodes:
  greeting:
    type: say
    barge_in: false
    prompt: {pl: "Dzień dobry"}
    next: notice
  notice:
    type: emergency
    prompt: {pl: "W sytuacji zagrożenia dzwoń pod sto dwanaście"}
    next: main
  main:
    type: menu
    prompt: {pl: "Jeden: drogi. Dwa: numer sprawy."}
    choices:
      - {key: "1", next: roads}
      - {key: "2", next: number}
  number:
    type: collect
    prompt: {pl: "Podaj numer"}
    max_digits: 4
    var: case
    next: roads
  roads:
    type: queue
    queue: drogi
  consultant:
    type: queue
    queue: ogolna
"""


def test_zero_during_the_greeting_or_the_112_notice_reaches_a_consultant() -> None:
    script = script_from(KEYS_SCRIPT)
    state, _ = started(script)
    _, cmds = interpreter.step(state, Digit("0"))
    assert of(cmds, StopPlayback) == [StopPlayback(state.turn)]
    assert [e.queue for e in of(cmds, Enqueue)] == ["ogolna"]
    state, _ = interpreter.step(state, PromptFinished(state.turn))  # now the 112 notice
    assert state.node == "notice"
    _, cmds = interpreter.step(state, Digit("0"))
    assert [e.queue for e in of(cmds, Enqueue)] == ["ogolna"]


def test_keys_pressed_before_a_menu_answer_it() -> None:
    script = script_from(KEYS_SCRIPT)
    state, _ = started(script)
    state, cmds = interpreter.step(state, Digit("1"))  # during the greeting
    assert cmds == [] and state.typed == "1"
    state, _ = interpreter.step(state, PromptFinished(state.turn))
    state, cmds = interpreter.step(state, PromptFinished(state.turn))
    # The menu takes the key at once: no waiting for its prompt or another key.
    assert [e.queue for e in of(cmds, Enqueue)] == ["drogi"]
    assert of(cmds, CollectDigits) == []


def test_digits_typed_ahead_fill_a_collect_node() -> None:
    script = script_from(KEYS_SCRIPT)
    state, _ = started(script)
    for key in "21234":
        state, _ = interpreter.step(state, Digit(key))
    assert state.typed == "21234"
    state, _ = interpreter.step(state, PromptFinished(state.turn))
    state, cmds = interpreter.step(state, PromptFinished(state.turn))
    assert [e.queue for e in of(cmds, Enqueue)] == ["drogi"]
    assert state.vars["case"] == "1234"


def test_resume_reenters_the_node_after_a_controller_restart() -> None:
    script = script_from(MENU)
    state = at_menu(script)
    state, _ = interpreter.step(state, SpeechResult("xyz", 0.1, "vosk", turn=state.turn))
    snapshot = state.snapshot()
    assert snapshot["node"] == "menu" and snapshot["version"] == "1"
    again, cmds = interpreter.resume(script, snapshot, WEEKDAY_MORNING)
    assert again.node == "menu" and of(cmds, Listen)
    assert again.vars["caller.number"] == "+48600100200"
