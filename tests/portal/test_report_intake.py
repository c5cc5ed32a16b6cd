"""A report's intake is one unit of work (portal.reports.submit): the resident, the contact and
the case are written together, or — when the CRM refuses the case — none of them is."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from crm_core.db import Database
from crm_core.models import Case, Interaction, Resident
from crm_core.models.cases import case_interactions
from crm_core.photos import MediaStore
from portal.fields import InvalidInput
from portal.reports import Contact, ReportDraft, submit


def counts(db: Database) -> tuple[int, int, int]:
    with db.reading() as s:
        return tuple(s.scalar(sa.select(sa.func.count()).select_from(t)) or 0  # type: ignore[return-value]
                     for t in (Resident, Interaction, Case))


def draft(service_code: str, phone: str) -> ReportDraft:
    return ReportDraft(service_code=service_code, description="Dziura w jezdni przy przystanku",
                       district="Mokotów", address="ul. Puławska 100", lat=None, lon=None,
                       location_details=None, contact=Contact("Jan Kowalski", None, phone),
                       photo=None, channel="portal")


def test_a_refused_case_leaves_no_resident_and_no_contact_behind(crm: Database,
                                                                 tmp_path: Path) -> None:
    media = MediaStore(tmp_path / "media")
    before = counts(crm)
    try:
        submit(crm, media, draft("no.such-category", "+48600100200"), by="portal")
    except InvalidInput as refused:
        assert "service_code" in refused.fields, refused.fields
    else:
        raise AssertionError("a report in an unknown category was accepted")
    assert counts(crm) == before  # no resident, no interaction, no case

    made = submit(crm, media, draft("other.complaint", "+48600100200"), by="portal")
    assert counts(crm) == (before[0] + 1, before[1] + 1, before[2] + 1)
    with crm.reading() as s:
        case = s.get(Case, made.case_id)
        assert case is not None and case.resident_id is not None
        linked = s.scalar(sa.select(sa.func.count()).select_from(case_interactions)
                          .where(case_interactions.c.case_id == made.case_id))
        assert linked == 1
