"""Who may do what, route by route: every route of the desk, wallboard, IVR editor, admin
pages and the CTI websocket (read from the application's router, so a new route without a rule
here fails) × every role, over a real server. And: a wrap-up or a call's case only by the agent
who handled the call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from agent_desktop.security import csrf_for
from crm_core.services import cases, interactions, users
from cti import commands as cmd
from cti import events as ev
from cti.config import Caller
from ground import events as domain
from tests.desktop.live import LiveDesk

ANONYMOUS = "anonymous"
# role → the demo account that has it
ACCOUNTS = {"consultant": "konsultant1", "supervisor": "kierownik", "ivr_author": "autor",
            "admin": "admin", "department_staff": "zdm_pracownik"}
ROLES = (ANONYMOUS, *ACCOUNTS)
DESK = frozenset({"consultant", "supervisor", "admin"})
WALLBOARD = frozenset({"supervisor", "admin"})
IVR = frozenset({"ivr_author", "admin"})
ADMIN = frozenset({"admin"})
DEPT = frozenset({"department_staff", "admin"})
SIGNED_IN = frozenset({"consultant", "supervisor", "ivr_author", "department_staff", "admin"})
PUBLIC = "public"


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str] | str  # roles, or PUBLIC
    kind: str = "page"  # page: anonymous → 303 to /login; api: 401; ws: the CTI socket
    public_status: int = 200  # what everyone gets from a public route


# (method, canonical path) → rule. HEAD follows GET.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(PUBLIC, public_status=303),
    ("GET", "/login"): Rule(PUBLIC),
    ("POST", "/login"): Rule(PUBLIC, public_status=403),  # no login-form token: refused
    ("POST", "/logout"): Rule(SIGNED_IN),
    ("GET", "/lang/{lang}"): Rule(PUBLIC, public_status=303),
    ("GET", "/desk"): Rule(DESK),
    ("GET", "/wallboard"): Rule(WALLBOARD),
    ("GET", "/ivr"): Rule(IVR),
    ("GET", "/admin"): Rule(ADMIN),
    ("POST", "/admin/users"): Rule(ADMIN),
    ("GET", "/admin/users/{username}"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/profile"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/active"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/password"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/queues"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/queues/remove"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/skills"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/skills/remove"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/departments"): Rule(ADMIN),
    ("POST", "/admin/users/{username}/departments/remove"): Rule(ADMIN),
    ("GET", "/dept"): Rule(DEPT),
    ("GET", "/dept/cases/{case_id}"): Rule(DEPT),
    ("GET", "/dept/cases/{case_id}/photos/{photo}"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/accept"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/resolve"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/reject"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/return"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/reassign"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/note"): Rule(DEPT),
    ("POST", "/dept/cases/{case_id}/ask"): Rule(DEPT),
    ("POST", "/dept/duplicates"): Rule(DEPT),
    ("GET", "/desk/api/softphone"): Rule(DESK, "api"),
    ("GET", "/desk/api/deskphone"): Rule(DESK, "api"),
    ("GET", "/desk/api/route"): Rule(DESK, "api"),
    ("GET", "/desk/api/nearby"): Rule(DESK, "api"),
    ("POST", "/desk/api/cases"): Rule(DESK, "api"),
    ("GET", "/desk/api/cases/find"): Rule(DESK, "api"),
    ("POST", "/desk/api/cases/{case_id}/status"): Rule(DESK, "api"),
    ("POST", "/desk/api/wrapup"): Rule(DESK, "api"),
    ("GET", "/desk/api/kb"): Rule(DESK, "api"),
    ("GET", "/desk/api/kb/{slug}"): Rule(DESK, "api"),
    ("GET", "/desk/api/callbacks"): Rule(DESK, "api"),
    ("GET", "/wallboard/api/today"): Rule(WALLBOARD, "api"),
    ("GET", "/wallboard/api/notifications"): Rule(WALLBOARD, "api"),
    ("GET", "/wallboard/api/quarantine"): Rule(WALLBOARD, "api"),
    ("GET", "/desk/api/recordings/{call_id}"): Rule(WALLBOARD, "api"),
    ("GET", "/ivr/api/scripts/{name}"): Rule(IVR, "api"),
    ("GET", "/ivr/api/scripts/{name}/versions/{version}"): Rule(IVR, "api"),
    ("POST", "/ivr/api/scripts/{name}/validate"): Rule(IVR, "api"),
    ("POST", "/ivr/api/scripts/{name}/simulate"): Rule(IVR, "api"),
    ("POST", "/ivr/api/scripts/{name}/diff"): Rule(IVR, "api"),
    ("POST", "/ivr/api/scripts/{name}/publish"): Rule(IVR, "api"),
    ("POST", "/ivr/api/scripts/{name}/rollback"): Rule(IVR, "api"),
    ("GET", "/cti/ws"): Rule(DESK, "ws"),
    ("GET", "/static/desk"): Rule(PUBLIC),
    ("GET", "/static/vendor/sip.js"): Rule(PUBLIC),
    ("GET", "/reports/map"): Rule(WALLBOARD),
    ("GET", "/reports/map/api/points"): Rule(WALLBOARD, "api"),
    ("GET", "/static/geo/warsaw_districts.geojson"): Rule(PUBLIC),
    ("GET", "/static/geo"): Rule(PUBLIC),
    ("GET", "/static/vendor/leaflet"): Rule(PUBLIC),
    ("GET", "/static/vendor/leaflet.markercluster"): Rule(PUBLIC),
    ("GET", "/static/vendor/leaflet.heat"): Rule(PUBLIC),
    ("GET", "/reports"): Rule(WALLBOARD),
    ("GET", "/reports/export.xlsx"): Rule(WALLBOARD),
    ("GET", "/reports/export/{table}.csv"): Rule(WALLBOARD),
    ("GET", "/static/vendor/chart.js"): Rule(PUBLIC),
}
# What goes into the path's {placeholders}; a request for a file under a static prefix.
FILL = {"username": "matrix_target", "case_id": "999999", "slug": "no-such-article",
        "name": "19115", "version": "1", "lang": "en", "photo": "0123456789abcdef.jpg",
        "call_id": "no-such-call", "table": "queues"}
STATIC_FILE = {"/static/desk": "/desk.css", "/static/vendor/sip.js": "/api/index.js",
               "/static/geo": "/ckm-map.js", "/static/vendor/leaflet": "/leaflet.js",
               "/static/vendor/leaflet.markercluster": "/leaflet.markercluster.js",
               "/static/vendor/leaflet.heat": "/leaflet-heat.js",
               "/static/vendor/chart.js": "/chart.umd.min.js"}
TARGET_PASSWORD = "cel-macierzy-uprawnien"


def _url_of(canonical: str) -> str:
    if canonical in STATIC_FILE:
        return canonical + STATIC_FILE[canonical]
    path = canonical
    for name, value in FILL.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no filler for a placeholder of {canonical}: add it to FILL"
    return path


def _session(live: LiveDesk, role: str) -> str | None:
    if role == ANONYMOUS:
        return None
    user = users.get_user(live.db, ACCOUNTS[role])
    return users.open_session(live.db, user.id)  # a fresh one: POST /logout ends it


def _expected(rule: Rule, role: str, method: str) -> int | str:
    if rule.allowed == PUBLIC:
        return rule.public_status
    assert isinstance(rule.allowed, frozenset)
    if rule.kind == "ws":
        return "snapshot" if role in rule.allowed else "refused"
    if role == ANONYMOUS:
        return 401 if rule.kind == "api" else 303
    if role not in rule.allowed:
        return 403
    return "granted"


async def _socket(http: aiohttp.ClientSession, url: str, token: str | None) -> str:
    headers = {"Cookie": f"ckm_session={token}"} if token else {}
    query = f"?csrf={csrf_for(token)}" if token else ""
    async with http.ws_connect(url + query, headers=headers) as ws:
        if token is None:
            await ws.send_str(json.dumps({"type": "auth", "token": "not-a-session"}))
        msg = await ws.receive(timeout=5)
        if msg.type is aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "snapshot":
            return "snapshot"
        return "refused"


async def _request(http: aiohttp.ClientSession, method: str, url: str, rule: Rule,
                   token: str | None) -> tuple[int | str, str]:
    """The status, and the Location of a redirect or else the body."""
    headers = {}
    if token:
        headers = {"Cookie": f"ckm_session={token}", "X-CSRF-Token": csrf_for(token)}
    body: dict[str, object] = {}
    if method == "POST" and rule.kind == "api":
        body = {"json": {}}
    elif method == "POST":
        body = {"data": {}}
    async with http.request(method, url, headers=headers, allow_redirects=False,
                            **body) as response:  # type: ignore[arg-type]
        text = await response.text(errors="replace")  # an XLSX download is not text
        return response.status, response.headers.get("Location", "") or text


def _granted(status: int | str, text: str) -> bool:
    # Anything but a refusal: the page, a redirect after a form, or the handler's own
    # answer to the empty input (400/404/415/422). Never a server error.
    return isinstance(status, int) and status not in (401, 403) and status < 500


async def test_every_route_for_every_role(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, app = desk_app
    users.create_user(live.db, username="matrix_target", full_name="Cel", role="consultant",
                      password=TARGET_PASSWORD)
    routes: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        routes.add((route.method, route.resource.canonical))
    missing = sorted(routes - set(RULES))
    assert missing == [], f"routes without an authorization rule in this test: {missing}"
    seen: dict[tuple[str, str, str], int | str] = {}
    async with aiohttp.ClientSession() as http:
        for method, canonical in sorted(routes):
            rule = RULES[(method, canonical)]
            url = live.url + _url_of(canonical)
            for role in ROLES:
                token = _session(live, role)
                expected = _expected(rule, role, method)
                if rule.kind == "ws":
                    got: int | str = await _socket(http, url, token)
                    text = ""
                else:
                    got, text = await _request(http, method, url, rule, token)
                seen[(method, canonical, role)] = got
                if expected == "granted":
                    assert _granted(got, text), (method, canonical, role, got, text[:200])
                else:
                    assert got == expected, (method, canonical, role, got, text[:200])
                    if got == 403 and rule.allowed != PUBLIC:  # the role gate's refusal
                        assert "may not" in text or "nie ma tu dostępu" in text, text
                    if got == 303 and rule.allowed != PUBLIC:  # not signed in: the login form
                        assert text.startswith("/login"), (method, canonical, role, text)
    # HEAD answers like GET for every gated page.
    async with aiohttp.ClientSession() as http:
        token = _session(live, "consultant")
        for path, want in (("/admin", 403), ("/desk", 200), ("/wallboard", 403)):
            async with http.head(live.url + path, allow_redirects=False,
                                 headers={"Cookie": f"ckm_session={token}"}) as r:
                assert r.status == want, path
    # The admin POSTs really ran for the admin only: the target was disabled (empty form =
    # active 0), everyone else's attempt changed nothing before.
    assert not users.get_user(live.db, "matrix_target").is_active
    assert seen[("POST", "/admin/users/{username}/active", "admin")] == 303


def now() -> datetime:
    return datetime.now(UTC)


class RecordingPbx:
    def __init__(self) -> None:
        self.commands: list[cmd.Command] = []

    def execute(self, command: cmd.Command) -> None:
        self.commands.append(command)


async def _post(http: aiohttp.ClientSession, live: LiveDesk, username: str, path: str,
                body: dict[str, object]) -> tuple[int, dict[str, object]]:
    token = users.open_session(live.db, users.get_user(live.db, username).id)
    headers = {"Cookie": f"ckm_session={token}", "X-CSRF-Token": csrf_for(token)}
    async with http.post(live.url + path, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_wrap_up_and_cases_only_by_the_agent_who_handled_the_call(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    # An older call, known to the CRM only: konsultant2 handled it.
    interactions.record_event(live.db, domain.CallStarted(
        "call-crm", now(), "+48600100300", "Jan", "19115", "PJSIP/trunk-1"))
    interactions.record_event(live.db, domain.AgentConnected("call-crm", now(), "ogolna",
                                                             "konsultant2", 4.0))
    # A live call, known to the ACD: konsultant1 answers it.
    pbx = RecordingPbx()
    live.board.attach_pbx(pbx)
    interactions.record_event(live.db, domain.CallStarted(
        "call-live", now(), "+48600100400", "Ewa", "19115", "PJSIP/trunk-2"))
    assert live.board.directory is not None
    seat = await live.board.directory.seat("konsultant1")
    assert seat is not None
    live.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    live.board.feed(ev.CallEnqueued(now(), "call-live", "transport", Caller("+48600100400", "Ewa")))
    ring = next(c for c in pbx.commands if isinstance(c, cmd.RingAgent))
    assert ring.agent == "konsultant1"
    live.board.feed(ev.AgentAnswered(now(), "call-live", "konsultant1", ring.offer))
    case_body = {"category": "roads.pothole", "description": "dziura", "address": "Puławska 1",
                 "district": "Mokotów"}
    async with aiohttp.ClientSession() as http:
        # Others are refused, and nothing is written.
        for username, call_id in (("konsultant1", "call-crm"), ("konsultant3", "call-live"),
                                  ("konsultant3", "call-crm"), ("kierownik", "call-live"),
                                  ("konsultant1", "no-such-call")):
            status, answer = await _post(http, live, username, "/desk/api/wrapup",
                                         {"call_id": call_id, "disposition": "info_given",
                                          "notes": "nie moje"})
            assert status == 403, (username, call_id, answer)
            assert "not handled by you" in str(answer["errors"])
            status, answer = await _post(http, live, username, "/desk/api/cases",
                                         {**case_body, "call_id": call_id})
            assert status == 403, (username, call_id, answer)
        assert cases.list_cases(live.db) == []
        for call_id in ("call-crm", "call-live"):
            view = interactions.get_call(live.db, call_id)
            assert (view.disposition_code, view.notes) == (None, None), call_id
        # The agents who handled them may.
        status, answer = await _post(http, live, "konsultant2", "/desk/api/wrapup",
                                     {"call_id": "call-crm", "disposition": "info_given",
                                      "notes": "moje"})
        assert status == 200, answer
        status, answer = await _post(http, live, "konsultant1", "/desk/api/cases",
                                     {**case_body, "call_id": "call-live"})
        assert status == 201, answer
        status, answer = await _post(http, live, "konsultant1", "/desk/api/wrapup",
                                     {"call_id": "call-live", "disposition": "case_created",
                                      "notes": "zgłoszenie"})
        assert status == 200, answer
    assert interactions.get_call(live.db, "call-crm").notes == "moje"
    assert interactions.get_call(live.db, "call-live").disposition_code == "case_created"


async def test_disabling_an_agent_ends_their_socket_and_takes_them_off_the_queues(
        desk_app: tuple[LiveDesk, web.Application]) -> None:
    live, _ = desk_app
    assert live.board.directory is not None
    seat = await live.board.directory.seat("konsultant2")
    assert seat is not None
    live.board.feed(ev.AgentLoggedIn(now(), seat.profile, seat.endpoint))
    assert live.board.acd.agents["konsultant2"].status.value == "available"
    agent_token = users.open_session(live.db, users.get_user(live.db, "konsultant2").id)
    admin_token = users.open_session(live.db, users.get_user(live.db, "admin").id)
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{live.url}/cti/ws?csrf={csrf_for(agent_token)}",
            headers={"Cookie": f"ckm_session={agent_token}"}) as ws:
        first = await ws.receive(timeout=5)
        assert json.loads(first.data)["type"] == "snapshot"
        async with http.post(f"{live.url}/admin/users/konsultant2/active",
                             data={"active": "0"}, allow_redirects=False,
                             headers={"Cookie": f"ckm_session={admin_token}",
                                      "X-CSRF-Token": csrf_for(admin_token)}) as r:
            assert r.status == 303
        while True:  # events may come first; then the server closes it
            msg = await ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert ws.close_code == 4401
    agent = live.board.acd.agents["konsultant2"]
    assert agent.status.value == "offline"
    assert users.session_user(live.db, agent_token) is None
