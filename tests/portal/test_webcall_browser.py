"""'Call 19115 from your browser' end to end: Chromium (fake microphone) → SIP.js over WebSocket
→ Asterisk's webcall endpoint → Stasis → the controller's IVR, whose greeting comes back as RTP.
Runs `ckm run --no-asterisk` as a subprocess (the whole center, portal included) on its own web
port and this test session's own ARI app name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from ground.settings import Settings
from tests.polling import poll_until

from .conftest import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]


def start_center(port: int, db_path: Path, settings: Settings) -> subprocess.Popen[bytes]:
    app = settings.ari_app
    config = db_path.with_suffix(".toml")
    config.write_text(f'[extra.portal]\nwebcall_number = "19115-{app}"\n')
    # Its own data folder (journal, ACD snapshot), the installed ARI password and models.
    env = dict(os.environ, CKM_WEB_PORT=str(port), CKM_DATABASE_URL=f"sqlite:///{db_path}",
               CKM_ARI_APP=app, CKM_CONFIG=str(config), CKM_DATA_DIR=str(db_path.parent),
               CKM_ARI_PASSWORD=settings.ari_password,
               CKM_IVR_MODELS_DIR=str(settings.models_dir))
    return subprocess.Popen([sys.executable, "-m", "ckm.cli", "run", "--no-asterisk"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_connected(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    def connected() -> bool:
        assert proc.poll() is None, proc.communicate()[0].decode()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return bool(json.load(r).get("ari") == "connected")
        except OSError:
            return False

    poll_until("the center to connect to ARI", connected, timeout, every_s=0.2)


def stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=20)[0].decode()
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0].decode()


def browser_call(port: int) -> dict[str, Any]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/portal/call")
            page.get_by_role("button", name="Zadzwoń do 19115").click()
            status = page.locator("#call-status")
            expect(status).to_have_attribute("data-state", "established", timeout=20_000)
            expect(status).to_have_attribute("data-pc", "connected", timeout=10_000)
            page.wait_for_function(
                "() => Number(document.getElementById('call-packets').textContent) > 50"
                " && Number(document.getElementById('call-packets').dataset.energy) > 0",
                timeout=15_000)
            packets = int(page.locator("#call-packets").inner_text())
            energy = float(page.locator("#call-packets").get_attribute("data-energy") or 0)
            page.get_by_role("button", name="Rozłącz").click()
            expect(status).to_have_attribute("data-state", "ended", timeout=10_000)
            return {"packets": packets, "energy": energy}
        finally:
            browser.close()


def calls_started(output: str) -> int:
    line = next((x for x in output.splitlines() if x.startswith("CKM_STATS ")), None)
    return int(json.loads(line[10:])["calls_started"]) if line else 0


def test_browser_call_reaches_the_ivr_and_hears_the_greeting(
    asterisk: Any, settings: Settings, tmp_path: Path
) -> None:
    # A browser cannot name the controller app the way the tests' scripted callers do: the
    # test's portal dials 19115-<this session's app>, which [inbound-web] routes to this
    # session's controller, so the center's dialplan (and a center beside the tests) is
    # never touched.
    port = free_port()
    proc = start_center(port, tmp_path / "ckm.sqlite3", settings)
    try:
        wait_connected(port, proc)
        heard = browser_call(port)
    except AssertionError:
        raise AssertionError(stop(proc)[-4000:]) from None
    output = stop(proc)
    assert heard["packets"] > 50 and heard["energy"] > 0, heard
    # The audio came from *this* center's IVR.
    assert calls_started(output) >= 1, output[-4000:]
