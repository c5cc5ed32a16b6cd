"""Case reports on cases with known answers, on SQLite and PostgreSQL: every case is made and
moved through the services the desk and the departments use (forwarding, resolving, a return
to the center, a reassignment, a duplicate closed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
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


# Cases as a year of them looks to the report, made in one statement: every status, times to
# forward and to resolve with fractions of a second (one exactly on a rounding's half: 0.05 h),
# cases never forwarded, finished without a recorded moment, without a district (NULL and ''),
# without a department or a subcategory, two subcategories that share a name under different
# categories, deadlines met and missed, returns and reassignments, duplicates.
GENERATED_CASES = """
INSERT INTO cases (number, status, category_id, subcategory_id, description, priority, address,
    district, department_id, source_channel, tracking_token_hash, created_at, updated_at,
    duplicate_of_id, first_forwarded_at, finished_at, forwardings)
SELECT 'G/' || g, st, c.main, CASE WHEN g % 13 = 0 THEN NULL ELSE c.sub END, 'Zgłoszenie', 2,
       'ul. Testowa 1',
       CASE WHEN g % 17 = 0 THEN NULL WHEN g % 19 = 0 THEN ''
            ELSE (ARRAY['Mokotów', 'Wola', 'Bemowo', 'Ursus'])[1 + g % 4] END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE c.dept END,
       (ARRAY['phone', 'portal', 'app', 'email'])[1 + g % 4], md5(g::text), t, t,
       CASE WHEN g % 29 = 0 THEN 1 END,
       CASE WHEN st = 'new' THEN NULL
            WHEN g % 97 = 0 THEN t + interval '3 minutes'
            ELSE t + (random() * 60) * interval '1 hour' END,
       CASE WHEN st IN ('resolved', 'closed', 'rejected') AND g % 23 <> 0
            THEN t + (random() * 900) * interval '1 hour' END,
       CASE WHEN st = 'new' THEN 0 ELSE 1 + (g % 7 = 0)::int END
FROM (SELECT g, :start + random() * (:end - :start) AS t,
             (ARRAY['new', 'forwarded', 'in_progress', 'resolved', 'resolved', 'closed',
                    'rejected'])[1 + floor(random() * 7)::int] AS st
      FROM generate_series(1, :n) g) x
JOIN (SELECT row_number() OVER (ORDER BY s.id) - 1 AS k, s.parent_id AS main, s.id AS sub,
             (SELECT min(id) FROM departments) + s.id % 3 AS dept
      FROM categories s WHERE s.parent_id IS NOT NULL) c
  ON c.k = x.g % (SELECT count(*) FROM categories WHERE parent_id IS NOT NULL)
"""

GENERATED_WORK = """
INSERT INTO case_work (case_id, department_id, forwarded_at, sla_hours, due_at,
    escalation_level, done_at, on_time, returns)
SELECT id, department_id, first_forwarded_at, 40, first_forwarded_at + interval '5 days', 0,
       finished_at, CASE WHEN id % 5 = 0 THEN NULL WHEN status IN ('resolved', 'rejected')
                         THEN finished_at <= first_forwarded_at + interval '5 days' END,
       (id % 9 = 0)::int + (id % 27 = 0)::int
FROM cases WHERE first_forwarded_at IS NOT NULL AND number LIKE 'G/%'
"""


@pytest.mark.parametrize("seeded_url", ["postgresql"], indirect=True)
def test_the_databases_case_figures_are_the_folds_on_the_same_cases(seeded_url: str) -> None:
    """Three thousand generated cases over October and November (the clock change included):
    the case report PostgreSQL adds up equals the one folded in Python from the same rows, for
    a period, a day and a period with no cases. (The statement before this one counted a case
    never forwarded as forwarded in 0 hours.)"""
    db = Database(seeded_url)
    try:
        with db.writing() as session:
            # two subcategories called the same under two categories: the fold groups by name
            parents = session.execute(sa.text(
                "SELECT id FROM categories WHERE parent_id IS NULL ORDER BY id LIMIT 2")).scalars()
            for n, parent in enumerate(parents):
                session.execute(sa.text(
                    "INSERT INTO categories (code, name, parent_id, is_active) "
                    "VALUES (:code, 'Inne', :p, true)"),
                    {"code": f"test.inne{n}", "p": parent})
            session.execute(sa.text("SELECT setseed(0.15)"))
            session.execute(sa.text(GENERATED_CASES), {
                "n": 3000, "start": datetime(2026, 10, 1, tzinfo=UTC),
                "end": datetime(2026, 12, 1, tzinfo=UTC)})
            session.execute(sa.text(GENERATED_WORK))
        now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
        for since, until in ((date(2026, 10, 1), date(2026, 11, 30)),
                             (date(2026, 10, 25), date(2026, 10, 25)),
                             (date(2027, 1, 1), date(2027, 1, 31))):
            flt = ReportFilter(since, until)
            fast = rk.case_report(db, flt.start, flt.end, now=now)
            folded = rk.fold_cases(rk.case_rows(db, flt.start, flt.end), now,
                                   rk.repeat_callers(db, flt.start, flt.end))
            assert fast == folded, (since, until)
        # what the data was made to hold, so the comparison above covers it
        flt = ReportFilter(date(2026, 10, 1), date(2026, 11, 30))
        report = rk.case_report(db, flt.start, flt.end, now=now)
    finally:
        db.dispose()
    total = report.total
    assert total.forward_p50_h is not None and total.resolve_p90_h is not None
    subcategories = [f.key for f in report.by["subcategory"]]
    assert "Inne" in subcategories and "-" in subcategories
    assert "-" in [f.key for f in report.by["district"]]
    assert "-" in [f.key for f in report.by["department"]]
    assert sum(report.backlog.values()) == total.open > 0
    assert report.backlog["<1d"] > 0 and report.backlog[">30d"] > 0
