"""Where a request really comes from, and how it arrived: the client's address and scheme,
trusted-proxy aware; Secure cookies and HSTS when it arrived over HTTPS.

Rules:
- `X-Forwarded-For` and `X-Forwarded-Proto` are believed only when the TCP peer is one of the
  `trusted_proxies`; from anyone else they are ignored, so a resident cannot pick the address
  the rate limits count them under. Behind a trusted proxy the client is the right-most
  forwarded address that is not itself a trusted proxy (each proxy appends the peer it saw;
  anything left of that was written by the client and proves nothing).
- `client_address(request)` is the one answer to "who is this" for rate limits, logs and
  audit; `is_https(request)` the one answer to "did this arrive encrypted".
- `forwarded_middleware` hands handlers a request whose `remote`, `scheme` and `secure` already
  say that, so origin checks (`Origin` == `scheme://host`) hold behind a TLS-terminating proxy.
- `harden_response` (on_response_prepare): over HTTPS every cookie is marked Secure and
  `Strict-Transport-Security` is sent; over plain HTTP neither (a browser on http://127.0.0.1
  would drop Secure cookies and must not be pinned to https).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from ground.settings import parse_networks

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HSTS = "max-age=31536000"
FORWARDED_FOR = "X-Forwarded-For"
FORWARDED_PROTO = "X-Forwarded-Proto"


class TrustedProxies:
    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks

    @classmethod
    def parse(cls, spec: str) -> TrustedProxies:
        return cls(parse_networks(spec))

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


TRUSTED_PROXIES: web.AppKey[TrustedProxies] = web.AppKey("ckm.trusted_proxies", TrustedProxies)
_NOBODY = TrustedProxies()


def _trusted(request: web.Request) -> TrustedProxies:
    return request.config_dict.get(TRUSTED_PROXIES, _NOBODY)


def _forwarded_values(request: web.Request, header: str) -> list[str]:
    values: list[str] = []
    for line in request.headers.getall(header, ()):
        values.extend(v.strip() for v in line.split(",") if v.strip())
    return values


def _clean_address(value: str) -> str | None:
    """An address from X-Forwarded-For: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`."""
    text = value.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: web.Request) -> str:
    """The client's IP address: the TCP peer, or what a trusted proxy forwarded."""
    peer = request.remote or "unknown"
    proxies = _trusted(request)
    if not proxies.trusts(peer):
        return peer
    chain = _forwarded_values(request, FORWARDED_FOR)
    if not chain:
        return peer
    address = peer
    for raw in reversed(chain):
        found = _clean_address(raw)
        if found is None:  # garbage from the client's side: stop at what we can vouch for
            break
        address = found
        if not proxies.trusts(found):
            break
    return address


def is_https(request: web.Request) -> bool:
    """Encrypted to us, or to a trusted proxy that says so in X-Forwarded-Proto."""
    if request.secure:
        return True
    if not _trusted(request).trusts(request.remote):
        return False
    protos = _forwarded_values(request, FORWARDED_PROTO)
    return bool(protos) and protos[-1].lower() == "https"


def scheme(request: web.Request) -> str:
    return "https" if is_https(request) else "http"


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _trusted(request).trusts(request.remote):
        return await handler(request)
    address, proto = client_address(request), scheme(request)
    if address == request.remote and proto == request.scheme:
        return await handler(request)
    return await handler(request.clone(remote=address, scheme=proto))


async def harden_response(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: Secure cookies and HSTS over HTTPS (cookies are already in the
    headers at this point, so the Set-Cookie lines themselves are amended)."""
    if not is_https(request):
        return
    response.headers.setdefault("Strict-Transport-Security", HSTS)
    cookies = response.headers.getall(hdrs.SET_COOKIE, [])
    if not cookies:
        return
    del response.headers[hdrs.SET_COOKIE]
    for line in cookies:
        attributes = {a.strip().lower() for a in line.split(";")[1:]}
        response.headers.add(hdrs.SET_COOKIE, line if "secure" in attributes else f"{line}; Secure")


def install(app: web.Application, trusted_proxies: str) -> None:
    """Put the edge rules on the root application (before any other middleware)."""
    app[TRUSTED_PROXIES] = TrustedProxies.parse(trusted_proxies)
    app.middlewares.insert(0, forwarded_middleware)
    app.on_response_prepare.append(harden_response)


def sip_ws_url(request: web.Request, *, http_port: int, tls_port: int, explicit: str = "") -> str:
    """The SIP-over-WebSocket URL for a browser on this page: the page's own host, wss:// on
    Asterisk's TLS port when the page came over HTTPS, ws:// on its HTTP port otherwise —
    unless `explicit` (a setting) names one."""
    if explicit:
        return explicit
    host = request.url.host or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if is_https(request):
        return f"wss://{host}:{tls_port}/ws"
    return f"ws://{host}:{http_port}/ws"


def ws_origin(url: str) -> str:
    """`wss://h:8089/ws` → `wss://h:8089` (for a CSP connect-src)."""
    scheme_part, _, rest = url.partition("://")
    return f"{scheme_part}://{rest.split('/', 1)[0]}"
