"""The notification call's pure core (pbx.notify_call): events in, commands out."""

from __future__ import annotations

from ivr.commands import PromptRef
from pbx import notify_call as nc


def _ref(name: str) -> PromptRef:
    return PromptRef(f"notify.{name}.pl", name, "pl", "zlw/pl")


SCRIPT = nc.CallScript(message=_ref("message"), menu=_ref("menu"), goodbye=_ref("goodbye"),
                       connecting=_ref("connecting"), language="pl", queue="ogolna", plays=2,
                       max_plays=4, menu_wait_s=6.0)


def _played(commands: list[nc.Command]) -> list[str]:
    return [p.prompts[0].text for p in commands if isinstance(p, nc.Play)]


def _finish(call: nc.NotifyCall, out: list[nc.Command]) -> list[nc.Command]:
    """The playback just started ends."""
    play = next(c for c in reversed(out) if isinstance(c, nc.Play))
    return call.handle(nc.PlaybackDone(play.playback_id))


def _menu_timeout(call: nc.NotifyCall, out: list[nc.Command]) -> list[nc.Command]:
    timer = next(c for c in out if isinstance(c, nc.ArmTimer))
    return call.handle(nc.TimerFired(timer.name, timer.turn))


def test_answered_is_delivered_at_once_then_message_then_menu() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    out = call.handle(nc.Answered())
    assert out[0] == nc.Report(True) and _played(out) == ["message"]
    assert call.phase is nc.Phase.PLAYING and not call.heard
    out = _finish(call, out)
    assert _played(out) == ["menu"] and call.heard and call.phase is nc.Phase.MENU
    out = _finish(call, out)
    assert out == [nc.ArmTimer(nc.MENU_TIMER, 6.0, 1)]


def test_no_key_repeats_once_then_says_goodbye_and_hangs_up() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    out = _finish(call, _finish(call, call.handle(nc.Answered())))
    out = _menu_timeout(call, out)
    assert _played(out) == ["message"] and call.plays == 2
    out = _finish(call, _finish(call, out))
    out = _menu_timeout(call, out)
    assert _played(out) == ["goodbye"] and call.phase is nc.Phase.CLOSING
    assert _finish(call, out) == [nc.Hangup()]
    assert call.phase is nc.Phase.ENDED
    assert call.handle(nc.Digit("0")) == []  # nothing after the end


def test_one_during_the_message_starts_it_again() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    first = call.handle(nc.Answered())
    playing = next(c for c in first if isinstance(c, nc.Play)).playback_id
    out = call.handle(nc.Digit("1"))
    assert nc.StopPlayback(playing) in out and _played(out) == ["message"]
    # The cut-short playback's own "finished" arrives late: it is not the current one.
    assert call.handle(nc.PlaybackDone(playing)) == []
    assert call.phase is nc.Phase.PLAYING


def test_zero_in_the_menu_goes_to_the_acd_and_keys_then_belong_to_it() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    out = _finish(call, _finish(call, call.handle(nc.Answered())))  # the menu was read out
    out = call.handle(nc.Digit("0"))
    assert nc.CancelTimer(nc.MENU_TIMER) in out
    assert _played(out) == ["connecting"] and out[-1] == nc.ToConsultant("ogolna", "pl")
    assert call.phase is nc.Phase.TO_CONSULTANT and call.handed_over
    assert call.handle(nc.Digit("1")) == [nc.AcdDigit("1")]
    # A menu timer armed before the key is stale.
    assert _menu_timeout(call, [*out, nc.ArmTimer(nc.MENU_TIMER, 6.0, 1)]) == []
    assert call.handle(nc.HungUp()) == [nc.CancelTimer(nc.MENU_TIMER), nc.LeaveAcd()]
    assert call.phase is nc.Phase.ENDED


def test_not_answered_reports_the_networks_reason_once() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    out = call.handle(nc.HungUp(17, "User busy"))
    assert out == [nc.Report(False, "not answered: busy (User busy, cause 17)")]
    assert call.handle(nc.HungUp(16, "")) == [] and call.handle(nc.Answered()) == []
    assert nc.not_answered(19, "User alerting, no answer").startswith("not answered: no answer (")
    assert nc.not_answered(0, "") == "not answered: hung up before the answer (no reason given, cause 0)"


def test_hanging_up_during_the_message_keeps_it_delivered() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    call.handle(nc.Answered())
    out = call.handle(nc.HungUp())
    assert not any(isinstance(c, nc.Report) for c in out)
    assert call.reported == nc.Report(True) and not call.heard


def test_other_keys_are_ignored_and_asked_repeats_are_capped() -> None:
    call = nc.NotifyCall(SCRIPT, "notify-1")
    call.handle(nc.Answered())
    assert call.handle(nc.Digit("5")) == [] and call.handle(nc.Digit("#")) == []
    for _ in range(SCRIPT.max_plays - 1):
        assert _played(call.handle(nc.Digit("1"))) == ["message"]
    assert call.plays == SCRIPT.max_plays
    assert _played(call.handle(nc.Digit("1"))) == ["goodbye"]


def test_a_call_adopted_from_the_acd_after_a_restart_only_forwards() -> None:
    call = nc.NotifyCall.adopted(SCRIPT, "notify-1")
    assert call.phase is nc.Phase.TO_CONSULTANT and call.reported == nc.Report(True)
    assert call.handle(nc.Answered()) == []  # no message, no second outcome
    assert call.handle(nc.Digit("1")) == [nc.AcdDigit("1")]  # a callback offer's answer
    assert call.handle(nc.HungUp()) == [nc.CancelTimer(nc.MENU_TIMER), nc.LeaveAcd()]
    assert call.phase is nc.Phase.ENDED
