"""A realistic call, as the call controller would publish it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ground import events as ev

T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def call_events(
    call_id: str, caller: str = "600100200", *, start: datetime = T0, agent: str = "konsultant1"
) -> list[ev.DomainEvent]:
    def at(s: float) -> datetime:
        return start + timedelta(seconds=s)

    return [
        ev.CallStarted(call_id, at(0), caller, "", "19115", f"PJSIP/trunk-{call_id}"),
        ev.CallAnswered(call_id, at(1)),
        ev.PromptPlayed(call_id, at(1.5), "sound:ckm/powitanie"),
        ev.IvrStep(call_id, at(8), "glowne", "3", "menu", "dtmf", "2", None, "czystosc"),
        ev.DtmfReceived(call_id, at(8), "2"),
        ev.IvrStep(call_id, at(14), "glowne", "3", "czystosc", "speech", "dzikie wysypisko",
                   0.82, "kolejka"),
        ev.CallQueued(call_id, at(15), "czystosc", "waste", 2),
        ev.CallOffered(call_id, at(40), "czystosc", agent),
        ev.AgentConnected(call_id, at(45), "czystosc", agent, 30.0),
        ev.CallEnded(call_id, at(225), "caller_hangup"),
    ]  # fmt: skip
