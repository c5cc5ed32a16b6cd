"""Cases: validation, numbering, routing, lifecycle, duplicates and portal tracking."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest

from crm_core.db import Database
from crm_core.errors import NotFound, TransitionError, ValidationError
from crm_core.services import cases
from crm_core.services.cases import Actor, CaseChanges, NewCase
from crm_core.services.routing import route_case

DESK = Actor("konsultant1")
AT = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
POTHOLE = NewCase(
    "roads.pothole", "Głęboka dziura na prawym pasie", address="Al. Jerozolimskie 100",
    district="Ochota", lat=52.2254, lon=20.9941, priority=1,
)  # fmt: skip


def _count(db: Database) -> int:
    return len(cases.list_cases(db, limit=500))


def test_new_case_gets_a_number_a_department_and_a_history(seeded: Database) -> None:
    made = cases.create_case(seeded, POTHOLE, by=DESK, at=AT)
    case = made.case
    assert re.fullmatch(r"19115/2026/\d{6}", case.number)
    assert case.status == "new" and case.category == "roads" and case.subcategory == "roads.pothole"
    assert case.department == "ZDM"
    assert [(h.from_status, h.to_status, h.by) for h in case.history] == [(None, "new", "konsultant1")]
    # The tracking token finds the case; it is long and random, and not stored in clear.
    assert len(made.tracking_token) >= 22
    assert cases.find_case_by_token(seeded, made.tracking_token).number == case.number
    with pytest.raises(NotFound):
        cases.find_case_by_token(seeded, made.tracking_token + "x")


def test_numbers_run_consecutively_per_year(seeded: Database) -> None:
    first = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case.number
    second = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case.number
    next_year = cases.create_case(seeded, POTHOLE, by=DESK, at=datetime(2027, 1, 1, tzinfo=UTC)).case.number
    assert (first, second, next_year) == ("19115/2026/000001", "19115/2026/000002",
                                          "19115/2027/000001")  # fmt: skip


def test_concurrent_consoles_never_share_a_number(seeded: Database) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []

    def file_cases() -> None:
        try:
            for _ in range(8):
                numbers.append(cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case.number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=file_cases) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(numbers) == [f"19115/2026/{n:06d}" for n in range(1, 49)]


def test_bad_input_names_each_field_and_writes_nothing(seeded: Database) -> None:
    bad = NewCase(
        "roads", "x" * 5001, subcategory="animals.stray", priority=9, district="Gotham",
        lat=51.1, lon=None,
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        cases.create_case(seeded, bad, by=DESK)
    assert set(err.value.fields) == {"description", "priority", "district", "lat", "subcategory"}
    with pytest.raises(ValidationError) as err:
        cases.create_case(seeded, NewCase("unicorns", "Coś", address="Rynek 1"), by=DESK)
    assert err.value.fields == {"category": "unknown category 'unicorns'"}
    with pytest.raises(ValidationError) as err:
        cases.create_case(seeded, NewCase("roads", "Dziura"), by=DESK)
    assert "location" in err.value.fields
    assert _count(seeded) == 0


def test_routing_prefers_district_and_subcategory_rules(seeded: Database) -> None:
    assert route_case(seeded, "roads.pothole", "Ochota").code == "ZDM"
    assert route_case(seeded, "roads.pothole", "Wawer").code == "UD-WAWER"
    assert route_case(seeded, "greenery.mowing", "Żoliborz").code == "UD-ZOLIBORZ"
    assert route_case(seeded, "greenery.tree", "Żoliborz").code == "ZZW"
    assert route_case(seeded, "animals.wild").code == "LMW"
    assert route_case(seeded, "animals").code == "SM-EKO"
    with pytest.raises(ValidationError):
        route_case(seeded, "unicorns")


def test_lifecycle_follows_the_table_and_records_who_when_why(seeded: Database) -> None:
    case = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case
    zdm = Actor("department:ZDM")
    cases.transition_case(seeded, case.id, "forwarded", by=DESK, at=AT)
    cases.transition_case(seeded, case.id, "in_progress", by=zdm, comment="ekipa wysłana", at=AT)
    done = cases.transition_case(seeded, case.id, "resolved", by=zdm, comment="załatane", at=AT)
    assert [h.to_status for h in done.history] == ["new", "forwarded", "in_progress", "resolved"]
    assert done.history[-1].by == "department:ZDM" and done.history[-1].comment == "załatane"
    with pytest.raises(TransitionError) as err:
        cases.transition_case(seeded, case.id, "forwarded", by=DESK)
    assert "allowed: closed, in_progress" in err.value.fields["status"]
    closed = cases.transition_case(seeded, case.id, "closed", by=DESK)
    with pytest.raises(TransitionError) as err:
        cases.transition_case(seeded, case.id, "in_progress", by=DESK)
    assert "final status" in str(err.value)
    assert cases.get_case(seeded, case.id).history == closed.history
    with pytest.raises(ValidationError):
        cases.transition_case(seeded, case.id, "teleported", by=DESK)


def test_update_validates_and_reroutes_a_new_case(seeded: Database) -> None:
    case = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case
    moved = cases.update_case(seeded, case.id, CaseChanges(district="Wawer"), by=DESK)
    assert moved.department == "UD-WAWER"
    with pytest.raises(ValidationError) as err:
        cases.update_case(seeded, case.id, CaseChanges(description=" ", priority=0), by=DESK)
    assert set(err.value.fields) == {"description", "priority"}
    assert cases.get_case(seeded, case.id).description == POTHOLE.description


def test_duplicates_are_suggested_nearby_and_closed_against_the_original(
    seeded: Database,
) -> None:
    original = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case
    far = NewCase("roads.pothole", "Dziura", lat=52.2400, lon=20.9941, district="Wola")
    cases.create_case(seeded, far, by=DESK, at=AT)  # ~1.6 km north
    other_kind = NewCase("waste.bins", "Kosz", lat=52.2255, lon=20.9942, district="Ochota")
    cases.create_case(seeded, other_kind, by=DESK, at=AT)
    found = cases.suggest_duplicates(seeded, "roads.pothole", 52.2256, 20.9943, radius_m=100)
    assert [c.case.number for c in found] == [original.number]
    assert 20 < found[0].distance_m < 35
    second = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case
    dup = cases.mark_duplicate(seeded, second.id, original.id, by=DESK)
    assert dup.status == "closed" and dup.duplicate_of == original.number
    # A closed duplicate is no longer suggested.
    found = cases.suggest_duplicates(seeded, "roads.pothole", 52.2256, 20.9943, radius_m=100)
    assert [c.case.number for c in found] == [original.number]


def test_case_links_the_interactions_it_came_from(seeded: Database) -> None:
    from crm_core.services.interactions import record_contact

    contact = record_contact(seeded, channel="app", at=AT, subject="Zdjęcie dziury")
    draft = NewCase("roads.pothole", "Z aplikacji", lat=52.2254, lon=20.9941, channel="app",
                    interaction_ids=(contact.id,))  # fmt: skip
    case = cases.create_case(seeded, draft, by=Actor("app"), at=AT).case
    assert case.interaction_ids == (contact.id,) and case.channel == "app"
    with pytest.raises(ValidationError) as err:
        cases.create_case(seeded, NewCase("roads", "x", address="a", interaction_ids=(999,)),
                          by=DESK)  # fmt: skip
    assert "interaction_ids" in err.value.fields
