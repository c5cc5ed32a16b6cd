"""'Call 19115 from your browser' end to end: Chromium (fake microphone) → SIP.js over WebSocket
→ Asterisk's webcall endpoint → Stasis → the controller's IVR, whose greeting comes back as RTP.
Runs `ckm run --no-asterisk` as a subprocess (the whole center, portal included) on its own web
port. Kept last in this folder: it needs the ARI app name `ckm` for itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from .conftest import CHROMIUM, CHROMIUM_ARGS, free_port

pytestmark = [pytest.mark.asterisk, pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium at /usr/bin/chromium")]


def start_center(port: int, db_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CKM_WEB_PORT=str(port), CKM_DATABASE_URL=f"sqlite:///{db_path}")
    return subprocess.Popen([sys.executable, "-m", "ckm.cli", "run", "--no-asterisk"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_connected(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0].decode()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if json.load(r).get("ari") == "connected":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the center did not connect to ARI")


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


def test_browser_call_reaches_the_ivr_and_hears_the_greeting(asterisk: Any, tmp_path: Path) -> None:
    port = free_port()
    for attempt in (1, 2):
        proc = start_center(port, tmp_path / f"ckm-{attempt}.sqlite3")
        try:
            wait_connected(port, proc)
            heard = browser_call(port)
        except AssertionError:
            output = stop(proc)
            # Another test's controller may hold the ARI app `ckm` at this moment: retry once.
            if attempt == 1 and "taken over" in output:
                continue
            raise AssertionError(output[-4000:]) from None
        output = stop(proc)
        break
    assert heard["packets"] > 50 and heard["energy"] > 0, heard
    stats = json.loads(next(line for line in output.splitlines() if line.startswith("CKM_STATS "))[10:])
    assert stats["calls_started"] >= 1, stats
