"""The supervisors' wallboard page: live queues and agents (filled by the hub's frames), today's
chart, cases escalated past their deadline and notifications that could not be delivered.

Its own module because it shows the department workspace's escalations in that workspace's
words (agent_desktop.dept), and the desk's pages module stays below the workspace.
"""

from __future__ import annotations

from aiohttp import web

from agent_desktop.crm import off_loop
from agent_desktop.dept import strings as dept_strings
from agent_desktop.dept import when
from agent_desktop.pages import current, desk_of, lang_of, render
from agent_desktop.security import WALLBOARD_ROLES, requires
from crm_core.forwarding import inbound
from crm_core.services import department


@requires(WALLBOARD_ROLES)
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    user = await current(request)
    ref = await desk_of(request).crm.reference()
    desk_of(request).chart.sl_threshold_s.update(
        {q["name"]: float(q["sl_threshold_s"]) for q in ref["queues"]})
    escalated = await off_loop(department.escalated, desk_of(request).crm.db)
    undelivered = (await desk_of(request).crm.notifications("failed", limit=20))["notifications"]
    quarantined = await off_loop(inbound.list_inbound, desk_of(request).crm.db, limit=20)
    return render(request, "wallboard.html", user, ref=ref, escalated=escalated, when=when,
                  undelivered=undelivered, quarantined=quarantined,
                  d=dept_strings(lang_of(request)),
                  has_phone=user.extension in desk_of(request).softphones,
                  desk_phone=user.extension in desk_of(request).desk_phones)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard_page)
