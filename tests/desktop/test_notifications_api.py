"""Supervisors see residents' notifications that failed, with their last error, on the
wallboard and at /wallboard/api/notifications (what `ckm notifications list --failed` shows)."""

from __future__ import annotations

import aiohttp
import sqlalchemy as sa
from aiohttp import web

from crm_core.models import Notification
from crm_core.notifications import store
from crm_core.services import cases, users
from tests.desktop.live import LiveDesk


async def test_failed_notifications_are_listed_for_supervisors(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    made = cases.create_case(live.db, cases.NewCase(
        "roads.pothole", "Dziura", address="Puławska 1", district="Mokotów"), by=cases.Actor("portal"))
    store.set_preference(live.db, made.case.id, "email", "gone@example.test", language="en")
    cases.transition_case(live.db, made.case.id, "forwarded", by=cases.Actor("konsultant1"))
    cases.transition_case(live.db, made.case.id, "in_progress", by=cases.Actor("department:ZDM"))
    with live.db.writing() as session:
        session.execute(sa.update(Notification).values(
            status="failed", attempts=8, last_error="SMTP 550 5.1.1 no such mailbox"))
    async with aiohttp.ClientSession() as http:
        for username, expected in (("kierownik", 200), ("konsultant1", 403)):
            token = users.open_session(live.db, users.get_user(live.db, username).id)
            async with http.get(live.url + "/wallboard/api/notifications",
                                headers={"Cookie": f"ckm_session={token}"}) as response:
                assert response.status == expected, username
                if expected == 200:
                    body = await response.json()
        async with http.get(live.url + "/wallboard/api/notifications?status=nonsense",
                            headers={"Cookie": f"ckm_session={token}"}) as response:
            assert response.status in (400, 403)
    assert body["counts"] == {"failed": 1} and body["status"] == "failed"
    (row,) = body["notifications"]
    assert (row["case_number"], row["kind"], row["to"], row["attempts"]) == (
        made.case.number, "accepted", "gone@example.test", 8)
    assert row["last_error"] == "SMTP 550 5.1.1 no such mailbox"
    # The wallboard page itself lists them.
    token = users.open_session(live.db, users.get_user(live.db, "kierownik").id)
    async with aiohttp.ClientSession() as http, http.get(
            live.url + "/wallboard", headers={"Cookie": f"ckm_session={token}"}) as response:
        assert response.status == 200
        page = await response.text()
    panel = page.split('id="undelivered"', 1)[1].split("</section>", 1)[0]
    assert made.case.number in panel and "gone@example.test" in panel
    assert "SMTP 550 5.1.1 no such mailbox (×8)" in panel and "przyjęcie · e-mailem" in panel
