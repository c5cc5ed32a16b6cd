"""Contact-center reports on a generated day of calls with known answers, on SQLite and
PostgreSQL. The day is recorded the way the center records it: domain events applied by the
CRM recorder (crm_core.services.interactions), agent states included."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from agent_desktop.today import TodayChart, midnight
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.services import reports_calls as rc
from crm_core.services.contact_center import create_queue, queued_calls_between
from crm_core.services.interactions import get_call, record_event
from crm_core.services.users import create_user
from ground import events as ev

DAY = date(2026, 11, 30)  # a Monday; Warsaw is UTC+1
MIDNIGHT = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return MIDNIGHT + timedelta(hours=hh, minutes=mm, seconds=ss)


# Lists that also receive every event recorded (the wallboard's chart is fed the same ones).
TAPS: list[list[ev.DomainEvent]] = []


def record(db: Database, *events: ev.DomainEvent) -> None:
    for event in events:
        record_event(db, event)
        for tap in TAPS:
            tap.append(event)


def queued(db: Database, call_id: str, joined: datetime, queue: str, language: str) -> None:
    record(db, ev.CallStarted(call_id, joined - timedelta(seconds=30), "+48600100200", "",
                              "19115", f"PJSIP/trunk-{call_id}"),
           ev.CallQueued(call_id, joined, queue, "drogi", 2, language))


def answered(db: Database, call_id: str, joined: datetime, queue: str, agent: str, *,
             wait: float, talk: float, wrapup: float | None, language: str = "pl") -> None:
    queued(db, call_id, joined, queue, language)
    connected = joined + timedelta(seconds=wait)
    ended = connected + timedelta(seconds=talk)
    record(db, ev.CallOffered(call_id, joined, queue, agent),
           ev.AgentConnected(call_id, connected, queue, agent, wait),
           ev.CallEnded(call_id, ended, "caller_hangup_in_queue"))
    if wrapup is not None:
        record(db, ev.CallDispositioned(call_id, ended + timedelta(seconds=wrapup), agent,
                                        "info" if wrapup < 60 else "", ""))


def abandoned(db: Database, call_id: str, joined: datetime, queue: str, *, wait: float) -> None:
    queued(db, call_id, joined, queue, "pl")
    gone = joined + timedelta(seconds=wait)
    record(db, ev.CallLeftQueue(call_id, gone, queue, "abandoned", wait),
           ev.CallEnded(call_id, gone, "caller_hangup_in_queue"))


def states(db: Database, agent: str, *changes: tuple[datetime, str, str, str]) -> None:
    record(db, *(ev.AgentStateChanged(call, when, agent, state, reason)
                 for when, state, reason, call in changes))


@pytest.fixture
def day(db: Database) -> Database:
    create_queue(db, name="ogolna", display_name="Ogólna", sl_threshold_s=20)
    create_queue(db, name="transport", display_name="Transport", sl_threshold_s=30)
    record_day(db)
    return db


def record_day(db: Database) -> None:
    """The day of calls whose figures the tests know (queues ogolna and transport)."""
    # Queued yesterday 23:59:50, answered today 00:00:10 (20 s: within ogolna's 20 s).
    answered(db, "c9", at(0, 0, -10), "ogolna", "k2", wait=20, talk=120, wrapup=None)
    # 08:00 answered in 10 s, 30 s on hold, 180 s from connect to hang-up, 30 s wrap-up.
    answered(db, "c1", at(8, 0), "ogolna", "k1", wait=10, talk=180, wrapup=30)
    record(db, ev.CallHeld("c1", at(8, 1), "k1", True), ev.CallHeld("c1", at(8, 1, 30), "k1", False))
    # 08:10 answered in 50 s (outside the level), in English, transferred; the wrap-up timer
    # ran out after 60 s (no disposition).
    answered(db, "c2", at(8, 10), "ogolna", "k2", wait=50, talk=120, wrapup=60, language="en")
    record(db, ev.CallTransferred("c2", at(8, 12), "blind:k1"))
    abandoned(db, "c3", at(8, 20), "ogolna", wait=3)  # a short abandon
    abandoned(db, "c4", at(9, 5), "ogolna", wait=40)
    answered(db, "c5", at(9, 10), "transport", "k1", wait=6, talk=120, wrapup=20, language="uk")
    # 09:20 waits, asks for a callback at 09:21; reached at 10:00 (its connection is not an answer).
    queued(db, "c6", at(9, 20), "transport", "pl")
    record(db, ev.CallbackRequested("c6", at(9, 21), "transport", "+48600100200"),
           ev.CallEnded("c6", at(9, 21, 5), "caller_hangup_in_queue"),
           ev.AgentConnected("c6", at(9, 59), "transport", "k2", 2280.0),
           ev.CallbackAttempted("c6", at(10, 0), "k2", True, 1, True))
    # IVR only: a status lookup (self-service) and a caller who left at the menu (not).
    for call_id, node in (("c7", "status_lookup"), ("c8", "main_menu")):
        record(db, ev.CallStarted(call_id, at(10, 30), "+48600100300", "", "19115", "PJSIP/x"),
               ev.IvrStep(call_id, at(10, 30, 20), "19115", "1", node, "dtmf", "3", None, "x"),
               ev.CallEnded(call_id, at(10, 31), "caller_hangup"))
    states(db, "k1",
           (at(7, 55), "available", "", ""),
           (at(8, 0), "reserved", "", "c1"), (at(8, 0, 10), "on_call", "", "c1"),
           (at(8, 3, 10), "wrap_up", "", "c1"), (at(8, 3, 40), "available", "", ""),
           (at(8, 30), "paused", "przerwa", ""), (at(8, 45), "available", "", ""),
           (at(9, 5, 10), "reserved", "", "c4"), (at(9, 5, 25), "available", "", ""),
           (at(9, 10), "reserved", "", "c5"), (at(9, 10, 6), "on_call", "", "c5"),
           (at(9, 12, 6), "wrap_up", "", "c5"), (at(9, 12, 26), "available", "", ""),
           (at(12, 0), "offline", "", ""))


def test_the_recorder_keeps_hold_language_and_why_a_caller_left(day: Database) -> None:
    c1 = get_call(day, "c1")
    assert c1.talk_s == 180.0
    from crm_core.models import Interaction

    with day.reading() as session:
        row = session.query(Interaction).filter_by(call_id="c1").one()
        assert (row.hold_s, row.held_since, row.language) == (30.0, None, "pl")
        c2 = session.query(Interaction).filter_by(call_id="c2").one()
        # The timer ran out: the wrap-up ended, no disposition code.
        assert c2.wrapped_up_at == at(8, 13, 50) and c2.disposition_code is None
        c4 = session.query(Interaction).filter_by(call_id="c4").one()
        assert (c4.left_queue_reason, c4.wait_s) == ("abandoned", 40.0)


def test_a_day_per_queue_and_in_total(day: Database) -> None:
    flt = rc.ReportFilter(DAY, DAY, step="hour", short_abandon_s=5)
    report = rc.contact_center_report(day, flt, now=NOW).calls
    ogolna = report.queue("ogolna")
    assert ogolna is not None
    assert (ogolna.offered, ogolna.answered, ogolna.answered_in_sl) == (4, 3, 2)
    assert (ogolna.abandoned, ogolna.short_abandoned) == (2, 1)
    assert ogolna.service_level == 0.5  # 2 / (3 + 2 − 1)
    assert ogolna.asa_s == round(80 / 3, 1)
    assert (ogolna.avg_wait_s, ogolna.p90_wait_s) == (24.6, 50.0)
    assert ogolna.abandoned_pct == 40.0
    # talk without hold 150 + 120 + 120, hold 30, wrap-up 30 + 60 + 0, over 3 calls
    assert (ogolna.aht_s, ogolna.talk_s, ogolna.hold_s, ogolna.wrapup_s) == (170.0, 130.0, 10.0, 30.0)
    assert ogolna.transfers == 1
    transport = report.queue("transport")
    assert transport is not None
    assert (transport.offered, transport.answered, transport.abandoned) == (2, 1, 0)
    assert (transport.service_level, transport.asa_s, transport.aht_s) == (1.0, 6.0, 140.0)
    assert (transport.callbacks_requested, transport.callbacks_made,
            transport.callbacks_reached) == (1, 1, 1)
    total = report.total()
    assert (total.queue, total.offered, total.answered, total.answered_in_sl) == ("", 6, 4, 3)
    assert (total.abandoned, total.short_abandoned, total.service_level) == (2, 1, 0.6)
    assert (total.asa_s, total.avg_wait_s, total.p90_wait_s) == (21.5, 21.5, 50.0)
    assert (total.aht_s, total.self_service) == (162.5, 1)
    by_hour = {(f.bucket, f.queue): f for f in report.rows}
    assert by_hour["2026-11-30 00:00", ""].answered == 1
    eight = by_hour["2026-11-30 08:00", "ogolna"]
    assert (eight.offered, eight.answered, eight.abandoned) == (3, 2, 1)
    nine = by_hour["2026-11-30 09:00", ""]
    assert (nine.offered, nine.answered, nine.abandoned, nine.callbacks_requested) == (3, 1, 1, 1)
    ten = by_hour["2026-11-30 10:00", ""]
    assert (ten.callbacks_made, ten.self_service, ten.offered) == (1, 1, 0)
    languages = {f.queue: (f.offered, f.answered, f.abandoned) for f in report.languages}
    assert languages == {"pl": (4, 2, 2), "en": (1, 1, 0), "uk": (1, 1, 0)}


def test_without_a_short_abandon_threshold_the_level_is_the_wallboards(day: Database) -> None:
    total = rc.contact_center_report(day, rc.ReportFilter(DAY, DAY), now=NOW).calls.total()
    assert (total.short_abandoned, total.service_level) == (0, 0.5)  # 3 / (4 + 2)
    assert total.abandoned_pct == round(100 * 2 / 6, 2)


def test_filters_by_weekday_and_hours_and_steps(day: Database) -> None:
    tuesdays = rc.contact_center_report(
        day, rc.ReportFilter(DAY, DAY, weekdays=frozenset({1})), now=NOW).calls
    assert tuesdays.total().offered == 0 and tuesdays.rows == ()
    nine = rc.contact_center_report(
        day, rc.ReportFilter(DAY, DAY, hour_from=9, hour_to=10), now=NOW).calls.total()
    assert (nine.offered, nine.answered, nine.abandoned) == (3, 1, 1)
    quarters = rc.contact_center_report(
        day, rc.ReportFilter(DAY, DAY, step="15min"), now=NOW).calls
    assert {f.bucket for f in quarters.rows if f.queue == "" and f.offered} == {
        "2026-11-30 08:00", "2026-11-30 08:15", "2026-11-30 09:00", "2026-11-30 09:15"}
    days = rc.contact_center_report(
        day, rc.ReportFilter(DAY - timedelta(days=1), DAY, step="day"), now=NOW).calls
    assert [(f.bucket, f.offered) for f in days.rows if f.queue == ""] == [
        ("2026-11-29", 1), ("2026-11-30", 6)]


def test_agents_time_by_state_pauses_handled_calls_and_unanswered_offers(day: Database) -> None:
    agents = {a.agent: a for a in rc.contact_center_report(
        day, rc.ReportFilter(DAY, DAY), now=NOW).agents}
    k1 = agents["k1"]
    assert k1.logged_in_s == 4 * 3600 + 5 * 60
    assert k1.by_state_s == {"available": 14700 - 900 - 31 - 300 - 50, "on_call": 300.0,
                             "paused": 900.0, "reserved": 31.0, "wrap_up": 50.0}
    assert k1.by_pause_reason_s == {"przerwa": 900.0}
    assert (k1.handled, k1.aht_s, k1.unanswered_offers) == (2, 175.0, 1)
    eight = {a.agent: a for a in rc.contact_center_report(
        day, rc.ReportFilter(DAY, DAY, hour_from=8, hour_to=9), now=NOW).agents}["k1"]
    assert eight.by_state_s == {"available": 2480.0, "on_call": 180.0, "paused": 900.0,
                                "reserved": 10.0, "wrap_up": 30.0}
    assert (eight.logged_in_s, eight.unanswered_offers) == (3600.0, 0)
    k2 = agents["k2"]
    assert (k2.logged_in_s, k2.handled, k2.aht_s, k2.unanswered_offers) == (0.0, 2, 150.0, 0)


def test_a_filter_that_makes_no_sense_is_refused_with_its_field_named() -> None:
    with pytest.raises(ValidationError) as refused:
        rc.ReportFilter(DAY, DAY - timedelta(days=1), step="week", hour_from=10, hour_to=9)
    assert set(refused.value.fields) == {"until", "step", "hours"}


def test_an_agent_still_logged_in_counts_until_now_and_a_replay_adds_nothing(db: Database) -> None:
    create_user(db, username="k3", full_name="Konsultantka Trzy", role="consultant",
                password="dlugie-haslo-k3-19115")
    states(db, "k3", (at(11, 30), "available", "", ""), (at(11, 50), "paused", "szkolenie", ""))
    # The outbox may apply an old change again after a crash: logged, not counted twice.
    states(db, "k3", (at(11, 30), "available", "", ""))
    flt = rc.ReportFilter(DAY, DAY)
    k3 = rc.contact_center_report(db, flt, now=at(12, 0)).agents[0]
    assert (k3.agent, k3.logged_in_s) == ("k3", 1800.0)
    assert k3.by_state_s == {"available": 1200.0, "paused": 600.0}
    assert k3.by_pause_reason_s == {"szkolenie": 600.0}


def test_the_wallboards_chart_of_the_day_counts_what_the_report_counts(db: Database) -> None:
    """The chart of the day, fed the day's events as on the wallboard, and filled from the CRM
    as after a restart, has the report's offered, answered, in-level and abandoned calls: the
    callback that reached its resident is not an answer, the call that joined before midnight
    is answered today."""
    create_queue(db, name="ogolna", display_name="Ogólna", sl_threshold_s=20)
    create_queue(db, name="transport", display_name="Transport", sl_threshold_s=30)
    seen: list[ev.DomainEvent] = []
    TAPS.append(seen)
    try:
        record_day(db)
    finally:
        TAPS.remove(seen)
    thresholds = {"ogolna": 20.0, "transport": 30.0}
    fed = TodayChart(sl_threshold_s=dict(thresholds))

    async def feed() -> None:
        for event in seen:
            await fed.on_event(event)

    asyncio.run(feed())
    end_of_day = at(23, 59, 59)
    filled = TodayChart(sl_threshold_s=dict(thresholds))
    filled.backfill(queued_calls_between(db, midnight(end_of_day) - timedelta(days=1), end_of_day),
                    end_of_day)
    total = rc.contact_center_report(db, rc.ReportFilter(DAY, DAY), now=NOW).calls.total()
    expected = [total.offered, total.answered, total.answered_in_sl, total.abandoned]
    assert expected == [6, 4, 3, 2]
    for chart in (fed, filled):
        view = chart.view()
        assert view["day"] == DAY.isoformat()
        assert [sum(s[i] for s in view["slots"]) for i in range(4)] == expected


# --- the database's figures against the fold's, on PostgreSQL

GENERATED_CALLS = """
INSERT INTO interactions (channel, call_id, caller_number, dialed, started_at, ended_at,
    end_reason, queue, queued_at, priority, agent_username, connected_at, wait_s, talk_s, hold_s,
    wrapped_up_at, transferred_to, left_queue_reason, left_queue_at, language, callback_number,
    callback_status, callback_attempts, callback_requested_at, callback_done_at)
