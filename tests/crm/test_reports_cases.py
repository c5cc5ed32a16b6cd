"""Case reports on cases with known answers, on SQLite and PostgreSQL: every case is made and
moved through the services the desk and the departments use (forwarding, resolving, a return
to the center, a reassignment, a duplicate closed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.services import cases, department, users
from crm_core.services import reports_cases as rk
from crm_core.services.interactions import record_event
from crm_core.services.reports_calls import ReportFilter
from ground import events as ev

DAY = date(2026, 11, 30)
MIDNIGHT = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)  # Warsaw's midnight of DAY
NOW = MIDNIGHT + timedelta(days=61)
BY = cases.Actor("kierownik")


def at(hh: float, days: int = 0) -> datetime:
    return MIDNIGHT + timedelta(days=days, hours=hh)


def case(db: Database, category: str, district: str, hour: float, channel: str = "phone") -> int:
    draft = cases.NewCase(category.split(".")[0], f"Zgłoszenie {category} {hour}",
                          subcategory=category, address="Puławska 1", district=district,
                          channel=channel)
    return cases.create_case(db, draft, by=BY, at=at(hour)).case.id


def forward(db: Database, case_id: int, hour: float, to: str | None = None) -> None:
    cases.transition_case(db, case_id, "forwarded", by=BY, at=at(hour), department=to)


def test_cases_by_dimension_times_deadlines_returns_duplicates(seeded_url: str) -> None:
    db = Database(seeded_url)
    admin = department.scope_of(db, users.get_user(db, "admin").id)
    try:
        a = case(db, "roads.pothole", "Mokotów", 8)
        forward(db, a, 10)
        department.resolve(db, admin, a, "Naprawiono.", at=at(11))  # on time
        b = case(db, "roads.pothole", "Wola", 9, channel="portal")
        forward(db, b, 15)
        department.resolve(db, admin, b, "Naprawiono.", at=at(9, days=60))  # late
        c = case(db, "waste.illegal_dump", "Mokotów", 10)
        forward(db, c, 11)
        department.return_to_center(db, admin, c, "nie nasza sprawa", at=at(12))
        forward(db, c, 13, to="BGO")  # re-routed by the center
        d = case(db, "roads.pothole", "Mokotów", 11)
        forward(db, d, 12)
        department.reassign(db, admin, d, "BGO", at=at(14))
        e = case(db, "roads.pothole", "Mokotów", 12)
        forward(db, e, 12.5)
        department.close_duplicates(db, admin, d, [e], at=at(13))
        case(db, "roads.pothole", "Mokotów", -2)  # the day before: not in the period
        for number, hour in (("+48600100200", 8), ("+48600100200", 9), ("+48600100300", 10)):
            call_id = f"call-{number}-{hour}"
            record_event(db, ev.CallStarted(call_id, at(hour), number, "", "19115", "PJSIP/x"))

        flt = ReportFilter(DAY, DAY)
        report = rk.case_report(db, flt.start, flt.end, now=NOW)
        # What each case keeps for the reports is what its history says (migration 0011's
        # backfill computes it the same way from the history).
        with db.reading() as session:
            kept = session.execute(sa.text(
                "SELECT id, first_forwarded_at, finished_at, forwardings FROM cases ORDER BY id"
            )).all()
            from_history = session.execute(sa.text(
                "SELECT c.id, (SELECT min(at) FROM case_status_history h WHERE h.case_id = c.id "
                "  AND h.to_status = 'forwarded'), "
                " (SELECT max(at) FROM case_status_history h WHERE h.case_id = c.id "
                "  AND h.to_status IN ('resolved', 'rejected', 'closed')), "
                " (SELECT count(*) FROM case_status_history h WHERE h.case_id = c.id "
                "  AND h.to_status = 'forwarded') FROM cases c ORDER BY c.id")).all()
        assert [tuple(r) for r in kept] == [tuple(r) for r in from_history]
        assert sum(r[3] for r in kept) == 7 and sum(r[2] is not None for r in kept) == 3
    finally:
        db.dispose()
    total = report.total
    assert (total.cases, total.open) == (5, 2)
    # hours to forward: 2, 6, 1, 1, 0.5; to resolve (finished only): 3, 1440, 1
    assert (total.forward_p50_h, total.forward_p90_h) == (1.0, 6.0)
    assert (total.resolve_p50_h, total.resolve_p90_h) == (3.0, 1440.0)
    assert total.on_time_pct == 50.0  # a on time, b late; the duplicate counts for no one
    assert (total.returned, total.reassigned, total.duplicates) == (1, 1, 1)
    assert [(f.key, f.cases) for f in report.by["district"]] == [("Mokotów", 4), ("Wola", 1)]
    assert [(f.key, f.cases) for f in report.by["channel"]] == [("phone", 4), ("portal", 1)]
    assert [(f.key, f.cases) for f in report.by["category"]] == [
        ("Drogi i chodniki", 4), ("Czystość i odpady", 1)]
    assert [(f.key, f.cases) for f in report.by["subcategory"]] == [
        ("Dziura w jezdni", 4), ("Dzikie wysypisko", 1)]
    departments = {f.key: (f.cases, f.on_time_pct) for f in report.by["department"]}
    assert departments == {"ZDM": (3, 50.0), "BGO": (2, None)}
    mokotow = report.by["district"][0]
    assert (mokotow.returned, mokotow.reassigned, mokotow.duplicates, mokotow.open) == (1, 1, 1, 2)
    assert report.backlog == {"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 0, ">30d": 2}
    assert report.repeat_callers == rk.RepeatCallers(residents=1, calls=2, all_calls=3)
