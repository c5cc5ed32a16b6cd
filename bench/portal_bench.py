"""Portal / Open311 figures: requests per second and latency of `GET requests.json` and
`POST requests.json` on PostgreSQL, and the weight of the portal's first page.

    .venv/bin/python -m bench.portal_bench [--cases 2000] [--seconds 10] [--concurrency 32]

What it does: creates a scratch PostgreSQL database (migrated, seeded, dropped afterwards),
fills it with `--cases` reports through the same code path as the API, starts the portal alone
(`serve` mode: the aiohttp app from portal.wiring, no telephony) in a subprocess, then drives it
with an aiohttp load generator at fixed concurrency. The server, PostgreSQL and the generator
share this machine's cores (2 here), so the figures are a floor, not a ceiling.

Measured 2026-11-29 (2 cores shared with other test runs, load average 3–8; wrk, 32 connections,
10 s each, 2000 cases): GET services.json 1600–2600 req/s (no database: the ceiling);
GET requests.json (50 per page) 66–87 req/s, p99 0.56–0.91 s; GET requests/{id}.json ~155 req/s,
p99 0.5–0.7 s; POST requests.json 31–41 req/s, p99 1.1–1.9 s (three CRM transactions per
report; the case-number counter row is locked until the case's transaction commits).
First page /portal/ 5.2 KB; report form 16.4 KB; call page 315 KB (SIP.js gzip, cached a week).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import aiohttp
import sqlalchemy as sa

ADMIN_DSN = os.environ.get("CKM_BENCH_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]  # names are generated here, not input


def prepare(url: str, cases: int) -> str:
    """Migrate, seed, load `cases` reports; return an API key without a practical rate limit."""
    from crm_core.db import Database, migrate
    from crm_core.models import ApiKey
    from crm_core.photos import MediaStore
    from crm_core.seed import seed
    from crm_core.services.contact_center import create_api_key
    from crm_core.warsaw import DISTRICTS
    from portal.reports import ReportDraft, submit

    migrate(url)
    db = Database(url)
    try:
        seed(db, demo=True)
        view, key = create_api_key(db, "bench", rate_limit_per_min=10_000)
        with db.writing() as session:  # the service caps keys at 10000/min; the bench needs more
            session.execute(sa.update(ApiKey).where(ApiKey.id == view.id).values(rate_limit_per_min=10**9))
        media = MediaStore(Path("/nonexistent-bench-media"))
        codes = ["roads.pothole", "waste.illegal_dump", "animals.stray", "greenery.tree", "roads.lighting"]
        for i in range(cases):
            draft = ReportDraft(
                service_code=codes[i % len(codes)], description=f"Zgłoszenie testowe nr {i}",
                district=DISTRICTS[i % len(DISTRICTS)], address=f"Marszałkowska {i % 150 + 1}",
                lat=52.2 + (i % 100) / 1000, lon=21.0 + (i % 77) / 1000, location_details=None,
                contact=None, photo=None, channel="app",
            )
            submit(db, media, draft, by="bench")
        return key
    finally:
        db.dispose()


def serve(url: str, port: int, data_dir: str) -> None:
    from aiohttp import web

    import portal.wiring
    from crm_core.db import Database
    from ground.settings import load
    from portal.config import PortalConfig

    settings = dataclasses.replace(load(), data_dir=Path(data_dir), database_url=url)
    config = PortalConfig.from_settings(settings, ip_requests_per_min=10**9,
                                        ip_submissions_per_min=10**9)
    app = web.Application(client_max_size=12 * 1024 * 1024)
    portal.wiring.setup(app, settings, db=Database(url, pool_size=10), config=config)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@dataclasses.dataclass
class Figures:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else float("nan")

    def line(self) -> str:
        return (f"{self.name:<24} {self.rps:8.1f} req/s   p50 {self.pct(0.50):7.1f} ms   "
                f"p99 {self.pct(0.99):7.1f} ms   mean {statistics.fmean(self.latencies) * 1000:7.1f} ms   "
                f"errors {self.errors}/{self.requests}")


async def load(name: str, base: str, seconds: float, concurrency: int, method: str, path: str,
               form: dict[str, str] | None = None) -> Figures:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.request(method, base + path, data=form) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Figures(name, len(latencies), errors, elapsed, latencies)


async def page_weight(base: str, path: str) -> tuple[int, list[tuple[str, int]]]:
    """Bytes of a page and everything it loads (stylesheets, scripts and their ES imports,
    images), as transferred: bodies as sent (gzip where the server compresses) plus headers."""
    seen: dict[str, int] = {}
    async with aiohttp.ClientSession(auto_decompress=False) as http:

        async def fetch(url: str) -> None:
            if url in seen:
                return
            async with http.get(base + url) as r:
                body = await r.read()
                seen[url] = len(body) + sum(len(k) + len(v) + 4 for k, v in r.raw_headers)
            if r.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            text = body.decode("utf-8", "replace")
            refs = re.findall(r'(?:href|src)="(/[^"]+\.(?:css|js|png|svg|webp|jpg))"', text)
            refs += [str(Path(url).parent / m) for m in re.findall(r'from "(\./[^"]+\.js)"', text)]
            for ref in refs:
                await fetch(os.path.normpath(ref))

        await fetch(path)
    return sum(seen.values()), sorted(seen.items())


def wrk(name: str, base: str, seconds: float, concurrency: int, path: str,
        form: dict[str, str] | None = None) -> str:
    """The same run with wrk (Debian's `wrk`): a C load generator leaves more CPU to the server."""
    script = Path(f"/tmp/portal-bench-{os.getpid()}.lua")
    if form is not None:
        body = urllib.parse.urlencode(form).replace('"', '\\"')
        script.write_text(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                          'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
    else:
        script.write_text("")
    result = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", "-s", str(script), base + path],
        capture_output=True, text=True, check=True)
    script.unlink()
    text = result.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"\s50%\s+([\d.]+\w+)", text)
    p99 = re.search(r"\s99%\s+([\d.]+\w+)", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    rate = float(rps.group(1)) if rps else 0.0
    return (f"{name:<24} {rate:8.1f} req/s   p50 {p50.group(1) if p50 else '?':>9}"
            f"   p99 {p99.group(1) if p99 else '?':>9}   errors {bad.group(1) if bad else 0}/"
            f"{total.group(1) if total else '?'}   (wrk)")


async def drive(base: str, key: str, seconds: float, concurrency: int, tool: str) -> list[str]:
    out = []
    async with aiohttp.ClientSession() as http:  # warm-up: catalog cache, connection pools
        for _ in range(20):
            async with http.get(base + "/open311/v2/requests.json") as r:
                await r.read()
    form = {"api_key": key, "service_code": "roads.pothole", "attribute[district]": "Wola",
            "lat": "52.23", "long": "20.96", "description": "Dziura w jezdni (bench)"}
    runs: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET services.json", "/open311/v2/services.json", None),  # no database: the ceiling
        ("GET requests.json", "/open311/v2/requests.json", None),
        ("GET requests/{id}.json", f"/open311/v2/requests/19115-{time.strftime('%Y')}-000007.json", None),
        ("POST requests.json", "/open311/v2/requests.json", form),
    ]
    for name, path, body in runs:
        if tool == "wrk":
            out.append(await asyncio.to_thread(wrk, name, base, seconds, concurrency, path, body))
        else:
            figures = await load(name, base, seconds, concurrency, "POST" if body else "GET", path, body)
            out.append(figures.line())
    for page in ("/portal/", "/portal/report", "/portal/call"):
        total, parts = await page_weight(base, page)
        if len(parts) > 8:
            vendor = [n for u, n in parts if "/vendor/" in u]
            parts = [(u, n) for u, n in parts if "/vendor/" not in u]
            parts.append((f"SIP.js ({len(vendor)} modules)", sum(vendor)))
        detail = ", ".join(f"{Path(u).name or u} {n / 1024:.1f}" for u, n in parts)
        out.append(f"page weight {page:<15} {total / 1024:6.1f} KB  ({detail})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.portal_bench")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--tool", choices=["wrk", "python"],
                        default="wrk" if shutil.which("wrk") else "python",
                        help="load generator (default: wrk when installed)")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "PORT", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return 0
    name = f"ckm_bench_portal_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = PG_URL.format(name=name)
    server: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        key = prepare(url, args.cases)
        print(f"prepared {args.cases} cases on PostgreSQL in {time.perf_counter() - t0:.1f} s")
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        data_dir = f"/tmp/{name}"
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.portal_bench", "--serve", url, str(port), data_dir])
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        print(f"cores: {os.cpu_count()} (server, PostgreSQL and load generator share them); "
              f"concurrency {args.concurrency}, {args.seconds:.0f} s per run")
        print(f"load generator: {args.tool}")
        for line in asyncio.run(drive(base, key, args.seconds, args.concurrency, args.tool)):
            print(line)
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