SELECT CASE WHEN g % 41 = 0 THEN 'portal' ELSE 'phone' END, 'gen-' || g, '+48600100200', '19115',
       t, t + (40 + w + talk) * interval '1 second', 'caller_hangup',
       CASE WHEN k < 0.8 THEN (ARRAY['ogolna', 'transport', 'drogi', ''])[1 + g % 4] END,
       CASE WHEN k < 0.8 THEN t + interval '40 seconds' END, 2,
       CASE WHEN k < 0.8 AND r < 0.8 THEN 'k' || (g % 7) END,
       CASE WHEN k < 0.8 AND r < 0.8 THEN t + (40 + w) * interval '1 second' END,
       CASE WHEN k < 0.8 AND g % 23 <> 0 THEN w END,
       CASE WHEN k < 0.8 AND r < 0.8 AND g % 19 <> 0 THEN talk END,
       CASE WHEN k < 0.8 AND r < 0.2 THEN 12.25 + g % 5 END,
       CASE WHEN k < 0.8 AND r < 0.7
            THEN t + (40 + w + talk) * interval '1 second' + (g % 97) * interval '1.0005 second' END,
       CASE WHEN k < 0.8 AND r < 0.1 THEN 'blind:k1' END,
       CASE WHEN k < 0.8 AND r >= 0.8 AND r < 0.95 THEN 'abandoned'
            WHEN k < 0.8 AND r >= 0.95 THEN 'overflow' END,
       CASE WHEN k < 0.8 AND r >= 0.8 THEN t + (40 + w) * interval '1 second' END,
       (ARRAY['pl', 'pl', 'en', 'uk', '', NULL])[1 + g % 6],
       CASE WHEN k < 0.8 AND g % 13 = 0 THEN '+48600100200' END,
       CASE WHEN k < 0.8 AND g % 13 = 0 THEN (ARRAY['reached', 'failed', 'pending'])[1 + g % 3] END,
       CASE WHEN k < 0.8 AND g % 13 = 0 THEN 1 END,
       CASE WHEN k < 0.8 AND g % 13 = 0 THEN t + interval '70 seconds' END,
       CASE WHEN k < 0.8 AND g % 13 = 0 THEN t + interval '20 hours' END
