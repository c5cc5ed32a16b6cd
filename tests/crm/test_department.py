"""The department workspace's services on SQLite and PostgreSQL: memberships, the deadline set
at forwarding in Warsaw working hours, the inbox and its filters, every action, the department
boundary, escalation, compliance, and what the resident may read."""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bench import dept_inbox
from crm_core import cli
from crm_core.db import Database
from crm_core.errors import NotFound, TransitionError, ValidationError
from crm_core.models import Case, CaseWork
from crm_core.services import cases, department, sla, users
from crm_core.services.cases import Actor, NewCase
from crm_core.services.department import Forbidden, InboxFilter
from crm_core.warsaw import add_working_hours, working_hours_before, working_hours_between
from ground.settings import Settings
from portal import tracking

DESK = Actor("konsultant1")
# Monday 4 May 2026, 10:00 Warsaw (08:00 UTC)
AT = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
POTHOLE = NewCase("roads.pothole", "Dziura przy przejściu", address="Puławska 10",
                  district="Mokotów", lat=52.20, lon=21.02)
DUMP = NewCase("waste.illegal_dump", "Gruz w lesie", address="Leśna 1", district="Wawer")


def _forwarded(db: Database, draft: NewCase = POTHOLE, at: datetime = AT) -> tuple[int, str]:
    made = cases.create_case(db, draft, by=DESK, at=at)
    cases.transition_case(db, made.case.id, "forwarded", by=DESK, at=at)
    return made.case.id, made.tracking_token


def _scope(db: Database, username: str) -> department.Scope:
    return department.scope_of(db, users.get_user(db, username).id)


def test_working_hours_skip_nights_weekends_and_holidays() -> None:
    friday_3pm = datetime(2026, 5, 8, 13, 0, tzinfo=UTC)  # 15:00 Warsaw (CEST)
    assert add_working_hours(friday_3pm, 2) == datetime(2026, 5, 11, 7, 0, tzinfo=UTC)
    # 1 and 3 May are holidays; 30 April 2026 is a Thursday: 15:00 + 2 h → Monday 4 May 09:00
    assert add_working_hours(datetime(2026, 4, 30, 13, 0, tzinfo=UTC), 2) == \
        datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
    # Christmas 2026: 24–26 December are holidays, the 27th a Sunday
    assert add_working_hours(datetime(2026, 12, 23, 14, 0, tzinfo=UTC), 2) == \
        datetime(2026, 12, 28, 8, 0, tzinfo=UTC)
    night = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)  # 22:00 Monday: counts from Tuesday 8:00
    assert add_working_hours(night, 8) == datetime(2026, 5, 5, 14, 0, tzinfo=UTC)
    assert working_hours_between(friday_3pm, datetime(2026, 5, 11, 7, 0, tzinfo=UTC)) == 2.0


def test_working_hours_before_is_where_lateness_begins() -> None:
    """The sweep escalates a deadline at or before `working_hours_before(now, h)`: that must be
    exactly the deadlines `h` working hours late by now (weekends, holidays, clock changes)."""
    monday_9am = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)  # after the 1 and 3 May holidays
    assert working_hours_before(monday_9am, 2) == datetime(2026, 4, 30, 13, 0, tzinfo=UTC)
    rng = random.Random(115)
    start = datetime(2026, 3, 20, tzinfo=UTC)  # over the spring clock change into the holidays
    for _ in range(400):
        now = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
        hours = rng.choice([0.25, 1.0, 8.0, 24.5])
        line = working_hours_before(now, hours)
        assert working_hours_between(line, now) == pytest.approx(hours)
        assert working_hours_between(line + timedelta(seconds=1), now) < hours


def test_memberships_and_the_demo_staff(seeded: Database) -> None:
    assert [m.department for m in department.memberships(seeded, "zdm_pracownik")] == ["ZDM"]
    assert [m.department for m in department.memberships(seeded, "bgo_pracownik")] == ["BGO"]
    department.add_member(seeded, "zdm_pracownik", "ZZW", head=True)
    assert _scope(seeded, "zdm_pracownik").departments == ("ZDM", "ZZW")
    assert department.remove_member(seeded, "zdm_pracownik", "ZZW")
    assert not department.remove_member(seeded, "zdm_pracownik", "ZZW")
    with pytest.raises(ValidationError):
        department.add_member(seeded, "konsultant1", "ZDM")  # not department staff
    with pytest.raises(ValidationError):
        department.add_member(seeded, "zdm_pracownik", "NOPE")
    with pytest.raises(NotFound):
        department.add_member(seeded, "nobody", "ZDM")


