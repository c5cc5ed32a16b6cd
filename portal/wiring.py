"""How the portal plugs into `ckm run`: sub-applications with their own middlewares,
`/portal/` (pages), `/open311/v2/` (API) and `/open311/` (the API's discovery document), so
their rate limits, CSP and error rendering never touch the desktop's routes. Given the CRM
database by the composition root (or, in a bare web process, opening it here and closing it
with the app) and optionally its limits (`PortalConfig`, from the settings by default); returns
the `Portal` its handlers share."""

from __future__ import annotations

import logging

from aiohttp import web

from crm_core.db import Database, migrate
from crm_core.geo.outline import GEOJSON
from crm_core.photos import MediaStore
from ground.settings import ROOT, Settings
from portal.config import PortalConfig
from portal.open311.api import KEYS, KeyCache, api_middleware, discovery_routes
from portal.open311.api import routes as api_routes
from portal.pages import page_middleware
from portal.pages import routes as page_routes
from portal.state import HERE, PORTAL, Portal
from portal.vendor import VendorFiles

log = logging.getLogger("ckm.portal")
SIPJS_DIR = ROOT / "node_modules" / "sip.js" / "lib"
LEAFLET_DIR = ROOT / "node_modules" / "leaflet" / "dist"


async def districts_file(request: web.Request) -> web.StreamResponse:
    return web.Response(body=GEOJSON.read_bytes(), content_type="application/geo+json",
                        headers={"Cache-Control": "public, max-age=3600"})


def setup(app: web.Application, settings: Settings, *, db: Database | None = None,
          config: PortalConfig | None = None) -> Portal:
    if db is None:
        # Running without the CRM assembly (a bare web process): open it ourselves.
        migrate(settings.db_url)
        db = own = Database(settings.db_url)

        async def close(app: web.Application) -> None:
            own.dispose()

        app.on_cleanup.append(close)
    config = config or PortalConfig.from_settings(settings)
    portal = Portal(db=db, config=config, media=MediaStore(config.media_dir))

    pages = web.Application(middlewares=[page_middleware])
    pages[PORTAL] = portal
    pages.add_routes(page_routes)
    if SIPJS_DIR.is_dir():
        pages.router.add_get("/static/vendor/sip.js/{name:.+}", VendorFiles(SIPJS_DIR).handle)
    else:
        log.warning("SIP.js not installed (%s): 'call from your browser' will not work; run npm ci",
                    SIPJS_DIR)
    # The map (report form, case page): ckm's district file and map module, Leaflet from npm.
    pages.router.add_get(f"/static/geo/{GEOJSON.name}", districts_file)
    pages.router.add_static("/static/geo", GEOJSON.parent)
    if LEAFLET_DIR.is_dir():
        pages.router.add_static("/static/vendor/leaflet", LEAFLET_DIR)
    else:
        log.warning("Leaflet not installed (%s): the report form keeps its coordinate fields only; "
                    "run npm ci", LEAFLET_DIR)
    pages.router.add_static("/static", HERE / "static")

    api = web.Application(middlewares=[api_middleware])
    api[PORTAL] = portal
    api[KEYS] = KeyCache()
    api.add_routes(api_routes)

    async def to_portal(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/portal/")

    app.router.add_get("/portal", to_portal)
    app.add_subapp("/portal", pages)
    app.add_subapp("/open311/v2", api)
    # /open311/discovery.json|xml beside the version it names, with the API's middleware.
    discovery = web.Application(middlewares=[api_middleware])
    discovery[PORTAL] = portal
    discovery.add_routes(discovery_routes)
    app.add_subapp("/open311", discovery)
    return portal