FROM (SELECT g, random() AS k, random() AS r, round((random() * 120)::numeric, 2)::float8 AS w,
             round((random() * 400)::numeric, 3)::float8 AS talk,
             :start + random() * (:end - :start) AS t
      FROM generate_series(1, :n) g) x
"""

GENERATED_IVR = """
INSERT INTO interaction_ivr_steps (interaction_id, seq, at, script, version, node, input_kind,
    input_value, next_node)
SELECT id, 1, started_at, '19115', '1',
       (ARRAY['status_lookup', 'info_hours', 'main_menu', 'statusXlookup'])[1 + id % 4],
       'dtmf', '1', 'x'
FROM interactions WHERE queued_at IS NULL
"""


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_databases_figures_are_the_folds_on_the_same_calls(db: Database) -> None:
    """Three thousand calls over October and November (the clock change on 25 October
    included), every kind of outcome, waits and talk with fractions of a second: the report
    PostgreSQL adds up equals the one folded in Python from the same rows, for every step and
    filter."""
    create_queue(db, name="ogolna", display_name="Ogólna", sl_threshold_s=20)
    create_queue(db, name="transport", display_name="Transport", sl_threshold_s=45)
    with db.writing() as session:
        session.execute(sa.text("SELECT setseed(0.19115)"))
        session.execute(sa.text(GENERATED_CALLS), {
            "n": 3000, "start": datetime(2026, 10, 20, tzinfo=UTC),
            "end": datetime(2026, 11, 10, tzinfo=UTC)})
        session.execute(sa.text(GENERATED_IVR))
    filters = [
        rc.ReportFilter(date(2026, 10, 21), date(2026, 11, 8), step="day"),
        rc.ReportFilter(date(2026, 10, 24), date(2026, 10, 26), step="hour"),
        rc.ReportFilter(date(2026, 10, 24), date(2026, 10, 26), step="15min", short_abandon_s=10),
        rc.ReportFilter(date(2026, 10, 21), date(2026, 11, 8), step="hour",
                        weekdays=frozenset({0, 2, 6}), hour_from=7, hour_to=19),
        rc.ReportFilter(date(2026, 11, 1), date(2026, 11, 1), step="15min", hour_from=23),
    ]
    for flt in filters:
        fast, handled = rc.database_report_and_handled(db, flt)
        folded, folded_handled = rc.folded_report_and_handled(db, flt)
        assert fast.total().offered > 0 or flt.since == date(2026, 11, 1)
        assert fast.rows == folded.rows, flt
        assert fast.period == folded.period, flt
        assert fast.languages == folded.languages, flt
        assert handled == folded_handled, flt
    total = rc.contact_center_report(db, filters[0], now=NOW).calls.total()
    assert total.callbacks_made > 0 and total.self_service > 0 and total.p90_wait_s is not None
    assert gc.isenabled()  # the collector, paused while the report's rows were made, is back
