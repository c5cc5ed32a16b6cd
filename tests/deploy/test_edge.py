"""Trusted proxies (ground.edge): whose X-Forwarded-For / X-Forwarded-Proto are believed, and what
the client address and scheme of a request are, for a trusted and an untrusted peer."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ground import edge
from ground.settings import SettingsError, load, parse_networks


def request(peer: str, headers: dict[str, str] | None = None, *, trusted: str = "",
            secure: bool = False) -> web.Request:
    app = web.Application()
    app[edge.TRUSTED_PROXIES] = edge.TrustedProxies.parse(trusted)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = (
        lambda key, default=None: (peer, 40000) if key == "peername" else default)
    return make_mocked_request("GET", "/", headers=headers or {}, app=app, transport=transport,
                               sslcontext=mock.Mock() if secure else None)


def test_untrusted_peer_cannot_choose_its_address_or_scheme() -> None:
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    for trusted in ("", "10.0.0.5", "192.168.0.0/24"):
        r = request("198.51.100.7", spoof, trusted=trusted)
        assert edge.client_address(r) == "198.51.100.7"
        assert not edge.is_https(r)
        assert edge.scheme(r) == "http"


def test_trusted_proxy_forwards_the_client_and_the_scheme() -> None:
    r = request("10.0.0.5", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
                trusted="10.0.0.5")
    assert edge.client_address(r) == "203.0.113.9"
    assert edge.is_https(r)
    # A proxy that says nothing: the peer itself, plain http.
    bare = request("10.0.0.5", trusted="10.0.0.0/8")
    assert (edge.client_address(bare), edge.is_https(bare)) == ("10.0.0.5", False)


def test_client_prepended_addresses_are_not_believed() -> None:
    # The client wrote "1.1.1.1" itself; the proxy appended the address it really saw.
    r = request("10.0.0.5", {"X-Forwarded-For": "1.1.1.1, 203.0.113.9"}, trusted="10.0.0.5")
    assert edge.client_address(r) == "203.0.113.9"
    # Two trusted proxies in a row: the first untrusted from the right is the client.
    chain = request("10.0.0.5", {"X-Forwarded-For": "1.1.1.1, 203.0.113.9, 10.0.0.6"},
                    trusted="10.0.0.0/24")
    assert edge.client_address(chain) == "203.0.113.9"
    # Several header lines count as one list; ports and brackets are stripped.
    lines = make_mocked_request(
        "GET", "/", headers=[("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "[2001:db8::7]:443")],
        app=request("10.0.0.5", trusted="10.0.0.5").app,
        transport=request("10.0.0.5").transport)
    assert edge.client_address(lines) == "2001:db8::7"
    # Garbage at the right end: the proxy's own address, never the garbage.
    junk = request("10.0.0.5", {"X-Forwarded-For": "not-an-ip"}, trusted="10.0.0.5")
    assert edge.client_address(junk) == "10.0.0.5"


def test_proto_is_the_last_proxy_word_and_tls_to_us_is_https() -> None:
    r = request("10.0.0.5", {"X-Forwarded-Proto": "https, http"}, trusted="10.0.0.5")
    assert not edge.is_https(r)
    assert edge.is_https(request("198.51.100.7", secure=True))


def test_ipv4_mapped_peer_and_bad_settings() -> None:
    proxies = edge.TrustedProxies.parse("10.0.0.5, 2001:db8::/32")
    assert proxies.trusts("::ffff:10.0.0.5")
    assert proxies.trusts("2001:db8::1")
    assert not proxies.trusts("10.0.0.6")
    assert not proxies.trusts("unknown")
    with pytest.raises(SettingsError, match="trusted_proxies"):
        parse_networks("10.0.0.5, proxy.lan")
    with pytest.raises(SettingsError, match="trusted_proxies"):
        load({"CKM_TRUSTED_PROXIES": "10.0.0.300", "CKM_CONFIG": "/nonexistent.toml"},
             generate_secrets=False)


def test_sip_ws_url_follows_the_page() -> None:
    ports = {"http_port": 8088, "tls_port": 8089}
    plain = make_mocked_request("GET", "/", headers={"Host": "127.0.0.1:8080"})
    assert edge.sip_ws_url(plain, **ports) == "ws://127.0.0.1:8088/ws"
    tls = make_mocked_request("GET", "/", headers={"Host": "ckm.lan:8080"}, sslcontext=mock.Mock())
    assert edge.sip_ws_url(tls, **ports) == "wss://ckm.lan:8089/ws"
    v6 = make_mocked_request("GET", "/", headers={"Host": "[fd00::1]:8080"}, sslcontext=mock.Mock())
    assert edge.sip_ws_url(v6, **ports) == "wss://[fd00::1]:8089/ws"
    assert edge.sip_ws_url(tls, **ports, explicit="wss://sip.ckm.lan/ws") == "wss://sip.ckm.lan/ws"
    assert edge.ws_origin("wss://ckm.lan:8089/ws") == "wss://ckm.lan:8089"
