"""The call session, fed inputs and checked for the commands a real call would need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ckm import events as domain
from pbx import call_session as cs

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CONFIG = cs.FlowConfig(greeting="sound:ckm/greeting", idle_hangup_s=30)


def started(session: cs.CallSession) -> list[cs.Command]:
    return session.handle(cs.Started(at=T0, channel_id="c1", channel_name="PJSIP/trunk-1",
                                     caller_number="+48600100200", caller_name="Jan Kowalski",
                                     dialed="19115"))


def published(commands: list[cs.Command]) -> list[domain.DomainEvent]:
    return [c.event for c in commands if isinstance(c, cs.Publish)]


def test_a_new_call_is_announced_answered_and_greeted_in_that_order() -> None:
    session = cs.CallSession(CONFIG)
    commands = started(session)
    kinds = [type(c).__name__ for c in commands]
    assert kinds == ["Publish", "Answer", "SetVar", "Play"]
    event = published(commands)[0]
    assert isinstance(event, domain.CallStarted)
    assert (event.caller_number, event.caller_name, event.dialed) == (
        "+48600100200", "Jan Kowalski", "19115")
    play = commands[-1]
    assert isinstance(play, cs.Play) and play.media == "sound:ckm/greeting"
    assert session.state is cs.CallState.GREETING


def test_answer_confirmation_publishes_answered_once() -> None:
    session = cs.CallSession(CONFIG)
    started(session)
    events = published(session.handle(cs.AnswerDone(at=T0 + timedelta(seconds=0.02))))
    assert [type(e) for e in events] == [domain.CallAnswered]
    assert session.answered_at == T0 + timedelta(seconds=0.02)


def test_dtmf_is_logged_as_domain_events_during_and_after_the_greeting() -> None:
    session = cs.CallSession(CONFIG)
    commands = started(session)
    play = next(c for c in commands if isinstance(c, cs.Play))
    during = published(session.handle(cs.Digit(at=T0, digit="1")))
    session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))
    after = session.handle(cs.Digit(at=T0, digit="#"))
    assert [e.digit for e in during + published(after)  # type: ignore[attr-defined]
            ] == ["1", "#"]
    assert session.digits == ["1", "#"]
    # A key after the greeting restarts the quiet timer so a caller pressing keys is not cut off.
    assert cs.ArmTimer("idle", 30) in after


def test_quiet_caller_is_hung_up_after_the_idle_timer_and_the_end_is_published() -> None:
    session = cs.CallSession(CONFIG)
    play = next(c for c in started(session) if isinstance(c, cs.Play))
    after_greeting = session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))
    assert cs.ArmTimer("idle", 30) in after_greeting
    assert session.state is cs.CallState.WAITING
    commands = session.handle(cs.TimerFired(at=T0 + timedelta(seconds=30), name="idle"))
    assert cs.Hangup("c1") in commands
    ended = published(session.handle(cs.CallerGone(at=T0 + timedelta(seconds=31))))
    assert isinstance(ended[0], domain.CallEnded) and ended[0].reason == "system_hangup"
    assert session.state is cs.CallState.ENDED


def test_caller_hanging_up_mid_greeting_ends_the_call_as_caller_hangup() -> None:
    session = cs.CallSession(CONFIG)
    started(session)
    ended = published(session.handle(cs.CallerGone(at=T0)))
    assert isinstance(ended[0], domain.CallEnded) and ended[0].reason == "caller_hangup"
    # Stragglers after the end change nothing and raise nothing.
    assert session.handle(cs.Digit(at=T0, digit="5")) == []
    assert session.handle(cs.CallerGone(at=T0)) == []
    assert session.handle(cs.PlaybackDone(at=T0, playback_id="x")) == []


def test_a_finished_playback_of_another_prompt_does_not_advance_the_call() -> None:
    session = cs.CallSession(CONFIG)
    started(session)
    assert session.handle(cs.PlaybackDone(at=T0, playback_id="someone-elses")) == []
    assert session.state is cs.CallState.GREETING


def test_benchmark_flow_hangs_up_right_after_its_prompt_without_state_writes() -> None:
    session = cs.CallSession(cs.FlowConfig(greeting="sound:beep", idle_hangup_s=5,
                                           hangup_after_greeting=True, persist_state=False))
    commands = started(session)
    assert not any(isinstance(c, cs.SetVar) for c in commands)
    play = next(c for c in commands if isinstance(c, cs.Play))
    assert cs.Hangup("c1") in session.handle(cs.PlaybackDone(at=T0, playback_id=play.playback_id))


def test_adopted_call_restarts_the_quiet_timer_and_a_dying_one_is_finished() -> None:
    waiting = cs.CallSession(CONFIG)
    commands = waiting.handle(cs.Adopted(at=T0, channel_id="c9", channel_name="Local/x;2",
                                         caller_number="+48600", caller_name="",
                                         saved_state="greeting"))
    assert cs.ArmTimer("idle", 30) in commands
    assert waiting.state is cs.CallState.WAITING
    dying = cs.CallSession(CONFIG)
    commands = dying.handle(cs.Adopted(at=T0, channel_id="c8", channel_name="Local/y;2",
                                       caller_number="", caller_name="", saved_state="ending"))
    assert cs.Hangup("c8") in commands


def test_inputs_before_the_call_starts_are_ignored_with_a_note() -> None:
    session = cs.CallSession(CONFIG)
    assert session.handle(cs.Digit(at=T0, digit="1")) == []
    assert session.state is cs.CallState.NEW
    assert "ignored" in session.notes[0]
