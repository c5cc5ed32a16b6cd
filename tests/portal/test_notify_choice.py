"""How a resident chooses to be told about their report: the portal form's "notify_by", and
Open311's `email`/`phone`; what they chose is what the notification outbox uses."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from crm_core.db import Database
from crm_core.models import Case, CaseNotifyPreference, Notification
from crm_core.services.cases import Actor, transition_case

from .test_portal_pages import csrf, form

Client = TestClient[Any, Any]


def _case(crm: Database, number: str) -> tuple[Case, CaseNotifyPreference | None]:
    with crm.reading() as session:
        case = session.scalar(sa.select(Case).where(Case.number == number))
        assert case is not None
        return case, session.get(CaseNotifyPreference, case.id)


async def _report(client: Client, **fields: str) -> tuple[Any, str]:
    token = await csrf(client)
    response = await client.post("/portal/report", data=form(token, **fields), allow_redirects=False)
    return response, await response.text()


async def _number(client: Client, response: Any) -> tuple[str, str]:
    link = response.headers["Location"]
    token = re.fullmatch(r"/portal/t/([A-Za-z0-9_-]+)\?new=1", link)
    assert token is not None
    page = await (await client.get(link)).text()
    number = re.search(r'id="case-number">(19115/\d{4}/\d{6})<', page)
    assert number is not None
    return number.group(1), token.group(1)


async def test_the_form_offers_the_choice_and_email_is_recorded(client: Client, crm: Database) -> None:
    page = await (await client.get("/portal/report?lang=en")).text()
    assert 'name="notify_by"' in page and 'value="sms"' in page and "by e-mail" in page
    response, _ = await _report(client, name="Anna Nowak", email="anna@example.pl", notify_by="email",
                                lang="en")
    assert response.status == 303
    number, token = await _number(client, response)
    case, pref = _case(crm, number)
    assert pref is not None
    assert (pref.channel, pref.address, pref.language) == ("email", "anna@example.pl", "en")
    # The status change that matters enqueues the e-mail, in English, with the private link.
    transition_case(crm, case.id, "forwarded", by=Actor("konsultant1"))
    transition_case(crm, case.id, "in_progress", by=Actor("department:BGO"))
    with crm.reading() as session:
        (note,) = session.scalars(sa.select(Notification).where(Notification.case_id == case.id)).all()
    assert note.channel == "email" and note.to_address == "anna@example.pl" and note.language == "en"
    assert f"/portal/t/{token}" in note.body_text and note.body_html and number in note.subject


async def test_sms_needs_a_phone_and_none_means_none(client: Client, crm: Database) -> None:
    response, text = await _report(client, email="anna@example.pl", notify_by="sms")
    assert response.status == 400 and "Podaj numer telefonu, aby dostawać SMS-y." in text
    response, _ = await _report(client, phone="600 100 200", notify_by="sms")
    number, _ = await _number(client, response)
    _, pref = _case(crm, number)
    assert pref is not None and (pref.channel, pref.address) == ("sms", "+48600100200")
    response, _ = await _report(client, email="ewa@example.pl")  # the default: not told
    number, _ = await _number(client, response)
    assert _case(crm, number)[1] is None


async def test_a_phone_call_needs_a_number_and_the_news_is_enqueued_to_be_spoken(
        client: Client, crm: Database) -> None:
    """A resident without e-mail asks for a call from 19115: the form wants their number, then
    records `phone`, and a status change enqueues the news as a spoken message (no link)."""
    page = await (await client.get("/portal/report")).text()
    assert 'value="phone"' in page and "telefonem z 19115" in page
    response, text = await _report(client, name="Jan Kowalski", notify_by="phone")
    assert response.status == 400 and "Podaj numer telefonu, pod który mamy zadzwonić." in text
    response, _ = await _report(client, name="Jan Kowalski", phone="600 100 300", notify_by="phone")
    assert response.status == 303
    number, _ = await _number(client, response)
    case, pref = _case(crm, number)
    assert pref is not None and (pref.channel, pref.address, pref.language) == (
        "phone", "+48600100300", "pl")
    transition_case(crm, case.id, "forwarded", by=Actor("konsultant1"))
    transition_case(crm, case.id, "in_progress", by=Actor("department:BGO"))
    with crm.reading() as session:
        (note,) = session.scalars(sa.select(Notification).where(Notification.case_id == case.id)).all()
    assert (note.channel, note.to_address, note.kind) == ("phone", "+48600100300", "accepted")
    assert "http" not in note.body_text and note.body_html is None


async def test_open311_email_is_the_way_to_answer(client: Client, crm: Database, api_key: str) -> None:
    data = FormData()
    for name, value in {
        "api_key": api_key, "service_code": "roads.pothole", "lat": "52.2297", "long": "21.0122",
        "address_string": "Marszałkowska 10", "attribute[district]": "Śródmieście",
        "description": "Dziura", "email": "jan@example.pl", "phone": "600 100 200",
    }.items():
        data.add_field(name, value)
    response = await client.post("/open311/v2/requests.json", data=data)
    assert response.status == 200, await response.text()
    [posted] = await response.json()
    _, pref = _case(crm, posted["service_request_id"].replace("-", "/"))
    assert pref is not None and (pref.channel, pref.address) == ("email", "jan@example.pl")
