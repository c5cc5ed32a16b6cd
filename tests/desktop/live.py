"""A live desktop for browser tests and benchmarks: a seeded SQLite CRM, the real switchboard
and CTI hub (no pbx adapter: its commands are held), the IVR script library, and agent_desktop
served in-process on a free port; real headless Chromium through Playwright (Debian's binary).

Screenshots of every page a test opens land in var/test-artifacts/desktop/ for a human look.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from ckm.assembly import Center
from crm_core.db import Database, migrate
from crm_core.seed import seed
from cti.acd import Acd
from cti.crm_link import CrmDirectory, CrmHistory, CrmSessions
from cti.hub import CtiHub
from cti.switchboard import Switchboard
from ground.bus import EventBus
from ground.settings import ROOT, Settings
from pbx.script_library import ScriptLibrary

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "desktop"
PASSWORD = "demo19115"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveDesk:
    url: str
    center: Center
    db: Database
    board: Switchboard
    hub: CtiHub
    library: ScriptLibrary


def seeded_crm(folder: Path) -> Path:
    """A migrated, seeded CRM file (seeding the KB takes seconds: done once, then copied)."""
    path = folder / "template.sqlite3"
    if not path.exists():
        url = f"sqlite:///{path}"
        migrate(url)
        db = Database(url)
        seed(db, demo=True)
        db.dispose()
    return path


async def start_desk(settings: Settings, tmp: Path, template: Path, *,
                     figures_every_s: float = 0.5) -> tuple[LiveDesk, web.AppRunner]:
    from agent_desktop import wiring

    shutil.copyfile(template, tmp / "crm.sqlite3")
    db = Database(f"sqlite:///{tmp / 'crm.sqlite3'}")
    bus = EventBus()
    center = Center(settings=replace(settings, data_dir=tmp), bus=bus)
    library = ScriptLibrary()
    library.load_dir()
    board = Switchboard(Acd(), directory=CrmDirectory(db), history=CrmHistory(db), bus=bus,
                        figures_every_s=figures_every_s)
    hub = CtiHub(CrmSessions(db), board)
    board.attach(hub)
    center.db, center.switchboard, center.hub, center.library = db, board, hub, library
    await board.configure()
    await board.start()
    app = web.Application()
    hub.mount(app)
    wiring.setup(app, center.settings, db=db, bus=bus, library=library, switchboard=board,
                 hub=hub)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return LiveDesk(f"http://127.0.0.1:{port}", center, db, board, hub, library), runner


@pytest.fixture(scope="session")
def crm_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seeded_crm(tmp_path_factory.mktemp("crm"))


@pytest.fixture
async def desk(settings: Settings, tmp_path: Path, crm_template: Path) -> AsyncIterator[LiveDesk]:
    live, runner = await start_desk(settings, tmp_path, crm_template)
    try:
        yield live
    finally:
        await runner.cleanup()
        await live.board.stop()
        await live.hub.close()
        await live.center.bus.close()
        live.db.dispose()


@pytest.fixture
async def desk_app(settings: Settings, tmp_path: Path, crm_template: Path
                   ) -> AsyncIterator[tuple[LiveDesk, web.Application]]:
    """The live desk and its aiohttp application (for its router, its login guard)."""
    live, runner = await start_desk(settings, tmp_path, crm_template)
    try:
        yield live, runner.app
    finally:
        await runner.cleanup()
        await live.board.stop()
        await live.hub.close()
        await live.center.bus.close()
        live.db.dispose()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    # new_page(): a context with permissions=[] breaks DTLS for the softphone (FACTS).
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    yield page
    await page.close()


async def login(page: Page, base: str, user: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/login")
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_load_state("domcontentloaded")


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def cookies_of(page_cookies: list[Any]) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page_cookies}
