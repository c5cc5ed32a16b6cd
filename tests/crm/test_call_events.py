"""Call events from the controller become one interaction with the whole IVR path."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.services import interactions, residents
from ground import events as ev
from tests.crm.events_factory import T0, call_events


def test_a_call_is_recorded_with_path_queue_agent_and_times(seeded: Database) -> None:
    for event in call_events("1709370900.42"):
        interactions.record_event(seeded, event)
    call = interactions.get_call(seeded, "1709370900.42")
    assert call.channel == "phone" and call.caller_number == "600100200"
    assert call.started_at == T0 and call.answered_at == T0 + timedelta(seconds=1)
    assert [(s.seq, s.node, s.input_kind, s.input_value) for s in call.ivr_path] == [
        (1, "menu", "dtmf", "2"),
        (2, "czystosc", "speech", "dzikie wysypisko"),
    ]
    assert call.ivr_path[1].confidence == pytest.approx(0.82)
    assert call.queue == "czystosc" and call.wait_s == 30.0
    assert call.agent_username == "konsultant1"
    assert call.talk_s == 180.0 and call.end_reason == "caller_hangup"
    # A first call from a number creates a (nameless) resident, so the next one has history.
    person = residents.find_resident(seeded, "600100200")
    assert person is not None and call.resident_id == person.id


def test_events_of_a_call_never_started_still_land(seeded: Database) -> None:
    # A controller restarted mid-call re-adopts it: CallStarted was published by its predecessor.
    interactions.record_event(seeded, ev.CallEnded("lost-start", T0, "caller_hangup"))
    assert interactions.get_call(seeded, "lost-start").ended_at == T0


def test_anonymous_caller_has_no_resident(seeded: Database) -> None:
    interactions.record_event(seeded, ev.CallStarted("anon", T0, "anonymous", "", "19115", "PJSIP/x"))
    assert interactions.get_call(seeded, "anon").resident_id is None


def test_wrap_up_needs_a_known_disposition_and_keeps_notes(seeded: Database) -> None:
    for event in call_events("w1"):
        interactions.record_event(seeded, event)
    with pytest.raises(ValidationError) as err:
        interactions.wrap_up(seeded, "w1", disposition_code="nonsense", notes="x" * 10_001, at=T0)
    assert set(err.value.fields) == {"disposition_code", "notes"}
    assert interactions.get_call(seeded, "w1").disposition_code is None
    done = interactions.wrap_up(
        seeded, "w1", disposition_code="case_created", notes="Przyjęto zgłoszenie opon",
        recording_ref="rec/w1.wav", at=T0 + timedelta(minutes=5),
    )  # fmt: skip
    assert done.disposition_code == "case_created" and done.recording_ref == "rec/w1.wav"


def test_portal_contact_is_an_interaction_without_call_id(db: Database) -> None:
    made = interactions.record_contact(db, channel="portal", at=T0, subject="Zgłoszenie z portalu")
    assert made.call_id is None and made.channel == "portal"
    with pytest.raises(ValidationError):
        interactions.record_contact(db, channel="fax", at=T0)
    with pytest.raises(NotFound):
        interactions.get_call(db, "nope")


def test_disposition_from_the_desk_arrives_as_an_event(seeded: Database) -> None:
    for event in call_events("d1"):
        interactions.record_event(seeded, event)
    done_at = T0 + timedelta(minutes=6)
    interactions.record_event(
        seeded, ev.CallDispositioned("d1", done_at, "konsultant1", "info_given", "Harmonogram")
    )
    call = interactions.get_call(seeded, "d1")
    assert (call.disposition_code, call.notes) == ("info_given", "Harmonogram")
