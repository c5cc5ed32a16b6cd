"""The call session hosting the IVR: fed inputs, checked for the commands a real call needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ground import events as domain
from ivr import events as ie
from ivr import loader
from pbx import call_session as cs

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday morning

SCRIPT = loader.parse("""
script: test
version: "7"
languages: [pl]
default_language: pl
start: hello
operator: consultant
timeout_s: 5
max_retries: 1
nodes:
  hello:
    type: say
    prompt: {pl: "Dzień dobry."}
    next: who
  who:
    type: lookup
    lookup: open_cases
    result: caller
    next: menu
    on_error: menu
  menu:
    type: menu
    prompt: {pl: "Zgłoszenie jeden, konsultant zero."}
    choices:
      - key: 1
        phrases: {pl: [zgłoszenie]}
        next: roads
  roads:
    type: queue
    queue: drogi
    category: roads
  consultant:
    type: queue
    queue: ogolna
""", "test.yaml")


def kinds(commands: list[cs.Command]) -> list[str]:
    return [type(c).__name__ for c in commands]


def events(commands: list[cs.Command]) -> list[domain.DomainEvent]:
    return [c.event for c in commands if isinstance(c, cs.Publish)]


def start(session: cs.CallSession) -> list[cs.Command]:
    return session.handle(cs.Started(at=T0, channel_id="c1", channel_name="PJSIP/trunk-1",
                                     caller_number="+48600100200", caller_name="Jan Kowalski",
                                     dialed="19115"))


def to_menu(session: cs.CallSession) -> list[cs.Command]:
    start(session)
    session.handle(cs.PlaybackDone(at=T0, playback_id="c1-pb1"))
    assert session.ivr is not None
    result = ie.LookupResult("open_cases", True, True, {"open_cases": "2"}, turn=session.ivr.turn)
    return session.handle(cs.LookupDone(at=T0, result=result))


def test_a_new_call_is_announced_answered_and_greeted_in_that_order() -> None:
    session = cs.CallSession(SCRIPT)
    commands = start(session)
    assert kinds(commands)[:4] == ["Publish", "Answer", "SetVar", "PlayPrompts"]
    started = events(commands)[0]
    assert isinstance(started, domain.CallStarted)
    assert (started.caller_number, started.caller_name, started.dialed) == (
        "+48600100200", "Jan Kowalski", "19115")
    play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
    assert [p.text for p in play.prompts] == ["Dzień dobry."]
    saved = [c for c in commands if isinstance(c, cs.SetVar) and c.name == cs.IVR_VAR]
    assert json.loads(saved[0].value)["node"] == "hello"


def test_the_crm_lookup_is_requested_and_its_answer_leads_to_the_menu() -> None:
    session = cs.CallSession(SCRIPT)
    start(session)
    commands = session.handle(cs.PlaybackDone(at=T0, playback_id="c1-pb1"))
    lookup = next(c for c in commands if isinstance(c, cs.LookupRequest))
    assert (lookup.lookup.kind, lookup.lookup.key) == ("open_cases", "+48600100200")
    commands = session.handle(cs.LookupDone(at=T0, result=ie.LookupResult(
        "open_cases", True, True, {"open_cases": "2"}, turn=lookup.lookup.turn)))
    assert "PlayPrompts" in kinds(commands) and "StartListening" in kinds(commands)
    listen = next(c for c in commands if isinstance(c, cs.StartListening))
    assert "zgłoszenie" in listen.phrases


def test_the_no_input_timer_starts_only_when_the_menu_prompt_has_finished() -> None:
    session = cs.CallSession(SCRIPT)
    commands = to_menu(session)
    assert not any(isinstance(c, cs.ArmTimer) for c in commands)
    play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
    after = session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))
    timer = next(c for c in after if isinstance(c, cs.ArmTimer))
    assert (timer.name, timer.seconds) == ("input", 5)
    # A stale timer (another turn) changes nothing.
    assert session.handle(cs.TimerFired(at=T0, name="input", turn=timer.turn - 1)) == []


def test_silence_reprompts_then_reaches_a_consultant_never_a_dead_line() -> None:
    session = cs.CallSession(SCRIPT)
    commands = to_menu(session)
    for _ in range(2):
        play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
        timer = next(c for c in session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))
                     if isinstance(c, cs.ArmTimer))
        commands = session.handle(cs.TimerFired(at=T0 + timedelta(seconds=5), name="input",
                                                turn=timer.turn))
        if any(isinstance(c, cs.EnqueueCall) for c in commands):
            break
        # nomatch/noinput prompt first, then the menu again, within one playback
    enqueue = next(c for c in commands if isinstance(c, cs.EnqueueCall))
    assert enqueue.request.queue == "ogolna"
    assert session.state is cs.CallState.QUEUED


def test_a_key_during_the_menu_prompt_stops_it_and_queues_with_the_category() -> None:
    session = cs.CallSession(SCRIPT)
    commands = to_menu(session)
    play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
    commands = session.handle(cs.Digit(at=T0, digit="1"))
    assert cs.StopPlayback(play.playback_id) in commands
    assert cs.StopListening("c1") in commands
    queued = [e for e in events(commands) if isinstance(e, domain.CallQueued)]
    assert [(q.queue, q.category) for q in queued] == [("drogi", "roads")]
    steps = [e for e in events(commands) if isinstance(e, domain.IvrStep)]
    assert next((s.node, s.input_kind, s.input_value) for s in steps) == ("menu", "dtmf", "1")
    enqueue = next(c for c in commands if isinstance(c, cs.EnqueueCall))
    assert (enqueue.caller_number, enqueue.caller_name) == ("+48600100200", "Jan Kowalski")
    saved = {c.name: c.value for c in commands if isinstance(c, cs.SetVar)}
    assert saved[cs.STATE_VAR] == "queued" and json.loads(saved[cs.QUEUE_VAR])["queue"] == "drogi"


def test_speech_with_enough_confidence_chooses_like_a_key() -> None:
    session = cs.CallSession(SCRIPT)
    to_menu(session)
    assert session.ivr is not None
    commands = session.handle(cs.Speech(at=T0, text="zgłoszenie", confidence=0.9,
                                        engine="whisper", turn=session.ivr.turn))
    step = next(e for e in events(commands) if isinstance(e, domain.IvrStep))
    assert (step.input_kind, step.input_value, step.confidence) == ("speech", "zgłoszenie", 0.9)
    assert any(isinstance(c, cs.EnqueueCall) for c in commands)


def test_caller_hanging_up_in_the_ivr_records_where_and_ends_once() -> None:
    session = cs.CallSession(SCRIPT)
    to_menu(session)
    commands = session.handle(cs.CallerGone(at=T0))
    assert cs.StopListening("c1") in commands
    ended = [e for e in events(commands) if isinstance(e, domain.CallEnded)]
    assert [e.reason for e in ended] == ["caller_hangup"]
    assert session.handle(cs.Digit(at=T0, digit="5")) == []
    assert session.handle(cs.CallerGone(at=T0)) == []


def test_caller_leaving_the_queue_is_told_apart_from_leaving_the_ivr() -> None:
    session = cs.CallSession(SCRIPT)
    to_menu(session)
    session.handle(cs.Digit(at=T0, digit="1"))
    ended = events(session.handle(cs.CallerGone(at=T0)))
    assert [e.reason for e in ended if isinstance(e, domain.CallEnded)] == [
        "caller_hangup_in_queue"]


def test_adopted_call_resumes_at_its_saved_node_or_queue() -> None:
    in_menu = cs.CallSession(SCRIPT)
    commands = in_menu.handle(cs.Adopted(
        at=T0, channel_id="c9", channel_name="Local/x;2", caller_number="+48600",
        caller_name="", saved_state="ivr",
        saved_ivr=json.dumps({"script": "test", "version": "7", "node": "menu",
                              "language": "pl", "vars": {"caller.number": "+48600"}})))
    play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
    assert "Zgłoszenie jeden" in play.prompts[0].text
    queued = cs.CallSession(SCRIPT)
    commands = queued.handle(cs.Adopted(
        at=T0, channel_id="c8", channel_name="Local/y;2", caller_number="+48600",
        caller_name="", saved_state="queued",
        saved_queue=json.dumps({"queue": "drogi", "skills": ["roads"], "priority": 0,
                                "category": "roads", "language": "pl"})))
    assert kinds(commands) == ["EnqueueCall"]
    broken = cs.CallSession(SCRIPT)
    commands = broken.handle(cs.Adopted(at=T0, channel_id="c7", channel_name="z",
                                        caller_number="", caller_name="",
                                        saved_state="ivr", saved_ivr="{not json"))
    assert any(isinstance(c, cs.PlayPrompts) for c in commands), "restart from the top"
    assert any("not JSON" in n for n in broken.notes)


def test_inputs_before_the_call_starts_are_ignored_with_a_note() -> None:
    session = cs.CallSession(SCRIPT)
    assert session.handle(cs.Digit(at=T0, digit="1")) == []
    assert session.state is cs.CallState.NEW
    assert "ignored" in session.notes[0]


def test_benchmark_flow_writes_no_recovery_state() -> None:
    session = cs.CallSession(SCRIPT, persist=False)
    assert not any(isinstance(c, cs.SetVar) for c in start(session))


def test_a_caller_who_started_speaking_is_not_timed_out_while_the_recogniser_works() -> None:
    session = cs.CallSession(SCRIPT)
    commands = to_menu(session)
    play = next(c for c in commands if isinstance(c, cs.PlayPrompts))
    session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))
    assert session.ivr is not None
    commands = session.handle(cs.SpeechBegan(at=T0, turn=session.ivr.turn))
    timer = next(c for c in commands if isinstance(c, cs.ArmTimer))
    assert timer.seconds == cs.SPEECH_RESULT_GRACE_S