def test_forwarding_sets_the_deadline_by_category_and_district(seeded: Database) -> None:
    case_id, _ = _forwarded(seeded)
    card = department.card(seeded, _scope(seeded, "zdm_pracownik"), case_id, at=AT)
    assert card.sla_hours == 24  # roads.pothole overrides roads (40)
    assert card.due_at == add_working_hours(AT, 24) == datetime(2026, 5, 7, 8, 0, tzinfo=UTC)
    # A district's rule overrides the city-wide one.
    bins = NewCase("waste.bins", "Pełny kosz", address="Marszałkowska 1", district="Śródmieście")
    bins_id, _ = _forwarded(seeded, bins)
    admin = _scope(seeded, "admin")
    assert department.card(seeded, admin, bins_id).sla_hours == 8
    sla.set_sla_rule(seeded, "waste.bins", 3, "Śródmieście")
    other_id, _ = _forwarded(seeded, bins)
    assert department.card(seeded, admin, other_id).sla_hours == 3
    with pytest.raises(ValidationError):
        sla.set_sla_rule(seeded, "waste.bins", 0)


def test_accept_and_resolve_with_a_public_answer_and_an_internal_note(seeded: Database) -> None:
    case_id, token = _forwarded(seeded)
    zdm = _scope(seeded, "zdm_pracownik")
    department.accept(seeded, zdm, case_id, at=AT + timedelta(hours=1))
    department.add_note(seeded, zdm, case_id, "ekipa Kowalskiego, koszt 300 zł",
                        at=AT + timedelta(hours=2))
    department.resolve(seeded, zdm, case_id, "Ubytek załatany 5 maja.", at=AT + timedelta(hours=3))
    card = department.card(seeded, zdm, case_id)
    assert card.status == "resolved"
    assert [h.to_status for h in card.history] == ["new", "forwarded", "in_progress", "resolved"]
    assert card.history[-1].comment == "Ubytek załatany 5 maja." and card.history[-1].public
    assert [n.text for n in card.notes] == ["ekipa Kowalskiego, koszt 300 zł"]
    # What the resident and open data see: the answer, never the note.
    public = tracking.by_token(seeded, token)
    assert public is not None and public.status_notes == "Ubytek załatany 5 maja."
    assert all("Kowalskiego" not in (c.note or "") for c in public.history)
    assert department.compliance(seeded, "ZDM", at=AT + timedelta(hours=4)).percent == 100.0
    # Resolved is final for the department: a second resolve is an illegal transition.
    with pytest.raises(TransitionError):
        department.resolve(seeded, zdm, case_id, "jeszcze raz")
    with pytest.raises(ValidationError):
        department.add_note(seeded, zdm, case_id, "   ")


def test_another_departments_staff_may_not_see_or_act(seeded: Database) -> None:
    case_id, _ = _forwarded(seeded)
    bgo = _scope(seeded, "bgo_pracownik")
    refused: list[Callable[[], object]] = [
        lambda: department.accept(seeded, bgo, case_id),
        lambda: department.resolve(seeded, bgo, case_id, "nie nasze"),
        lambda: department.add_note(seeded, bgo, case_id, "x"),
        lambda: department.card(seeded, bgo, case_id),
        lambda: department.return_to_center(seeded, bgo, case_id, "x")]
    for act in refused:
        with pytest.raises(Forbidden):
            act()
    assert department.inbox(seeded, bgo, InboxFilter(), at=AT).rows == ()
    consultant = _scope(seeded, "konsultant1")
    with pytest.raises(Forbidden):
        department.accept(seeded, consultant, case_id)
    assert cases.get_case(seeded, case_id).status == "forwarded"
    # A case the center has not forwarded yet is nobody's in the departments.
    fresh = cases.create_case(seeded, POTHOLE, by=DESK, at=AT).case.id
    with pytest.raises(Forbidden):
        department.accept(seeded, _scope(seeded, "zdm_pracownik"), fresh)


