"""How `ckm run` mounts the desktop, the wallboard and the IVR editor: `setup(app, center)`.

Reads from `center.services` (see ckm/assembly.py):
  crm.db           crm_core.db.Database — users, sessions, cases, KB, scripts (required; when
                   absent, the database at settings.db_url is migrated and opened here)
  cti.hub          cti.hub.CtiHub — the pages' live channel at /cti/ws (mounted by the runner)
  cti.switchboard  cti.switchboard.Switchboard — read-only: pending callbacks for the desk
  ivr.library      pbx.script_library.ScriptLibrary — publishing reaches new calls through it
Creates:
  desktop.chart    agent_desktop.today.TodayChart — today's per-15-minute figures (bus-fed)
  desktop.scripts  agent_desktop.ivr_editor.ScriptBook

Routes: / (home by role), /login, /logout, /lang/{pl|en}, /desk, /wallboard, /ivr, /admin
(accounts, queues, skills: agent_desktop.admin), /dept (the department workspace:
agent_desktop.dept); JSON under /desk/api/, /wallboard/api/,
/ivr/api/; static at /static/desk/ and SIP.js at /static/vendor/sip.js/.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from agent_desktop import admin, dept, desk_api, ivr_api, login_guard, pages, security
from agent_desktop.crm import Crm
from agent_desktop.ivr_editor import ScriptBook
from agent_desktop.today import TodayChart, midnight
from ckm import edge

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIPJS_DIR = ROOT / "node_modules" / "sip.js" / "lib"


@dataclass
class Desk:
    """What the handlers share; one per application."""

    crm: Crm
    scripts: ScriptBook
    chart: TodayChart
    settings: Any
    templates: jinja2.Environment
    switchboard: Any | None = None
    softphones: dict[str, str] = field(default_factory=dict)  # extension → SIP password
    desk_phones: dict[str, str] = field(default_factory=dict)  # the same, for desk SIP phones

    def sip_ws_url(self, request: web.Request) -> str:
        """Where this page's softphone reaches Asterisk's /ws: the page's own host, wss:// when
        the page came over HTTPS (ckm.edge.sip_ws_url)."""
        s = self.settings
        return edge.sip_ws_url(request, http_port=s.asterisk_http_port,
                               tls_port=s.asterisk_tls_port, explicit=s.sip_ws_url)


DESK: web.AppKey[Desk] = web.AppKey("agent_desktop")


def templates() -> jinja2.Environment:
    # Autoescape everywhere, whatever the file name: caller data reaches templates.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


def _database(center: Any) -> Any:
    db = center.services.get("crm.db")
    if db is not None:
        return db
    from crm_core.db import Database, migrate

    migrate(center.settings.db_url)
    db = Database(center.settings.db_url)
    center.services["crm.db"] = db

    async def close() -> None:
        db.dispose()

    center.cleanups.append(close)
    return db


def _phones(settings: Any, kind: str) -> dict[str, str]:
    """Extension → SIP password of the consultants' phones of `kind` ("browser" or "desk")."""
    try:
        from pbx.asterisk_config import desk_phones, softphones

        phones = softphones(settings) if kind == "browser" else desk_phones(settings)
        return {p.user: p.password for p in phones}
    except Exception:  # a bad extensions setting must not take the desktop down
        log.exception("%s phone credentials unavailable; the desk offers none", kind)
        return {}


def _known_queues(center: Any) -> tuple[str, ...]:
    library = center.services.get("ivr.library")
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
        counted = chart.backfill(contact_center.queued_calls_between(db, midnight(now), now), now)
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


def setup(app: web.Application, center: Any) -> Desk:
    db = _database(center)
    crm = Crm(db, idle=timedelta(minutes=center.settings.session_idle_minutes))
    chart = TodayChart()
    book = ScriptBook(db, center.services.get("ivr.library"), _known_queues(center))
    desk = Desk(crm=crm, scripts=book, chart=chart, settings=center.settings,
                templates=templates(), switchboard=center.services.get("cti.switchboard"),
                softphones=_phones(center.settings, "browser"),
                desk_phones=_phones(center.settings, "desk"))
    center.services["desktop.chart"] = chart
    center.services["desktop.scripts"] = book

    def start() -> None:
        # Needs the running loop: the bus pumps a task per subscriber, and the script
        # library's publish listeners (prompt rendering) schedule tasks too.
        if center.bus is not None:
            center.bus.subscribe("desktop.today", chart.on_event)
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
    app[admin.CTI_HUB] = center.services.get("cti.hub")
    app[security.SESSION_LOOKUP] = crm.session_user
    app.middlewares.append(security.guard_cti_socket)
    app.on_response_prepare.append(security.add_security_headers(
        lambda request: edge.ws_origin(desk.sip_ws_url(request))))

    pages.add_routes(app)
    admin.add_routes(app)
    dept.add_routes(app, center.settings)
    desk_api.add_routes(app)
    ivr_api.add_routes(app)
    app.router.add_static("/static/desk/", HERE / "static", append_version=False)
    if SIPJS_DIR.is_dir():
        app.router.add_static("/static/vendor/sip.js/", SIPJS_DIR)
    else:
        log.warning("%s missing (npm install): the browser softphone cannot load", SIPJS_DIR)
    return desk
