"""A consultant's workstation on the LAN, for real: Chromium runs inside a network namespace
this test creates, so it can reach the center only at a private, non-loopback address
(10.77.N.1 over a veth pair) — where the browser's secure-context rule applies in full: no
microphone for http://, only for https://. The center serves the desk over HTTPS with a lab
certificate from `ckm tls self-signed`'s maker, Asterisk's TLS listener serves /ws on the same
address, the softphone registers over wss://, and a resident's call through the IVR and queue
is answered in the browser with inbound audio.

Asterisk's TLS listener is global to the shared sandbox: the test adds it through
http_local.conf (the plain 127.0.0.1:8088 server, and with it ARI and every other session's
sockets, stays as it is; the center's rendered configuration is not changed) and removes it
at the end, whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from playwright.async_api import async_playwright

from ckm import tls
from ckm.assembly import Center, assemble
from ckm.runner import build_web
from ground.bus import EventBus
from ground.settings import Settings
from pbx import asterisk_config, provision
from pbx.caller import CallPlan, place_call
from pbx.controller import Controller
from pbx.crm_lookup import CrmLookup
from portal.config import PortalConfig
from tests.desktop.live import CHROMIUM, CHROMIUM_FLAGS, login, seeded_crm, shot
from tests.polling import wait_until

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

# A /24 of our own per test process, so two sessions on one machine never share one.
SUBNET = 100 + os.getpid() % 100
HOST_IP = f"10.77.{SUBNET}.1"
NS_IP = f"10.77.{SUBNET}.2"
EXTENSION = "1019"  # the consultant's softphone here; no demo user has it
TEST_CERT, TEST_KEY = "ckm-lan-test.pem", "ckm-lan-test.key"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


@dataclass(frozen=True)
class Namespace:
    name: str
    host_ip: str
    ns_ip: str


def _remove_leftovers() -> None:
    """Namespaces of test runs that were killed before their cleanup (their pid is gone)."""
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        pid = name.removeprefix("ckmlan")
        if name.startswith("ckmlan") and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _ip("netns", "del", name, check=False)
            _ip("link", "del", f"ckl{pid}h", check=False)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    name, host_if, ns_if = f"ckmlan{os.getpid()}", f"ckl{os.getpid()}h", f"ckl{os.getpid()}n"
    _remove_leftovers()
    _ip("netns", "del", name, check=False)
    _ip("link", "del", host_if, check=False)
    try:
        _ip("netns", "add", name)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{HOST_IP}/24", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", name, "ip", "addr", "add", f"{NS_IP}/24", "dev", ns_if)
        _ip("netns", "exec", name, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield Namespace(name, HOST_IP, NS_IP)
    finally:
        _ip("netns", "del", name, check=False)  # takes its end of the veth pair along
        _ip("link", "del", host_if, check=False)
    assert name not in _ip("netns", "list").stdout


def free_port_on(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _tls_listener(sandbox: provision.Sandbox, tmp: Path, cert: Path, key: Path,
                  host: str, port: int) -> str:
    """Asterisk's TLS listener on host:port through http_local.conf, the file the rendered
    http.conf includes and ckm never renders: another session re-rendering the shared
    sandbox's configuration (and reloading it) mid-test leaves the listener in place. The
    certificate copies have this test's own names, apart from the center's."""
    etc = sandbox.root / "etc/asterisk"
    if "#tryinclude http_local.conf" not in (etc / "http.conf").read_text():
        # A sandbox provisioned before the include existed: the center's own http.conf again.
        asterisk_config.render(sandbox.settings, tmp, sandbox.module_dir())
        (etc / "http.conf").write_text((tmp / "http.conf").read_text())
    keys = etc / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    (keys / TEST_CERT).write_bytes(cert.read_bytes())
    (keys / TEST_KEY).touch(mode=0o600)
    (keys / TEST_KEY).write_bytes(key.read_bytes())
    (etc / "http_local.conf").write_text(
        f"; written by ckm's LAN browser test, removed at its end\n"
        f"tlsenable = yes\ntlsbindaddr = {host}:{port}\n"
        f"tlscertfile = /etc/asterisk/keys/{TEST_CERT}\n"
        f"tlsprivatekey = /etc/asterisk/keys/{TEST_KEY}\n")
    sandbox.cli("module reload http")
    return sandbox.cli("http show status")


def _no_tls_listener(sandbox: provision.Sandbox) -> str:
    etc = sandbox.root / "etc/asterisk"
    for leftover in (etc / "http_local.conf", etc / "keys" / TEST_CERT, etc / "keys" / TEST_KEY):
        leftover.unlink(missing_ok=True)
    sandbox.cli("module reload http")
    return sandbox.cli("http show status")


@pytest.fixture
async def lan_center(asterisk: Any, center_settings: Settings, settings: Settings,
                     namespace: Namespace, tmp_path: Path
                     ) -> AsyncIterator[tuple[str, Center, Path]]:
    assert isinstance(asterisk, provision.Sandbox), "the LAN test provisions the sandbox's TLS"
    made = tls.make_lab_certificates(tmp_path / "tls", ips=[namespace.host_ip])
    tls_port = free_port_on(namespace.host_ip)
    template = seeded_crm(tmp_path)
    engine = sa.create_engine(f"sqlite:///{template}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET extension = :ext WHERE username = 'konsultant3'"),
                     {"ext": EXTENSION})
    engine.dispose()
    local = replace(settings, data_dir=tmp_path, database_url=f"sqlite:///{template}",
                    web_host=namespace.host_ip, tls_cert=made.cert, tls_key=made.key,
                    asterisk_tls_host=namespace.host_ip, asterisk_tls_port=tls_port)
    (tmp_path / "ast").mkdir()
    runner: web.AppRunner | None = None
    center: Center | None = None
    try:
        status = _tls_listener(asterisk, tmp_path / "ast", made.cert, made.key,
                               namespace.host_ip, tls_port)
        assert f"HTTPS Server Enabled and Bound to {namespace.host_ip}:{tls_port}" in status, status
        assert "Bound to 127.0.0.1:8088" in status or center_settings.asterisk_http_host != "127.0.0.1"
        bus = EventBus()
        center = await assemble(local, bus, speech=False)
        # The portal's web call dials this session's own entry ([inbound-web] routes it here).
        webcall = PortalConfig.from_settings(local, webcall_number=f"19115-{local.ari_app}")
        center.controller = Controller(
            local, bus, ari=center.ari, library=center.library,
            prompts=center.prompts, lookup=CrmLookup(center.db),
            router=center.router)
        await center.controller.start()
        assert await center.controller.ari.wait_connected(5)
        runner = web.AppRunner(build_web(center, portal_config=webcall), access_log=None)
        await runner.setup()
        port = free_port_on(namespace.host_ip)
        await web.TCPSite(runner, namespace.host_ip, port,
                          ssl_context=tls.server_context(local)).start()
        yield f"https://{namespace.host_ip}:{port}", center, made.cert
    finally:
        if runner is not None:
            await runner.cleanup()
        if center is not None:
            await center.close()
        # No listener left on an address that is about to disappear.
        restored = _no_tls_listener(asterisk)
        assert namespace.host_ip not in restored, restored


async def _plain_page(host: str) -> tuple[str, web.AppRunner]:
    async def blank(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>plain</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", blank)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port_on(host)
    await web.TCPSite(runner, host, port).start()
    return f"http://{host}:{port}/", runner


def _wrapper(tmp: Path, ns: Namespace) -> Path:
    """Playwright starts this as "Chromium": the real one, inside the namespace."""
    script = tmp / "chromium-in-ns"
    script.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {CHROMIUM} "$@"\n')
    script.chmod(0o755)
    return script


async def test_lan_workstation_https_softphone_over_wss_answers_with_audio_and_portal_webcall(
        lan_center: tuple[str, Center, Path], namespace: Namespace, settings: Settings,
        tmp_path: Path) -> None:
    base, center, cert = lan_center
    spki = tls.spki_sha256(cert.read_bytes())
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(_wrapper(tmp_path, namespace)),
            args=[*CHROMIUM_FLAGS, f"--ignore-certificate-errors-spki-list={spki}"])
        try:
            page = await browser.new_page()
            # The rule this test is about, seen first: a plain-http page at the same LAN
            # address is no secure context and gets no microphone API at all.
            plain_url, plain_runner = await _plain_page(namespace.host_ip)
            try:
                await page.goto(plain_url)
                assert await page.evaluate("window.isSecureContext") is False
                assert await page.evaluate("typeof navigator.mediaDevices") == "undefined"
            finally:
                await plain_runner.cleanup()
            # From inside the namespace, the center is only at its LAN address.
            await page.goto(f"{base}/login")
            assert page.url.startswith(f"https://{namespace.host_ip}:")
            assert await page.evaluate("window.isSecureContext") is True
            await login(page, base, "konsultant3")
            assert await page.evaluate("window.isSecureContext") is True
            creds = await page.evaluate(
                "fetch('/desk/api/softphone').then((r) => r.json())")
            assert creds["ws"] == (f"wss://{namespace.host_ip}:"
                                   f"{center.settings.asterisk_tls_port}/ws"), creds
            assert creds["user"] == EXTENSION
            await page.click("#btn-phone")
            await page.wait_for_selector("#sip-state:text-is('registered')", timeout=20000)
            contacts = await asyncio.to_thread(
                provision.Sandbox(center.settings).cli, f"pjsip show contacts {EXTENSION}")
            # Asterisk sees the registration come from the workstation's address.
            assert namespace.ns_ip in contacts, contacts
            await page.click("#btn-agent-login")
            await page.wait_for_selector("#agent-state.state-available")

            plan = CallPlan.from_args(number="19115", caller_id="+48600100201",
                                      name="Ewa Lanowa", dtmf="w6,0,w2,0,w2,0,w2,0,w2,0,w2,0",
                                      say=[], hangup_after=150, wait_answer=10)
            call = asyncio.create_task(place_call(settings, plan))
            try:
                await page.wait_for_selector("#call-phase.phase-ringing", timeout=40000)
                await page.wait_for_selector("#btn-answer:not([disabled])")
                await page.keyboard.press("Alt+a")
                await page.wait_for_selector("#call-phase.phase-connected", timeout=10000)
                await page.wait_for_selector("#media-state:text-is('connected')", timeout=15000)
                # Into *this* call's bridge (the one with our softphone's channel): other
                # sessions on the sandbox may have calls of their own.
                ari = center.ari
                ours = {c["id"] for c in await ari.channels()
                        if c["name"].startswith(f"PJSIP/{EXTENSION}-")}
                bridge = next(b["id"] for b in await ari.bridges()
                              if b["id"].startswith("ckm-call-") and ours & set(b["channels"]))
                await ari.request("POST", f"/bridges/{bridge}/play", {"media": "tone:440/3000"})
                async def packets_in() -> int:
                    return int(await page.text_content("#rtp-in") or "0")

                packets = await wait_until("inbound RTP at the browser (connected over WSS)",
                                           packets_in, 12, every_s=0.3)
                await shot(page, "lan-https-connected")
                print(f"LAN over HTTPS/WSS: {packets} inbound RTP packets at the browser")
                await page.keyboard.press("Alt+x")
                await page.wait_for_selector("#agent-state.state-wrap_up", timeout=10000)
            finally:
                if not call.done():
                    call.cancel()
                await asyncio.gather(call, return_exceptions=True)

            # A resident's "call 19115 from your browser" on the same LAN page: over wss:// too,
            # and the IVR's greeting is heard (packets and audio energy).
            resident = await browser.new_page()
            await resident.goto(f"{base}/portal/call")
            assert await resident.evaluate("window.isSecureContext") is True
            config = await resident.evaluate(
                "fetch('/portal/call/config.json').then((r) => r.json())")
            assert config["ws_url"] == creds["ws"], config
            try:
                await resident.click("#call-start")
                await resident.wait_for_selector("#call-status[data-state='established']",
                                                 timeout=30000)
                await resident.wait_for_function(
                    "() => Number(document.getElementById('call-packets').textContent) > 50"
                    " && Number(document.getElementById('call-packets').dataset.energy) > 0",
                    timeout=20000)
            finally:
                await shot(resident, "lan-https-webcall")
            heard = int(await resident.text_content("#call-packets") or "0")
            print(f"portal web call over HTTPS/WSS: {heard} packets of the IVR greeting")
            await resident.click("#call-end")
            await resident.wait_for_selector("#call-status[data-state='ended']", timeout=10000)
        finally:
            await browser.close()