def test_return_to_the_center_is_counted_and_the_case_re_routed(seeded: Database) -> None:
    case_id, _ = _forwarded(seeded, DUMP)  # waste.illegal_dump → BGO
    bgo = _scope(seeded, "bgo_pracownik")
    department.accept(seeded, bgo, case_id, at=AT)
    with pytest.raises(ValidationError):
        department.return_to_center(seeded, bgo, case_id, "")
    department.return_to_center(seeded, bgo, case_id, "teren Lasów Miejskich", at=AT)
    view = cases.get_case(seeded, case_id)
    assert (view.status, view.department) == ("new", "CKM")
    assert "teren Lasów Miejskich" in (view.history[-1].comment or "")
    with pytest.raises(Forbidden):  # no longer BGO's
        department.card(seeded, bgo, case_id)
    cases.transition_case(seeded, case_id, "forwarded", by=DESK, department="LMW", at=AT)
    card = department.card(seeded, _scope(seeded, "admin"), case_id)
    assert (card.department, card.returns, card.status) == ("LMW", 1, "forwarded")


def test_reassign_reject_ask_and_illegal_moves(seeded: Database) -> None:
    case_id, token = _forwarded(seeded)
    zdm = _scope(seeded, "zdm_pracownik")
    with pytest.raises(ValidationError):
        department.reassign(seeded, zdm, case_id, "ZDM")  # already there
    with pytest.raises(ValidationError):
        department.reassign(seeded, zdm, case_id, "NOPE")
    department.reassign(seeded, zdm, case_id, "BGO", "to odpady", at=AT + timedelta(hours=1))
    bgo = _scope(seeded, "bgo_pracownik")
    card = department.card(seeded, bgo, case_id)
    assert (card.department, card.status) == ("BGO", "forwarded")
    assert card.forwarded_at == AT + timedelta(hours=1)
    department.ask_resident(seeded, bgo, case_id, "Czy gruz leży na jezdni?",
                            at=AT + timedelta(hours=2))
    card = department.card(seeded, bgo, case_id)
    assert card.awaiting_resident and card.status == "forwarded"
    assert (card.history[-1].from_status, card.history[-1].to_status) == ("forwarded", "forwarded")
    public = tracking.by_token(seeded, token)
    assert public is not None and public.status_notes == "Czy gruz leży na jezdni?"
    department.reject(seeded, bgo, case_id, "Teren prywatny; zgłoszenie do właściciela.")
    refused: list[Callable[[], object]] = [
        lambda: department.accept(seeded, bgo, case_id),
        lambda: department.ask_resident(seeded, bgo, case_id, "?"),
        lambda: department.reassign(seeded, bgo, case_id, "ZDM")]
    for act in refused:
        with pytest.raises(TransitionError):
            act()
    assert cases.get_case(seeded, case_id).status == "rejected"


