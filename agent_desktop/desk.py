"""What the desktop's handlers share: one `Desk` per application, at `request.app[DESK]`.

Its own module so that the handlers (pages, desk_api, admin, dept, ivr_api) and the wiring that
builds it both import it, and none of them imports the wiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

from agent_desktop.crm import Crm
from agent_desktop.ivr_editor import ScriptBook
from agent_desktop.today import TodayChart
from ground import edge
from ground.settings import Settings

if TYPE_CHECKING:
    from cti.switchboard import Switchboard

HERE = Path(__file__).resolve().parent


@dataclass
class Desk:
    """What the handlers share; one per application."""

    crm: Crm
    scripts: ScriptBook
    chart: TodayChart
    settings: Settings
    templates: jinja2.Environment
    switchboard: Switchboard | None = None
    softphones: dict[str, str] = field(default_factory=dict)  # extension → SIP password
    desk_phones: dict[str, str] = field(default_factory=dict)  # the same, for desk SIP phones

    def sip_ws_url(self, request: web.Request) -> str:
        """Where this page's softphone reaches Asterisk's /ws: the page's own host, wss:// when
        the page came over HTTPS (ground.edge.sip_ws_url)."""
        s = self.settings
        return edge.sip_ws_url(request, http_port=s.asterisk_http_port,
                               tls_port=s.asterisk_tls_port, explicit=s.sip_ws_url)


DESK: web.AppKey[Desk] = web.AppKey("agent_desktop")


def templates() -> jinja2.Environment:
    # Autoescape everywhere, whatever the file name: caller data reaches templates.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)
