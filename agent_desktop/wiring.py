"""How `ckm run` mounts the desktop, the wallboard and the IVR editor: `setup(app, ...)`.

What it is given (by the composition root, ckm/assembly.py + ckm/runner.py):
  db           crm_core.db.Database — users, sessions, cases, KB, scripts (when None, the
               database at settings.db_url is migrated and opened here, and closed with `app`)
  bus          the center's event bus — today's chart listens to it
  library      the live IVR script library (pbx.script_library.ScriptLibrary) — publishing
               from the editor reaches new calls through it; None without a controller
  switchboard  cti.switchboard.Switchboard — read-only: pending callbacks for the desk
  hub          cti.hub.CtiHub — the pages' live channel at /cti/ws (mounted by the runner)
What it returns: the `Desk` the handlers share (agent_desktop.desk), with today's chart.

Routes: / (home by role), /login, /logout, /lang/{pl|en}, /desk, /wallboard, /ivr, /admin
(accounts, queues, skills: agent_desktop.admin), /dept (the department workspace:
agent_desktop.dept), /reports (agent_desktop.reports); JSON under /desk/api/, /wallboard/api/,
/ivr/api/; static at /static/desk/ and SIP.js at /static/vendor/sip.js/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from agent_desktop import (
    admin,
    dept,
    desk_api,
    ivr_api,
    login_guard,
    pages,
    report_map,
    reports,
    security,
    wallboard,
)
from agent_desktop.crm import Crm
from agent_desktop.desk import DESK, HERE, Desk, templates
from agent_desktop.ivr_editor import ScriptBook
from agent_desktop.today import TodayChart, midnight
from crm_core.db import Database, migrate
from ground import edge
from ground.bus import EventBus
from ground.phones import desk_phones, softphones
from ground.settings import Settings

if TYPE_CHECKING:
    from cti.hub import CtiHub
    from cti.switchboard import Switchboard

log = logging.getLogger(__name__)

ROOT = HERE.parent
SIPJS_DIR = ROOT / "node_modules" / "sip.js" / "lib"
CHARTJS_DIR = ROOT / "node_modules" / "chart.js" / "dist"


def _own_database(app: web.Application, settings: Settings) -> Database:
    """A bare web process (no assembly): open the CRM here and close it with the app."""
    migrate(settings.db_url)
    db = Database(settings.db_url)

    async def close(app: web.Application) -> None:
        db.dispose()

    app.on_cleanup.append(close)
    return db


def _phones(settings: Settings, kind: str) -> dict[str, str]:
    """Extension → SIP password of the consultants' phones of `kind` ("browser" or "desk")."""
    try:
        phones = softphones(settings) if kind == "browser" else desk_phones(settings)
        return {p.user: p.password for p in phones}
    except Exception:  # a bad extensions setting must not take the desktop down
        log.exception("%s phone credentials unavailable; the desk offers none", kind)
        return {}


def _known_queues(library: Any | None) -> tuple[str, ...]:
    if library is not None:
        return tuple(library.known_queues)
    from ivr.validator import DEFAULT_QUEUES

    return DEFAULT_QUEUES


def _fill_chart(chart: TodayChart, db: Any) -> None:
    """Service-level thresholds per queue, and the day so far from the CRM (see today.py)."""
    from crm_core.services import contact_center

    try:
        chart.sl_threshold_s.update({q.name: float(q.sl_threshold_s)
                                     for q in contact_center.list_queues(db)})
        now = datetime.now(UTC)
        # From a day back: a call that joined before midnight may have been answered after it.
        since = midnight(now) - timedelta(days=1)
        counted = chart.backfill(contact_center.queued_calls_between(db, since, now), now)
    except SQLAlchemyError as exc:  # a chart is no reason to refuse to start
        log.warning("today's chart starts empty: the CRM could not be read (%s)", exc)
        return
    if counted:
        log.info("today's chart: %d queued calls since midnight from the CRM", counted)


def _account_warnings(db: Any) -> None:
    from crm_core.seed import account_warnings

    try:
        for warning in account_warnings(db):
            log.warning("accounts: %s", warning)
    except SQLAlchemyError as exc:
        log.warning("accounts could not be checked (%s)", exc)


def setup(app: web.Application, settings: Settings, *, db: Database | None = None,
          bus: EventBus | None = None, library: Any | None = None,
          switchboard: Switchboard | None = None, hub: CtiHub | None = None) -> Desk:
    if db is None:
        db = _own_database(app, settings)
    crm = Crm(db, idle=timedelta(minutes=settings.session_idle_minutes))
    chart = TodayChart()
    book = ScriptBook(db, library, _known_queues(library))
    desk = Desk(crm=crm, scripts=book, chart=chart, settings=settings,
                templates=templates(), switchboard=switchboard,
                softphones=_phones(settings, "browser"),
                desk_phones=_phones(settings, "desk"))

    def start() -> None:
        # Needs the running loop: the bus pumps a task per subscriber, and the script
        # library's publish listeners (prompt rendering) schedule tasks too.
        if bus is not None:
            bus.subscribe("desktop.today", chart.on_event)
        _fill_chart(chart, db)
        _account_warnings(db)
        restored = book.restore_active()
        if restored:
            log.info("IVR versions published from the editor are live again: %s",
                     ", ".join(restored))

    async def on_startup(app: web.Application) -> None:
        start()

    async def escalations(app: web.Application) -> AsyncIterator[None]:
        # Overdue cases are escalated while the web server runs (agent_desktop.dept.sweep).
        sweeper = asyncio.get_running_loop().create_task(dept.sweep(db), name="dept-escalations")
        yield
        sweeper.cancel()

    app.cleanup_ctx.append(escalations)

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # built outside the loop: start with the web server
        app.on_startup.append(on_startup)
    else:  # `ckm run`: at once, before the controller takes its first call
        start()
    app[DESK] = desk
    login_guard.install(app)  # login throttle; password checks in their own small pool
    app[admin.CTI_HUB] = hub
    app[security.SESSION_LOOKUP] = crm.session_user
    app.middlewares.append(security.guard_cti_socket)
    app.on_response_prepare.append(security.add_security_headers(
        lambda request: edge.ws_origin(desk.sip_ws_url(request))))

    pages.add_routes(app)
    wallboard.add_routes(app)
    admin.add_routes(app)
    dept.add_routes(app, settings)
    desk_api.add_routes(app)
    ivr_api.add_routes(app)
    reports.add_routes(app)
    report_map.add_routes(app)
    app.router.add_static("/static/desk/", HERE / "static", append_version=False)
    if SIPJS_DIR.is_dir():
        app.router.add_static("/static/vendor/sip.js/", SIPJS_DIR)
    else:
        log.warning("%s missing (npm install): the browser softphone cannot load", SIPJS_DIR)
    if CHARTJS_DIR.is_dir():
        app.router.add_static("/static/vendor/chart.js/", CHARTJS_DIR)
    else:
        log.warning("%s missing (npm install): the reports show tables without charts",
                    CHARTJS_DIR)
    return desk
