"""SIP.js for the browser-call page, served from node_modules/sip.js/lib.

SIP.js ships ~200 small ES modules (~1 MB) and this project has no bundler; served plainly
that is a heavy page on a phone. Files are read once, kept gzip-compressed in memory, and sent
compressed with a long cache lifetime (the version is pinned in package.json), so a resident
pays roughly a quarter of it, once.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from aiohttp import web

MAX_AGE_S = 7 * 86400


class VendorFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, tuple[bytes, bytes]] = {}

    def _load(self, name: str) -> tuple[bytes, bytes] | None:
        found = self._cache.get(name)
        if found is not None:
            return found
        if not name.endswith(".js") or "\\" in name or name.startswith("/"):
            return None
        path = (self.root / name).resolve()
        if self.root not in path.parents or not path.is_file():
            return None
        raw = path.read_bytes()
        found = (raw, gzip.compress(raw, 9, mtime=0))
        self._cache[name] = found
        return found

    async def handle(self, request: web.Request) -> web.Response:
        found = self._load(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        raw, packed = found
        headers = {"Cache-Control": f"public, max-age={MAX_AGE_S}", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return web.Response(body=packed, content_type="text/javascript", charset="utf-8", headers=headers)
        return web.Response(body=raw, content_type="text/javascript", charset="utf-8", headers=headers)
