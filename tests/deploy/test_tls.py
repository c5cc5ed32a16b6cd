"""TLS for a real LAN: the lab certificate maker, `ckm tls self-signed` recording it so the
next start serves HTTPS, and `ckm run`'s web application over HTTPS (HSTS, Secure cookies,
the softphone's wss:// URL) and behind a trusted proxy (forwarded scheme and address)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store

from ckm import cli, tls
from ckm.assembly import Center
from ckm.runner import build_web
from crm_core.db import Database
from ground.bus import EventBus
from ground.settings import Settings, load
from portal.config import PortalConfig
from tests.desktop.live import PASSWORD, free_port, seeded_crm


def test_lab_certificate_verifies_against_its_ca_with_every_name(tmp_path: Path) -> None:
    import ipaddress

    made = tls.make_lab_certificates(tmp_path / "tls", hosts=["ckm.lan", "Desk.CKM.lan."],
                                     ips=["10.77.0.1"])
    assert made.new_ca
    ca = x509.load_pem_x509_certificate(made.ca.read_bytes())
    chain = x509.load_pem_x509_certificates(made.cert.read_bytes())
    assert chain[1] == ca, "server.pem carries the chain: server certificate, then the CA"
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(DNSName)) == {"ckm.lan", "desk.ckm.lan", "localhost"}
    assert {str(a) for a in sans.get_values_for_type(IPAddress)} == {"10.77.0.1", "127.0.0.1", "::1"}
    store = Store([ca])
    for name in (DNSName("ckm.lan"), DNSName("desk.ckm.lan"), DNSName("localhost"),
                 IPAddress(ipaddress.ip_address("10.77.0.1")),
                 IPAddress(ipaddress.ip_address("127.0.0.1"))):
        PolicyBuilder().store(store).build_server_verifier(name).verify(leaf, [])
    with pytest.raises(x509.verification.VerificationError):
        PolicyBuilder().store(store).build_server_verifier(DNSName("evil.lan")).verify(leaf, [])
    for private in (made.key, made.ca_key):
        assert private.stat().st_mode & 0o777 == 0o600
    assert made.ca.stat().st_mode & 0o777 == 0o644

    # Again with another name: the same CA (workstations keep trusting it), a new server cert.
    again = tls.make_lab_certificates(tmp_path / "tls", hosts=["ckm2.lan"])
    assert not again.new_ca
    assert x509.load_pem_x509_certificate(again.ca.read_bytes()) == ca
    leaf2 = x509.load_pem_x509_certificates(again.cert.read_bytes())[0]
    PolicyBuilder().store(store).build_server_verifier(DNSName("ckm2.lan")).verify(leaf2, [])


def test_cli_self_signed_records_the_files_for_the_next_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for key in [k for k in os.environ if k.startswith("CKM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CKM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CKM_CONFIG", str(tmp_path / "absent.toml"))
    before = load()  # generates the ARI password into ckm.local.toml
    assert not before.tls
    assert cli.main(["tls", "self-signed", "--host", "ckm.lan", "--ip", "10.77.0.1"]) == 0
    out = capsys.readouterr().out
    assert f"local CA: {(tmp_path / 'tls' / 'ca.pem').resolve()}" in out
    after = load()
    assert after.tls
    assert after.tls_cert == (tmp_path / "tls" / "server.pem").resolve()
    assert after.tls_key == (tmp_path / "tls" / "server.key").resolve()
    assert after.ari_password == before.ari_password, "the writer keeps what was recorded"
    assert (tmp_path / "ckm.local.toml").stat().st_mode & 0o777 == 0o600
    context = tls.server_context(after)
    assert context is not None
    # Asterisk gets its copies and a TLS listener for /ws.
    from pbx import asterisk_config

    etc = tmp_path / "etc"
    assert asterisk_config.install_tls_files(after, etc)
    assert (etc / "keys/ckm.key").stat().st_mode & 0o777 == 0o600
    asterisk_config.render(after, etc, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    http = (etc / "http.conf").read_text()
    assert "tlsenable = yes" in http
    assert f"tlsbindaddr = {after.web_host}:8089" in http
    assert "tlscertfile = /etc/asterisk/keys/ckm.pem" in http
    plain = replace(after, tls_cert=None, tls_key=None)
    assert not asterisk_config.install_tls_files(plain, etc)
    assert not (etc / "keys/ckm.key").exists()
    asterisk_config.render(plain, etc, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    assert "tlsenable" not in (etc / "http.conf").read_text()


def test_tls_cert_without_key_is_refused(tmp_path: Path) -> None:
    from ground.settings import SettingsError

    with pytest.raises(SettingsError, match="tls_cert and tls_key"):
        load({"CKM_DATA_DIR": str(tmp_path), "CKM_CONFIG": str(tmp_path / "x.toml"),
              "CKM_TLS_CERT": str(tmp_path / "a.pem")}, generate_secrets=False)


# --- the web application over HTTPS and behind a proxy --------------------------------------
async def serve_center(settings: Settings, tmp: Path, *, tls_on: bool
                       ) -> tuple[str, web.AppRunner, Center, ssl.SSLContext | None]:
    shutil.copyfile(seeded_crm(tmp.parent), tmp / "crm.sqlite3")
    local = replace(settings, data_dir=tmp, database_url=f"sqlite:///{tmp / 'crm.sqlite3'}")
    client_ctx: ssl.SSLContext | None = None
    if tls_on:
        made = tls.make_lab_certificates(tmp / "tls", hosts=["ckm.lan"])
        local = replace(local, tls_cert=made.cert, tls_key=made.key)
        client_ctx = ssl.create_default_context(cafile=str(made.ca))
    center = Center(settings=local, bus=EventBus())
    db = Database(local.db_url)
    center.db = db
    config = PortalConfig.from_settings(local, ip_requests_per_min=3)
    runner = web.AppRunner(build_web(center, portal_config=config), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls.server_context(local)).start()
    scheme = "https" if tls_on else "http"
    return f"{scheme}://127.0.0.1:{port}", runner, center, client_ctx


@pytest.fixture
async def https_center(settings: Settings, tmp_path: Path
                       ) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    (tmp_path / "c").mkdir()
    base, runner, center, ctx = await serve_center(settings, tmp_path / "c", tls_on=True)
    assert ctx is not None
    try:
        yield base, ctx
    finally:
        await runner.cleanup()
        center.db.dispose()
        await center.close()


@pytest.fixture
async def proxied_center(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    (tmp_path / "p").mkdir()
    base, runner, center, _ = await serve_center(
        replace(settings, trusted_proxies="127.0.0.1"), tmp_path / "p", tls_on=False)
    try:
        yield base
    finally:
        await runner.cleanup()
        center.db.dispose()
        await center.close()


async def log_in(http: aiohttp.ClientSession, base: str, user: str,
                 headers: dict[str, str] | None = None) -> str:
    """Log in like a browser (login CSRF cookie + field, Origin); the session cookie's value.
    Cookies are carried by hand: behind a TLS-terminating proxy they are Secure, and a client
    talking plain http to the proxy's backend would not send them back."""
    headers = dict(headers or {})
    async with http.get(f"{base}/login", headers=headers) as r:
        assert r.status == 200
        token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        login_csrf = r.cookies["ckm_login_csrf"].value
    assert token is not None
    scheme = headers.get("X-Forwarded-Proto", base.split(":", 1)[0])
    async with http.post(f"{base}/login", data={"username": user, "password": PASSWORD,
                                                "csrf": token.group(1), "next": ""},
                         headers={**headers, "Origin": f"{scheme}://{base.split('://', 1)[1]}",
                                  "Cookie": f"ckm_login_csrf={login_csrf}"},
                         allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        return r.cookies["ckm_session"].value


def set_cookies(response: aiohttp.ClientResponse) -> list[str]:
    return response.headers.getall("Set-Cookie", [])


async def test_https_sends_hsts_secure_cookies_and_a_wss_softphone(
        https_center: tuple[str, ssl.SSLContext]) -> None:
    base, ctx = https_center
    connector = aiohttp.TCPConnector(ssl=ctx)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.get(f"{base}/login") as r:
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
            assert set_cookies(r) and all("Secure" in c for c in set_cookies(r))
            assert "connect-src 'self' wss://127.0.0.1:8089" in r.headers["Content-Security-Policy"]
        async with http.get(f"{base}/portal/") as r:
            assert r.status == 200
            assert "Strict-Transport-Security" in r.headers
            assert all("Secure" in c for c in set_cookies(r))
        session = await log_in(http, base, "konsultant1")
        async with http.get(f"{base}/desk/api/softphone",
                            headers={"Cookie": f"ckm_session={session}"}) as r:
            assert r.status == 200
            assert (await r.json())["ws"] == "wss://127.0.0.1:8089/ws"
        async with http.get(f"{base}/portal/call/config.json") as r:
            assert (await r.json())["ws_url"] == "wss://127.0.0.1:8089/ws"
        async with http.get(f"{base}/healthz") as r:
            assert "Strict-Transport-Security" in r.headers
    # Plain HTTP on the TLS port is no way in.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(base.replace("https://", "http://") + "/login") as r:
                await r.read()


async def test_behind_a_trusted_proxy_scheme_and_client_address_are_forwarded(
        proxied_center: str) -> None:
    base = proxied_center
    via_tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.10"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.get(f"{base}/login") as r:  # the proxy said nothing: plain http
            assert "Strict-Transport-Security" not in r.headers
            assert not any("Secure" in c for c in set_cookies(r))
        async with http.get(f"{base}/login", headers=via_tls) as r:
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
            assert all("Secure" in c for c in set_cookies(r))
        # Logging in through the proxy passes the origin check (Origin: https://…).
        session = {"Cookie": f"ckm_session={await log_in(http, base, 'konsultant1', via_tls)}"}
        async with http.get(f"{base}/desk/api/softphone", headers={**via_tls, **session}) as r:
            assert (await r.json())["ws"] == "wss://127.0.0.1:8089/ws"
        async with http.get(f"{base}/desk/api/softphone", headers=session) as r:
            assert (await r.json())["ws"] == "ws://127.0.0.1:8088/ws"

        # Rate limits count the forwarded client, one resident at a time (3 requests a minute
        # here): one resident's flood throttles that resident, not the whole city behind the
        # proxy.
        async def status(client: str) -> int:
            async with http.get(f"{base}/portal/", headers={"X-Forwarded-For": client}) as r:
                return r.status

        assert [await status("203.0.113.20") for _ in range(4)] == [200, 200, 200, 429]
        assert await status("203.0.113.21") == 200


async def test_from_an_untrusted_peer_forwarded_headers_are_ignored(
        settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "u").mkdir()
    base, runner, center, _ = await serve_center(
        replace(settings, trusted_proxies="10.255.0.1"), tmp_path / "u", tls_on=False)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
            async with http.get(f"{base}/login", headers={"X-Forwarded-Proto": "https"}) as r:
                assert "Strict-Transport-Security" not in r.headers
                assert not any("Secure" in c for c in set_cookies(r))
            # A resident rotating X-Forwarded-For is still one address to the rate limit.
            codes = []
            for n in range(4):
                async with http.get(f"{base}/portal/",
                                    headers={"X-Forwarded-For": f"203.0.113.{n}"}) as r:
                    codes.append(r.status)
            assert codes == [200, 200, 200, 429]
    finally:
        await runner.cleanup()
        center.db.dispose()
        await center.close()
        await asyncio.sleep(0)
