"""Phone-call notifications, the parts without telephony: quiet hours, retries, what is said,
and the call dispatcher's deferral and backoff on SQLite and PostgreSQL with an injected clock.
The calls themselves are tested on the real Asterisk (tests/pbx/test_notify_call_live.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import Notification
from crm_core.notifications import calls, rules, store
from crm_core.notifications.call_dispatcher import CallDispatcher, policy_from
from crm_core.notifications.store import Outcome, Outgoing
from crm_core.services import cases, residents
from crm_core.services.cases import Actor, NewCase
from ground.settings import Settings, SettingsError
from tests.polling import wait_until

WARSAW = calls.WARSAW
QUIET = calls.QuietHours()
DEPT = Actor("department:ZDM")
POTHOLE = NewCase("roads.pothole", "Dziura na prawym pasie", address="Al. Jerozolimskie 100",
                  district="Ochota")


def _warsaw(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=WARSAW).astimezone(UTC)


# --- quiet hours


@pytest.mark.parametrize(("hour", "minute", "quiet"), [
    (20, 59, False), (21, 0, True), (23, 30, True), (0, 0, True), (7, 59, True), (8, 0, False),
    (12, 0, False)])
def test_quiet_from_nine_in_the_evening_to_eight_in_the_morning(hour: int, minute: int,
                                                                quiet: bool) -> None:
    assert QUIET.contains(_warsaw(2026, 12, 7, hour, minute)) is quiet


def test_a_call_due_in_the_quiet_hours_waits_until_eight_warsaw_time() -> None:
    evening = _warsaw(2026, 12, 7, 22, 15)
    assert QUIET.next_allowed(evening) == _warsaw(2026, 12, 8, 8, 0)
    night = _warsaw(2026, 12, 8, 3, 0)
    assert QUIET.next_allowed(night) == _warsaw(2026, 12, 8, 8, 0)
    noon = _warsaw(2026, 12, 8, 12, 0)
    assert QUIET.next_allowed(noon) == noon
    # Winter: 08:00 in Warsaw is 07:00 UTC; summer: 06:00 UTC. The night the clocks go forward
    # (29 March 2026) still ends at 08:00 local.
    assert QUIET.next_allowed(evening).hour == 7
    assert QUIET.next_allowed(_warsaw(2026, 3, 28, 23, 0)) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)


def test_quiet_hours_are_parsed_from_the_setting_and_refused_when_malformed() -> None:
    assert calls.QuietHours.parse("22:30-07:00").start == time(22, 30)
    day = calls.QuietHours.parse("12:00-13:00")  # a window that does not wrap midnight
    assert day.contains(_warsaw(2026, 12, 7, 12, 30)) and not day.contains(_warsaw(2026, 12, 7, 13))
    never = calls.QuietHours.parse("none")
    assert not never.contains(_warsaw(2026, 12, 7, 23)) and never.next_allowed(
        _warsaw(2026, 12, 7, 23)) == _warsaw(2026, 12, 7, 23)
    for bad in ("21-8", "25:00-08:00", "evening"):
        with pytest.raises(ValueError, match="quiet hours"):
            calls.QuietHours.parse(bad)
    with pytest.raises(SettingsError, match="notify_call_quiet_hours"):
        policy_from(Settings(notify_call_quiet_hours="9pm-8am"))
    with pytest.raises(SettingsError, match="notify_call_attempts"):
        policy_from(Settings(notify_call_attempts=0))


def test_three_calls_ten_twenty_then_failed() -> None:
    policy = policy_from(Settings())
    assert policy.attempts == 3
    assert [policy.retry_delay_s(n) for n in (1, 2, 3)] == [600, 1200, 1800]


# --- what is said


@pytest.mark.parametrize(("lang", "intro", "number", "what"), [
    ("pl", "Dzień dobry, tu Miejskie Centrum Kontaktu Warszawa 19115", "numer 42 z roku 2026",
     "Sprawa została załatwiona."),
    ("en", "Hello, this is the Warsaw city contact center 19115", "number 42 of 2026",
     "It has been resolved."),
    ("uk", "Добрий день, це Міський контактний центр Варшави 19115", "номер 42 за 2026 рік",
     "Справу вирішено."),
])
def test_the_spoken_message_in_the_residents_language(lang: str, intro: str, number: str,
                                                      what: str) -> None:
    said = calls.spoken(rules.MessageContext(
        kind="resolved", language=lang, case_number="19115/2026/000042", category="Drogi",
        place="Marszałkowska 1", note="Ubytek\nuzupełniony.", tracking_url="https://x/portal/t/abc"))
    assert said.startswith(intro) and number in said and what in said
    assert "Ubytek uzupełniony." in said and "http" not in said and "\n" not in said


def test_a_question_tells_how_to_answer() -> None:
    said = calls.spoken(rules.MessageContext(
        kind="question", language="pl", case_number="19115/2026/000042", category="Drogi",
        place=None, note="Który pas?", tracking_url="https://x"))
    assert "Pytanie: Który pas?" in said and said.endswith("naciśnij zero.")


# --- the outbox side, on a real database


def _report_by_phone(db: Database, *, consent: bool = True) -> int:
    resident = residents.create_resident(db, phones=["+48600100200"], name="Jan Kowalski",
                                         consent_contact=consent)
    made = cases.create_case(db, dataclasses.replace(POTHOLE, resident_id=resident.id),
                             by=Actor("portal"))
    store.set_preference(db, made.case.id, "phone", "+48600100200", language="en",
                         tracking_token=made.tracking_token)
    cases.transition_case(db, made.case.id, "forwarded", by=Actor("konsultant1"))
    cases.transition_case(db, made.case.id, "in_progress", by=DEPT)
    return made.case.id


def _rows(db: Database) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Notification).order_by(Notification.id)).all())


class NoCallsAllowed:
    """A dialer that fails the test if it is ever asked to call."""

    def ready(self) -> bool:
        return True

    def in_progress(self) -> int:
        return 0

    async def call(self, item: Outgoing, deadline_s: float) -> Outcome:
        raise AssertionError(f"a resident was called: {item.to}")

    async def close(self) -> None:
        pass


class Busy:
    """A dialer whose every call meets a busy line (as Asterisk reports it)."""

    def __init__(self) -> None:
        self.called: list[int] = []

    def ready(self) -> bool:
        return True

    def in_progress(self) -> int:
        return 0

    async def call(self, item: Outgoing, deadline_s: float) -> Outcome:
        self.called.append(item.attempts)
        return Outcome(False, error="not answered: busy (User busy, cause 17)")

    async def close(self) -> None:
        pass


async def _settle(dispatcher: CallDispatcher) -> None:
    await wait_until("the dispatcher's calls to end", lambda: not dispatcher._calls, 10,
                     every_s=0.01)


async def test_a_call_due_at_night_is_deferred_to_eight_not_placed(seeded: Database) -> None:
    await asyncio.to_thread(_report_by_phone, seeded)
    [row] = _rows(seeded)
    assert row.channel == "phone" and row.status == "pending"
    assert row.body_text.startswith("Hello, this is the Warsaw city contact center 19115")
    night = _warsaw(2099, 12, 7, 23, 40)  # the row is due (created now, long before)
    dispatcher = CallDispatcher(seeded, NoCallsAllowed(), clock=lambda: night)
    assert await dispatcher.run_once() == 0
    [row] = _rows(seeded)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == _warsaw(2099, 12, 8, 8, 0) and dispatcher.deferred == 1
    # Still night at 07:59: nothing; the row is not due yet either.
    dispatcher.clock = lambda: _warsaw(2099, 12, 8, 7, 59)
    assert await dispatcher.run_once() == 0
    # At 08:00 the resident is called.
    busy = Busy()
    morning = CallDispatcher(seeded, busy, clock=lambda: _warsaw(2099, 12, 8, 8, 0))
    assert await morning.run_once() == 1
    await _settle(morning)
    assert busy.called == [1]


async def test_unanswered_calls_are_retried_ten_and_twenty_minutes_later_then_failed(
        seeded: Database) -> None:
    await asyncio.to_thread(_report_by_phone, seeded)
    busy = Busy()
    now = [_warsaw(2099, 6, 1, 10, 0)]
    dispatcher = CallDispatcher(seeded, busy, clock=lambda: now[0])
    waits = []
    for _ in range(3):
        assert await dispatcher.run_once() == 1
        await _settle(dispatcher)
        assert await dispatcher.run_once() == 0  # not due again yet: no second call at once
        [row] = _rows(seeded)
        waits.append(row.next_attempt_at - now[0])
        now[0] = row.next_attempt_at
    [row] = _rows(seeded)
    assert busy.called == [1, 2, 3]
    assert waits[:2] == [timedelta(minutes=10), timedelta(minutes=20)]
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error == "not answered: busy (User busy, cause 17)"
    now[0] += timedelta(hours=5)
    assert await dispatcher.run_once() == 0 and busy.called == [1, 2, 3]


async def test_a_resident_who_withdrew_consent_is_never_called(seeded: Database) -> None:
    await asyncio.to_thread(_report_by_phone, seeded, consent=False)
    assert _rows(seeded) == []
    dispatcher = CallDispatcher(seeded, NoCallsAllowed(), clock=lambda: _warsaw(2099, 6, 1, 10))
    assert await dispatcher.run_once() == 0


async def test_the_consultant_records_a_phone_call_choice_with_the_number_on_file(
        seeded: Database) -> None:
    """On the line the resident asks to be called back with the news: the desk's form records
    `phone` with their number and language, and the news is enqueued as a spoken message."""
    from agent_desktop.crm import Crm

    resident = residents.create_resident(seeded, phones=["600 100 400"], name="Olena",
                                         preferred_language="uk", consent_contact=False)
    made = await Crm(seeded).create_case(dataclasses.replace(POTHOLE, resident_id=resident.id),
                                         Actor("konsultant1"), None, ("phone", None))
    cases.transition_case(seeded, made["id"], "forwarded", by=Actor("konsultant1"))
    cases.transition_case(seeded, made["id"], "resolved", by=DEPT, comment="Залатано.", public=True)
    (row,) = _rows(seeded)
    assert (row.kind, row.channel, row.to_address, row.language) == (
        "resolved", "phone", "+48600100400", "uk")
    assert row.body_text.startswith("Добрий день, це Міський контактний центр Варшави 19115")
    assert "Справу вирішено." in row.body_text and "Залатано." in row.body_text
    assert "http" not in row.body_text and row.body_html is None


class TwoTalking(Busy):
    """Both lines busy with calls whose outcome is already recorded (residents talking)."""

    def in_progress(self) -> int:
        return 2


async def test_no_new_call_while_every_line_is_talking(seeded: Database) -> None:
    await asyncio.to_thread(_report_by_phone, seeded)
    talking = TwoTalking()
    dispatcher = CallDispatcher(seeded, talking, calls.CallPolicy(lines=2),
                                clock=lambda: _warsaw(2099, 6, 1, 10))
    assert await dispatcher.run_once() == 0 and talking.called == []
    [row] = _rows(seeded)
    assert (row.status, row.attempts) == ("pending", 0)
