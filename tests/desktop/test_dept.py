"""/dept over HTTP on a live desk: every department action by every role — only the owning
department's staff (and admins) may act, everyone else is refused and nothing changes; the
card hides another department's case; an illegal move is 422 with the reason; photos behind
the same check; memberships managed on the admin page."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from agent_desktop.security import csrf_for
from crm_core.photos import MediaStore, Photo
from crm_core.services import cases, department, sla, users
from crm_core.services.cases import Actor, NewCase
from tests.desktop.live import LiveDesk

DESK = Actor("konsultant1")
POTHOLE = NewCase("roads.pothole", "Dziura przy przejściu", address="Puławska 10",
                  district="Mokotów", lat=52.20, lon=21.02)
# action → (form, the status after it, whether a status entry is added)
ACTIONS: dict[str, tuple[dict[str, str], str]] = {
    "accept": ({}, "in_progress"),
    "resolve": ({"answer": "Naprawione."}, "resolved"),
    "reject": ({"answer": "Teren prywatny."}, "rejected"),
    "return": ({"reason": "nie nasza jednostka"}, "new"),
    "reassign": ({"department": "BGO"}, "forwarded"),
    "note": ({"note": "wewnętrzna uwaga"}, "forwarded"),
    "ask": ({"question": "Po której stronie ulicy?"}, "forwarded"),
}
REFUSED = {None: 303, "konsultant1": 403, "kierownik": 403, "autor": 403, "bgo_pracownik": 403}


def _forwarded(live: LiveDesk) -> int:
    made = cases.create_case(live.db, POTHOLE, by=DESK)
    cases.transition_case(live.db, made.case.id, "forwarded", by=DESK)
    return made.case.id


def _headers(live: LiveDesk, username: str | None) -> dict[str, str]:
    if username is None:
        return {}
    token = users.open_session(live.db, users.get_user(live.db, username).id)
    return {"Cookie": f"ckm_session={token}", "X-CSRF-Token": csrf_for(token)}


def _trace(live: LiveDesk, case_id: int) -> tuple[str, int, str | None, int]:
    view = cases.get_case(live.db, case_id)
    card = department.card(live.db, department.scope_of(live.db, users.get_user(live.db, "admin").id),
                           case_id)
    return view.status, len(view.history), view.department, len(card.notes)


async def test_every_dept_action_by_every_role(desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    async with aiohttp.ClientSession() as http:
        for owner in ("zdm_pracownik", "admin"):
            for action, (form, after) in ACTIONS.items():
                case_id = _forwarded(live)
                before = _trace(live, case_id)
                url = f"{live.url}/dept/cases/{case_id}/{action}"
                for username, status in REFUSED.items():
                    async with http.post(url, data=form, headers=_headers(live, username),
                                         allow_redirects=False) as r:
                        text = await r.text()
                        assert r.status == status, (action, username, r.status, text[:200])
                        if username == "bgo_pracownik":
                            assert "not a case of your department" in text
                    assert _trace(live, case_id) == before, (action, username)
                async with http.post(url, data=form, headers=_headers(live, owner),
                                     allow_redirects=False) as r:
                    assert r.status == 303, (action, owner, await r.text())
                    assert r.headers["Location"] == f"/dept/cases/{case_id}?done={action}"
                status, *_ = _trace(live, case_id)
                assert status == after, (action, owner)
                if action == "note":
                    assert _trace(live, case_id)[3] == 1
        # Bulk duplicates: refused for all but the owners, all or nothing.
        original, dup = _forwarded(live), _forwarded(live)
        form = {"original": str(original), "case": str(dup)}
        for username, status in REFUSED.items():
            async with http.post(f"{live.url}/dept/duplicates", data=form,
                                 headers=_headers(live, username), allow_redirects=False) as r:
                assert r.status == status, (username, await r.text())
        assert cases.get_case(live.db, dup).status == "forwarded"
        async with http.post(f"{live.url}/dept/duplicates", data=form,
                             headers=_headers(live, "zdm_pracownik"), allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/dept?done=duplicates"
        assert cases.get_case(live.db, dup).status == "closed"


async def test_inbox_card_errors_and_photos(desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    case_id = _forwarded(live)
    number = cases.get_case(live.db, case_id).number
    media = MediaStore(live.center.settings.data_dir / "portal-media")
    name = media.save(case_id, Photo(b"\xff\xd8\xff" + b"\x00" * 200, "jpg"))
    async with aiohttp.ClientSession() as http:
        zdm, bgo = _headers(live, "zdm_pracownik"), _headers(live, "bgo_pracownik")
        async with http.get(f"{live.url}/", headers=zdm, allow_redirects=False) as r:
            assert r.headers["Location"] == "/dept"  # department staff's home
        async with http.get(f"{live.url}/dept?tab=new", headers=zdm) as r:
            page = await r.text()
            assert r.status == 200 and number in page
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        async with http.get(f"{live.url}/dept?q=Puławska&district=Mokotów", headers=zdm) as r:
            assert number in await r.text()
        async with http.get(f"{live.url}/dept?district=Gotham", headers=zdm) as r:
            assert r.status == 422 and "unknown Warsaw district" in await r.text()
        # A page holds 100 cases; the next page follows the last row shown (keyset), with
        # the same filters. The case forwarded last is due last: alone on the second page.
        for _ in range(99):
            _forwarded(live)
        last = cases.get_case(live.db, _forwarded(live)).number
        async with http.get(f"{live.url}/dept?tab=new&district=Mokotów", headers=zdm) as r:
            page = await r.text()
            assert number in page and last not in page and 'id="first-page"' not in page
            assert 'id="next-page"' in page
            link = page.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
        assert "tab=new" in link and "district=Mok" in link and "after=" in link
        async with http.get(f"{live.url}{link.replace('&amp;', '&')}", headers=zdm) as r:
            page = await r.text()
            assert r.status == 200 and last in page and number not in page
            assert 'id="next-page"' not in page and 'id="first-page"' in page
        async with http.get(f"{live.url}/dept", headers=bgo) as r:
            assert r.status == 200 and number not in await r.text()
        async with http.get(f"{live.url}/dept/cases/{case_id}", headers=zdm) as r:
            page = await r.text()
            assert r.status == 200 and "Dziura przy przejściu" in page and "Puławska 10" in page
            assert f"/dept/cases/{case_id}/photos/{name}" in page
            assert "52.20000" in page
        async with http.get(f"{live.url}/dept/cases/{case_id}", headers=bgo) as r:
            assert r.status == 404
        photo = f"{live.url}/dept/cases/{case_id}/photos/{name}"
        async with http.get(photo, headers=zdm) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
        async with http.get(photo, headers=bgo) as r:
            assert r.status == 404
        # An illegal move: 422 with the reason on the card, nothing changes.
        before = _trace(live, case_id)
        async with http.post(f"{live.url}/dept/cases/{case_id}/resolve", data={"answer": ""},
                             headers=zdm, allow_redirects=False) as r:
            assert r.status == 422 and "must not be empty" in await r.text()
        async with http.post(f"{live.url}/dept/cases/{case_id}/accept", headers=zdm) as r:
            assert r.status == 200  # followed to the card
        async with http.post(f"{live.url}/dept/cases/{case_id}/accept", headers=zdm,
                             allow_redirects=False) as r:
            assert r.status == 422 and "cannot go from &#39;in_progress&#39;" in await r.text()
        assert _trace(live, case_id)[0] == "in_progress" and before[0] == "forwarded"
        # The admin page adds and removes a membership.
        admin = _headers(live, "admin")
        async with http.post(f"{live.url}/admin/users/bgo_pracownik/departments",
                             data={"department": "ZDM", "head": "1"}, headers=admin,
                             allow_redirects=False) as r:
            assert r.status == 303
        assert [(m.department, m.is_head) for m in department.memberships(live.db, "bgo_pracownik")] \
            == [("BGO", False), ("ZDM", True)]
        async with http.get(f"{live.url}/admin/users/bgo_pracownik", headers=admin) as r:
            assert 'data-department="ZDM"' in await r.text()
        async with http.get(f"{live.url}/dept/cases/{case_id}", headers=bgo) as r:
            assert r.status == 200  # now BGO's staff works for ZDM too
        async with http.post(f"{live.url}/admin/users/bgo_pracownik/departments/remove",
                             data={"department": "ZDM"}, headers=admin,
                             allow_redirects=False) as r:
            assert r.status == 303
        async with http.post(f"{live.url}/admin/users/konsultant1/departments",
                             data={"department": "ZDM"}, headers=admin) as r:
            assert r.status == 422  # a consultant belongs to no department
    assert datetime.now(UTC) > cases.get_case(live.db, case_id).created_at


async def test_the_wallboard_lists_cases_escalated_to_the_center(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    long_ago = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    made = cases.create_case(live.db, POTHOLE, by=DESK, at=long_ago)
    cases.transition_case(live.db, made.case.id, "forwarded", by=DESK, at=long_ago)
    fresh = _forwarded(live)
    assert sla.escalate_overdue(live.db) == 1
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{live.url}/wallboard", headers=_headers(live, "kierownik")) as r:
            page = await r.text()
            assert r.status == 200 and 'id="escalated"' in page
            assert f'data-case="{made.case.number}"' in page
            assert cases.get_case(live.db, fresh).number not in page
        async with http.get(f"{live.url}/dept?tab=overdue", headers=_headers(live, "zdm_pracownik")) as r:
            page = await r.text()
            assert made.case.number in page and "kierownik centrum" in page