def test_inbox_tabs_filters_search_escalation_and_compliance(seeded: Database) -> None:
    zdm = _scope(seeded, "zdm_pracownik")
    old_id, _ = _forwarded(seeded, at=AT - timedelta(days=10))  # 24 h deadline long gone
    today_id, _ = _forwarded(seeded, NewCase("roads.signs", "Znak przewrócony",
                                             address="Grójecka 5", district="Ochota"),
                             at=AT - timedelta(hours=1))  # 8 h: due today at 17:00? 8–16: tomorrow
    fresh_id, _ = _forwarded(seeded, NewCase("roads.winter", "Ślisko", address="Nowy Świat 1",
                                             district="Śródmieście"), at=AT)  # 2 h: due 12:00
    department.accept(seeded, zdm, fresh_id, at=AT)
    now = AT + timedelta(minutes=30)
    box = department.inbox(seeded, zdm, InboxFilter(), at=now)
    assert {r.id for r in box.rows} == {old_id, today_id, fresh_id}
    assert box.counts["overdue"] == 1 and box.counts["in_progress"] == 1
    assert box.counts["new"] == 2 and box.counts["due_today"] == 1
    ids = {tab: {r.id for r in department.inbox(seeded, zdm, InboxFilter(tab=tab), at=now).rows}
           for tab in ("overdue", "due_today", "in_progress", "new")}
    assert ids == {"overdue": {old_id}, "due_today": {fresh_id}, "in_progress": {fresh_id},
                   "new": {old_id, today_id}}
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(district="Ochota"), at=now).rows} == {today_id}
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(category="roads.winter"), at=now).rows} == {fresh_id}
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(q="grójecka"), at=now).rows} == {today_id}
    number = cases.get_case(seeded, old_id).number
    assert {r.id for r in department.inbox(seeded, zdm, InboxFilter(q=number), at=now).rows} == {old_id}
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(age="older30"), at=now).rows} == set()
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(age="d7"), at=now).rows} == {today_id, fresh_id}
    assert {r.id for r in department.inbox(
        seeded, zdm, InboxFilter(status="in_progress"), at=now).rows} == {fresh_id}
    with pytest.raises(ValidationError):
        department.inbox(seeded, zdm, InboxFilter(tab="nope", district="Gotham"))
    with pytest.raises(Forbidden):
        department.inbox(seeded, zdm, InboxFilter(department="BGO"))
    # Escalation: past the deadline → the head (1); a working day later → the supervisor (2).
    department.add_member(seeded, "zdm_pracownik", "ZDM", head=True)
    assert sla.escalate_overdue(seeded, at=now) == 1
    assert department.escalation_recipients(seeded, old_id)[:1] == ["zdm_pracownik"]
    assert "kierownik" in department.escalation_recipients(seeded, old_id)
    row = next(r for r in department.inbox(seeded, zdm, InboxFilter(), at=now).rows if r.id == old_id)
    assert row.overdue and row.escalation_level == 2
    late = AT + timedelta(hours=3)  # fresh (due 12:00 Warsaw) is overdue by one hour
    assert sla.escalate_overdue(seeded, at=late) == 1
    assert department.card(seeded, zdm, fresh_id, at=late).escalation_level == 1
    # Compliance: one resolved on time, one late.
    department.resolve(seeded, zdm, old_id, "Naprawione", at=now)
    department.resolve(seeded, zdm, today_id, "Naprawione", at=now)
    figure = department.compliance(seeded, "ZDM", at=now)
    assert (figure.on_time, figure.done, figure.percent) == (1, 2, 50.0)
    assert department.inbox(seeded, zdm, InboxFilter(), at=now).compliance == (figure,)


def test_inbox_search_finds_a_word_in_any_field_but_never_across_two(seeded: Database) -> None:
    zdm = _scope(seeded, "zdm_pracownik")
    lamp, _ = _forwarded(seeded, NewCase("roads.pothole", "Latarnia nie świeci",
                                         address="ul. O'Hary 3", district="Wola"))
    hole, _ = _forwarded(seeded)  # "Dziura przy przejściu", Puławska 10
    done, _ = _forwarded(seeded, NewCase("roads.signs", "Zgaszona latarnia", address="Miodowa 1",
                                         district="Śródmieście"))
    department.resolve(seeded, zdm, done, "Naprawione", at=AT)

    def found(q: str, tab: str = "open") -> set[int]:
        return {r.id for r in department.inbox(seeded, zdm, InboxFilter(tab=tab, q=q), at=AT).rows}

    assert found("o'hary") == {lamp}  # a quote is text, not SQL
    assert found("LATARNIA") == {lamp} and found("latarnia", "done") == {done}
    assert found("przy przej") == {hole} and found("Puławska") == {hole}
    # the fields are joined by a separator a query cannot hold: an address and a description
    # side by side are not one text
    assert found("10 Dziura") == found("10\x1fDziura") == set()
    assert found("%") == found("_") == {lamp, hole}  # LIKE's wildcards are not searched for
    assert department.inbox(seeded, zdm, InboxFilter(q="Latarnia"), at=AT).counts["open"] == 1


