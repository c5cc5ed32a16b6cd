"""The ACD's notices as Asterisk queue_log lines (pure: a drill's steps through QueueLogLines)."""

from __future__ import annotations

from pathlib import Path

from cti import events as ev
from cti.config import QueueConfig
from cti.drill import T0, Drill, rings
from cti.queue_log import QueueLogLines, QueueLogWriter, SwitchboardLookup

EPOCH = int(T0.timestamp())


class Lines:
    def __init__(self, d: Drill) -> None:
        self.d = d
        self.log = QueueLogLines(SwitchboardLookup(d, lambda call, agent: f"{call}-{agent}-1"))
        self.seen = 0

    def new(self) -> list[str]:
        out = []
        for step in self.d.steps[self.seen:]:
            for notice in step.notices:
                out += self.log.lines(notice)
        self.seen = len(self.d.steps)
        return [line.removeprefix(f"{EPOCH}|") for line in out]

    def at(self, seconds: int) -> str:
        return str(EPOCH + seconds)


def test_a_call_answered_then_one_abandoned_as_app_queue_writes_them() -> None:
    d = Drill(QueueConfig("q", wrapup_s=0, ring_timeout_s=10))
    lines = Lines(d)
    d.login("anna", "q")
    assert lines.new() == ["CTI|q|anna|ADDMEMBER|"]
    d.call("c1", "q", number="+48221110000")
    d.call("c2", "q", number="+48222220000")
    assert lines.new() == ["c1|q|NONE|ENTERQUEUE||+48221110000|1",
                           "c2|q|NONE|ENTERQUEUE||+48222220000|2"]
    d.advance(3)
    d.answer("c1", "anna")
    (connect,) = lines.new()
    assert connect == f"{EPOCH + 3}|c1|q|anna|CONNECT|3|c1-anna-1|3"
    d.advance(5)
    d.hangup("c2")  # c2 moved up to 1st place when c1 was answered; waited 8 s
    d.advance(2)
    d.feed(ev.AgentHungUp(d.t, "c1", "anna"))
    assert lines.new() == [f"{EPOCH + 8}|c2|q|NONE|ABANDON|1|2|8",
                           f"{EPOCH + 10}|c1|q|anna|COMPLETEAGENT|3|7|1"]


def test_unanswered_ring_caller_hangup_pause_and_logout() -> None:
    d = Drill(QueueConfig("q", wrapup_s=0, ring_timeout_s=4))
    lines = Lines(d)
    d.login("anna", "q")
    d.call("c1", "q")
    lines.new()
    d.advance(4)  # anna does not answer
    out = lines.new()
    assert f"{EPOCH + 4}|c1|q|anna|RINGNOANSWER|4000" in out
    d.feed(ev.AgentPaused(d.t, "anna", "przerwa"))
    d.feed(ev.AgentReady(d.t, "anna"))
    d.advance(1)
    d.hangup("c1")
    d.feed(ev.AgentLoggedOut(d.t, "anna"))
    out = [x.split("|", 1)[1] for x in lines.new()]
    assert "NONE|q|anna|PAUSE|przerwa" in out
    assert "NONE|q|anna|UNPAUSE|" in out
    assert "c1|q|NONE|ABANDON|1|1|5" in out
    assert out[-1] == "CTI|q|anna|REMOVEMEMBER|"
    d.login("bart", "q")
    d.call("c2", "q")
    d.advance(1)
    d.hangup("c2")  # while bart's phone rings
    out = [x.split("|", 1)[1] for x in lines.new()]
    assert out[-2:] == ["c2|q|bart|RINGCANCELED|1000", "c2|q|NONE|ABANDON|1|1|1"]


def test_caller_hangup_after_talk_is_completecaller_and_a_blind_transfer_is_transfer(
        ) -> None:
    d = Drill(QueueConfig("q", wrapup_s=0), QueueConfig("water", wrapup_s=0))
    lines = Lines(d)
    d.login("anna", "q")
    d.login("bart", "q")
    d.call("c1", "q")
    d.answer("c1", "anna")
    d.advance(20)
    d.hangup("c1")
    assert lines.new()[-1] == f"{EPOCH + 20}|c1|q|anna|COMPLETECALLER|0|20|1"
    ((_, agent),) = rings(d.call("c2", "q"))
    d.answer("c2", agent)
    d.advance(6)
    d.feed(ev.TransferRequested(d.t, "c2", agent, ev.TargetKind.QUEUE, "water"))
    out = lines.new()
    assert f"{EPOCH + 26}|c2|q|{agent}|TRANSFER|water|queue|0|6|1" in out
    assert f"{EPOCH + 26}|c2|water|NONE|ENTERQUEUE||{d.acd.entries['c2'].caller.number}|1" \
        in out
    assert not [x for x in out if "COMPLETE" in x]


def test_writer_appends_lines(tmp_path: Path) -> None:
    d = Drill(QueueConfig("q"))
    writer = QueueLogWriter(tmp_path / "sub" / "queue_log", SwitchboardLookup(d))
    d.login("anna", "q")
    for n in d.steps[-1].notices:
        writer(n)
    writer.close()
    assert (tmp_path / "sub" / "queue_log").read_text() == f"{EPOCH}|CTI|q|anna|ADDMEMBER|\n"


def test_after_a_restart_the_log_goes_on_without_repeating_logins() -> None:
    d = Drill(QueueConfig("q", wrapup_s=0))
    d.login("anna", "q")
    d.login("bart", "q")
    d.call("c1", "q")
    d.call("c2", "q")
    d.call("c3", "q")
    restarted = QueueLogLines(SwitchboardLookup(d))
    restarted.adopt(d.acd)  # c1 and c2 ring (still in line, as in app_queue), c3 waits
    seen = len(d.steps)
    d.hangup("c3")
    (agent,) = [a for step in d.steps for c, a in rings(step) if c == "c1"]
    d.answer("c1", agent)
    out = [x.split("|", 4)[4] for s in d.steps[seen:] for n in s.notices
           for x in restarted.lines(n)]
    assert out == ["ABANDON|3|3|0", "CONNECT|0||0"]


def test_logging_in_paused_adds_a_paused_member_with_its_reason() -> None:
    d = Drill(QueueConfig("q"), QueueConfig("water"))
    lines = Lines(d)
    d.login("anna", "q", "water", paused="szkolenie")
    assert lines.new() == ["CTI|q|anna|ADDMEMBER|PAUSED", "CTI|water|anna|ADDMEMBER|PAUSED",
                           "NONE|q|anna|PAUSE|szkolenie", "NONE|water|anna|PAUSE|szkolenie"]
