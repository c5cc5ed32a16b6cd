"""Residents and the screen-pop: a consultant sees who is calling and what they said before."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.services import residents
from crm_core.services.cases import Actor, NewCase, create_case, transition_case
from crm_core.services.interactions import record_event
from tests.crm.events_factory import T0, call_events

DESK = Actor("konsultant1")


def test_resident_with_several_numbers_is_found_by_any_notation(db: Database) -> None:
    made = residents.create_resident(
        db, name="Jan Kowalski", phones=["600 100 200", "0048 22 555 01 02"], consent_contact=True
    )
    assert made.phones == ("+48600100200", "+48225550102")
    found = residents.find_resident(db, "+48 22 555 01 02")
    assert found is not None and found.id == made.id and found.name == "Jan Kowalski"


def test_invalid_input_names_every_bad_field_and_writes_nothing(db: Database) -> None:
    with pytest.raises(ValidationError) as err:
        residents.create_resident(db, name="x" * 201, phones=["600100200", "12"], preferred_language="xx")
    assert set(err.value.fields) == {"name", "phones[1]", "preferred_language"}
    assert residents.find_resident(db, "600100200") is None


def test_a_number_belongs_to_one_resident(db: Database) -> None:
    residents.create_resident(db, name="A", phones=["600100200"])
    with pytest.raises(ValidationError) as err:
        residents.create_resident(db, name="B", phones=["+48600100200"])
    assert "already belongs" in err.value.fields["phones"]


def test_caller_history_shows_resident_latest_calls_and_only_open_cases(seeded: Database) -> None:
    db = seeded
    for i in range(12):
        for event in call_events(f"c{i}", "600100200", start=T0 + timedelta(hours=i)):
            record_event(db, event)
    record_event(db, call_events("other", "511222333")[0])
    person = residents.find_resident(db, "600100200")
    assert person is not None
    draft = NewCase("waste.illegal_dump", "Opony w lesie", address="Ul. Leśna 1",
                    district="Wawer", resident_id=person.id)  # fmt: skip
    open_case = create_case(db, draft, by=DESK).case
    closed = create_case(db, draft, by=DESK).case
    transition_case(db, closed.id, "rejected", by=DESK, comment="poza miastem")

    history = residents.caller_history(db, "0048600100200", limit=5)
    assert history.known and history.resident is not None
    assert history.resident.id == person.id
    assert [i.started_at for i in history.interactions] == [
        T0 + timedelta(hours=h) for h in (11, 10, 9, 8, 7)
    ]
    assert history.interactions[0].queue == "czystosc"
    assert history.interactions[0].agent_username == "konsultant1"
    assert [c.number for c in history.open_cases] == [open_case.number]
    assert history.open_cases[0].category == "Czystość i odpady"


def test_unknown_and_withheld_callers_get_an_empty_screen_pop(db: Database) -> None:
    assert not residents.caller_history(db, "600999888").known
    assert residents.caller_history(db, "anonymous").interactions == ()
    assert not residents.caller_history(db, "garbage").known


def test_update_resident_and_add_phone(db: Database) -> None:
    made = residents.create_resident(db, phones=["600100200"])
    residents.update_resident(db, made.id, name="Ola", preferred_language="uk")
    after = residents.add_phone(db, made.id, "+48 601 000 000", label="praca")
    assert after.name == "Ola" and after.preferred_language == "uk"
    assert after.phones == ("+48600100200", "+48601000000")