@pytest.mark.parametrize("seeded_url", ["postgresql"], indirect=True)
def test_inbox_search_reads_the_search_indexes_on_postgresql(seeded: Database) -> None:
    """With a city's cases, the search statements of one view (tab counts, page) are planned
    through migration 0013's GIN indexes for a rare word: the query must write the indexed
    expression exactly as the migration does, or PostgreSQL scans every case of the department."""
    dsn = seeded.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    dept_inbox.load(dsn, 60_000)
    zdm = _scope(seeded, "zdm_pracownik")
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if "ILIKE" in statement:
            statements.append((statement, parameters))

    reads = seeded.autocommit_engine  # the inbox reads on the autocommit pool
    sa.event.listen(reads, "before_cursor_execute", keep)
    try:
        for tab in ("open", "done"):
            department.inbox(seeded, zdm, InboxFilter(tab=tab, q="Testowa 17"))
    finally:
        sa.event.remove(reads, "before_cursor_execute", keep)
    plans = []
    with reads.connect() as conn:
        for statement, parameters in statements:
            plan = conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
            plans.append("\n".join(plan))
    assert len(plans) == 4, statements  # per view: the counts, the page

    def searched_through(plan: str, index: str) -> bool:
        # the text itself is the index's condition, not a filter on what the department
        # part of the index returned
        lines = plan.splitlines()
        return any(index in line and "~~*" in lines[i + 1] and "Index Cond" in lines[i + 1]
                   for i, line in enumerate(lines[:-1]))

    assert all(searched_through(p, "ix_cases_open_search") for p in plans[:2]), plans[:2]
    assert searched_through(plans[3], "ix_cases_done_search"), plans[3]


def _pages(db: Database, scope: department.Scope, f: InboxFilter, at: datetime) -> list[list[int]]:
    """Every page of a tab, following `next_after` as the inbox's "next" link does."""
    pages: list[list[int]] = []
    after = None
    while True:
        box = department.inbox(db, scope, InboxFilter(**{**f.__dict__, "after": after}), at=at)
        pages.append([r.id for r in box.rows])
        if box.next_after is None:
            return pages
        after = box.next_after


def test_inbox_pages_by_keyset_merges_departments_and_caps_the_closed_count(
        seeded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    zdm, admin = _scope(seeded, "zdm_pracownik"), _scope(seeded, "admin")
    # Forwarded a minute apart: the same SLA, so the deadlines are a minute apart too.
    roads = [_forwarded(seeded, at=AT + timedelta(minutes=i))[0] for i in range(5)]
    waste = [_forwarded(seeded, DUMP, at=AT + timedelta(minutes=i, seconds=30))[0] for i in range(2)]
    now = AT + timedelta(hours=1)
    assert _pages(seeded, zdm, InboxFilter(limit=2), now) == [roads[:2], roads[2:4], roads[4:]]
    assert department.inbox(seeded, zdm, InboxFilter(limit=2), at=now).counts["open"] == 5
    # An admin's inbox reads each department in its deadline order and merges them.
    everyone = [r.id for r in department.inbox(seeded, admin, InboxFilter(), at=now).rows]
    due = {c: department.card(seeded, admin, c).due_at for c in roads + waste}
    assert sorted(roads + waste, key=lambda c: (due[c], c)) == everyone
    assert [c for page in _pages(seeded, admin, InboxFilter(limit=3), now) for c in page] == everyone
    # A member of both departments has each read in its order and the two merged.
    rows = department.inbox(seeded, admin, InboxFilter(), at=now).rows
    waste_unit = next(r.department for r in rows if r.id == waste[0])
    assert waste_unit is not None and waste_unit != "ZDM"
    department.add_member(seeded, "zdm_pracownik", waste_unit)
    both = _scope(seeded, "zdm_pracownik")
    assert [c for page in _pages(seeded, both, InboxFilter(limit=3), now) for c in page] == everyone
    department.remove_member(seeded, "zdm_pracownik", waste_unit)
    # The closed tab: the latest change first, page after page; its count stops at the cap.
    for i, case_id in enumerate(roads):
        department.resolve(seeded, zdm, case_id, "Naprawione", at=now + timedelta(minutes=i))
    later = now + timedelta(hours=1)
    done_pages = _pages(seeded, zdm, InboxFilter(tab="done", limit=2), later)
    assert [c for page in done_pages for c in page] == roads[::-1]
    box = department.inbox(seeded, zdm, InboxFilter(tab="done"), at=later)
    assert (box.counts["done"], box.capped) == (5, frozenset())
    monkeypatch.setattr(department, "COUNT_CAP", 3)
    box = department.inbox(seeded, zdm, InboxFilter(tab="done"), at=later)
    assert (box.counts["done"], box.capped, len(box.rows)) == (3, frozenset({"done"}), 5)
    # The deadline the inbox sorts on is the case's copy of case_work's (sla.start_clock).
    with seeded.reading() as session:
        copied = session.get(Case, waste[0])
        work = session.get(CaseWork, waste[0])
        assert copied is not None and work is not None
        assert (copied.due_at, copied.forwarded_at) == (work.due_at, work.forwarded_at)
    with pytest.raises(ValidationError):
        department.inbox(seeded, zdm, InboxFilter(after="yesterday"))


def test_bulk_close_duplicates_all_or_nothing(seeded: Database) -> None:
    zdm = _scope(seeded, "zdm_pracownik")
    original, _ = _forwarded(seeded)
    dup1, token1 = _forwarded(seeded)
    dup2, _ = _forwarded(seeded)
    foreign, _ = _forwarded(seeded, DUMP)
    with pytest.raises(Forbidden):
        department.close_duplicates(seeded, zdm, original, [dup1, foreign])
    assert cases.get_case(seeded, dup1).status == "forwarded"  # nothing changed
    with pytest.raises(ValidationError):
        department.close_duplicates(seeded, zdm, original, [original])
    assert department.close_duplicates(seeded, zdm, original, [dup1, dup2, dup1]) == 2
    for case_id in (dup1, dup2):
        view = cases.get_case(seeded, case_id)
        assert view.status == "closed" and view.duplicate_of == cases.get_case(seeded, original).number
    public = tracking.by_token(seeded, token1)
    assert public is not None and "duplikat" in (public.status_notes or "")


def test_resident_contact_only_where_the_department_allows(seeded: Database) -> None:
    from crm_core.services import residents

    resident = residents.create_resident(seeded, phones=["+48600100200"], name="Jan Kowalski")
    made = cases.create_case(seeded, NewCase(**{**POTHOLE.__dict__, "resident_id": resident.id}),
                             by=DESK, at=AT)
    cases.transition_case(seeded, made.case.id, "forwarded", by=DESK, at=AT)
    zdm = _scope(seeded, "zdm_pracownik")
    assert department.card(seeded, zdm, made.case.id).contact is None
    department.set_share_contact(seeded, "ZDM", True)
    contact = department.card(seeded, zdm, made.case.id).contact
    assert contact is not None and contact.name == "Jan Kowalski"
    assert contact.phones == ("+48600100200",)


def test_ckm_users_dept_add_list_remove(seeded_url: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=seeded_url, data_dir=tmp_path)

    def run(*argv: str) -> int:
        parser = argparse.ArgumentParser(prog="ckm")
        cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(list(argv))
        result: int = args.handler(args, settings)
        return result

    assert run("users", "dept", "add", "bgo_pracownik", "ZZW", "--head") == 0
    assert "works for ZZW (head)" in capsys.readouterr().out
    assert run("users", "dept", "list", "bgo_pracownik") == 0
    out = capsys.readouterr().out
    assert "BGO" in out and "ZZW" in out and "head" in out
    assert run("users", "dept", "add", "konsultant1", "ZDM") == 1
    assert "only department staff" in capsys.readouterr().err
    assert run("users", "dept", "remove", "bgo_pracownik", "ZZW") == 0
    assert "removed from ZZW" in capsys.readouterr().out
    assert run("users", "dept", "add", "bgo_pracownik", "NOPE") == 1
    assert run("dept", "sla-set", "roads.pothole", "12", "--district", "Wola") == 0
    assert run("dept", "sla") == 0
    out = capsys.readouterr().out
    assert "roads.pothole               Wola              12" in out
    assert "roads.pothole               (city-wide)       24" in out
    assert run("dept", "sla-set", "roads.pothole", "0") == 1
    assert run("dept", "share-contact", "ZDM", "on") == 0
    assert "shown" in capsys.readouterr().out
    assert run("dept", "share-contact", "NOPE", "on") == 1
