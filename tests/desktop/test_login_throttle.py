"""Login throttling, the password checks' cost kept off the call path, idle sessions — over
the real server, with the real login form."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from agent_desktop.login_guard import LOGIN_GUARD, Busy, LoginGuard
from agent_desktop.security import csrf_for
from crm_core.models import WebSession
from crm_core.services import users
from cti.crm_link import CrmHistory
from tests.desktop.live import PASSWORD, LiveDesk
from tests.polling import wait_until

Served = tuple[LiveDesk, web.Application]


async def form_token(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(base + "/login") as response:
        html = await response.text()
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def log_in(http: aiohttp.ClientSession, base: str, username: str, password: str,
                 token: str | None = None) -> tuple[int, str, str]:
    """(status, Retry-After, page text) of one login through the form."""
    token = token or await form_token(http, base)
    async with http.post(base + "/login", allow_redirects=False, data={
            "username": username, "password": password, "csrf": token, "next": ""}) as r:
        return r.status, r.headers.get("Retry-After", ""), await r.text()


def client() -> aiohttp.ClientSession:
    # unsafe: keep cookies for an IP address host (127.0.0.1)
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_failures_lock_the_account_then_the_address(desk_app: Served) -> None:
    live, app = desk_app
    guard = app[LOGIN_GUARD]
    async with client() as http:
        for _ in range(5):
            assert (await log_in(http, live.url, "konsultant1", "zle-haslo"))[0] == 401
        # Locked: even the right password is refused, with the wait in words and in a header.
        status, retry, text = await log_in(http, live.url, "konsultant1", PASSWORD)
        assert status == 429 and 25 <= int(retry) <= 30, (status, retry)
        assert "Zbyt wiele nieudanych prób logowania" in text and "za 30 s" in text
        # Another account from the same address is not locked out by it.
        assert (await log_in(http, live.url, "kierownik", PASSWORD))[0] == 303
        # Once the lock has run out the right password works, and the count starts again.
        shift = 31.0
        guard.clock = lambda: time.monotonic() + shift
        assert (await log_in(http, live.url, "konsultant1", PASSWORD))[0] == 303
        assert guard.retry_after("konsultant1", "127.0.0.1") == 0
        # Each failure after the limit doubles the lock: 30 s, then 60 s.
        for _ in range(5):
            await log_in(http, live.url, "konsultant3", "zle-haslo")
        shift += 31
        assert (await log_in(http, live.url, "konsultant3", "zle-haslo"))[0] == 401
        status, retry, _ = await log_in(http, live.url, "konsultant3", PASSWORD)
        assert status == 429 and 55 <= int(retry) <= 60, retry
        # The address: 20 failures within 15 minutes, whatever the usernames, lock it too.
        for n in range(20 - 11):
            assert (await log_in(http, live.url, f"nikt{n}", "zle-haslo"))[0] == 401
        status, retry, _ = await log_in(http, live.url, "autor", PASSWORD)
        assert status == 429 and int(retry) > 0
        shift += 16 * 60  # the window has passed for every failure
        assert (await log_in(http, live.url, "autor", PASSWORD))[0] == 303


async def test_a_login_flood_leaves_the_loop_and_the_crm_to_the_calls(desk_app: Served) -> None:
    live, app = desk_app
    guard = app[LOGIN_GUARD]
    guard.max_waiting = 6  # fewer checks to sit through; the same rule
    history = CrmHistory(live.db)
    lags: list[float] = []
    lookups: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:  # what a call's task would feel: how late the loop wakes it
        loop = asyncio.get_running_loop()
        while not done.is_set():
            start = loop.time()
            await asyncio.sleep(0.01)  # the measurement: how much later than 10 ms it wakes
            lags.append(loop.time() - start - 0.01)

    async def screen_pops() -> None:  # the call path's CRM read, meanwhile
        while not done.is_set():
            start = time.perf_counter()
            await history.caller_history("+48600100200")
            lookups.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)  # the pace of incoming calls, not a wait

    async with client() as http:
        token = await form_token(http, live.url)
        watchers = [asyncio.create_task(ticker()), asyncio.create_task(screen_pops())]
        started = time.perf_counter()
        results = await asyncio.gather(*(
            log_in(http, live.url, f"flood{secrets.token_hex(4)}", "zle-haslo", token)
            for _ in range(40)))
        elapsed = time.perf_counter() - started
        done.set()
        await asyncio.gather(*watchers)
    statuses = [r[0] for r in results]
    assert set(statuses) <= {401, 429}, statuses
    checked = statuses.count(401)
    # Never more checks at once than the cap; the rest were turned away at once (busy).
    assert guard.peak <= guard.concurrency
    assert checked <= guard.concurrency + guard.max_waiting, statuses
    assert statuses.count(429) >= 40 - guard.concurrency - guard.max_waiting
    busy = [r for r in results if r[0] == 429]
    assert all(r[1].isdigit() for r in busy)
    assert max(lags) < 0.25, f"event loop stalled {max(lags):.3f} s during the flood"
    assert lookups and max(lookups) < 0.5, f"screen-pop lookup took {max(lookups):.3f} s"
    print(f"flood: {checked} checked, {len(busy)} turned away in {elapsed:.1f} s; "
          f"loop lag max {max(lags) * 1000:.0f} ms; CRM lookup max {max(lookups) * 1000:.0f} ms")


async def test_idle_sessions_end_and_active_ones_extend(desk_app: Served) -> None:
    live, _ = desk_app
    user = users.get_user(live.db, "konsultant1")
    token = users.open_session(live.db, user.id)
    headers = {"Cookie": f"ckm_session={token}", "X-CSRF-Token": csrf_for(token)}

    def idle_for(minutes: float) -> None:  # as if the browser had sat unused that long
        with live.db.writing() as session:
            row = session.get(WebSession, users._token_hash(token))
            assert row is not None
            row.last_seen_at -= timedelta(minutes=minutes)

    async with aiohttp.ClientSession() as http:
        for _ in range(3):  # used again within 30 minutes, each time: still in
            idle_for(29)
            async with http.get(live.url + "/desk", headers=headers,
                                allow_redirects=False) as r:
                assert r.status == 200
        idle_for(31)
        async with http.get(live.url + "/desk", headers=headers, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/desk"
        async with http.get(live.url + "/desk/api/callbacks", headers=headers) as r:
            assert r.status == 401
    with live.db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    await wait_until("the guard's condition", condition, timeout_s, every_s=0.01)


async def test_the_guard_stays_bounded_and_turns_logins_away_when_full() -> None:
    clock = [1000.0]
    guard = LoginGuard(max_keys=100, concurrency=1, max_waiting=2, clock=lambda: clock[0])
    try:
        for n in range(1000):  # a spray of usernames and addresses
            guard.failed(f"u{n}", f"10.0.{n // 250}.{n % 250}")
        assert len(guard._counters) <= 100
        release = threading.Event()
        running = asyncio.create_task(guard.check(release.wait, 5.0))
        await until(lambda: guard.running == 1)
        queued = [asyncio.create_task(guard.check(lambda: "next")) for _ in range(2)]
        await until(lambda: guard.waiting == 2)
        with pytest.raises(Busy):
            await guard.check(lambda: "one too many")
        release.set()
        assert await running is True
        assert await asyncio.gather(*queued) == ["next", "next"]
        assert guard.peak == 1 and guard.waiting == 0
    finally:
        guard.close()


async def test_cti_commands_keep_the_session_alive_and_an_ended_one_closes_the_socket(
        desk_app: Served) -> None:
    live, _ = desk_app
    live.hub.recheck_every_s = 0.0  # re-check at every command (default: once a minute)
    user = users.get_user(live.db, "konsultant1")
    token = users.open_session(live.db, user.id)
    cookie = {"Cookie": f"ckm_session={token}"}

    def last_seen_ago() -> timedelta:
        with live.db.reading() as session:
            row = session.get(WebSession, users._token_hash(token))
            assert row is not None
            return datetime.now(UTC) - row.last_seen_at

    def backdate(minutes: float) -> None:
        with live.db.writing() as session:
            row = session.get(WebSession, users._token_hash(token))
            assert row is not None
            row.last_seen_at -= timedelta(minutes=minutes)

    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{live.url}/cti/ws?csrf={csrf_for(token)}", headers=cookie) as ws:
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "snapshot"
        # Taking calls over the socket only, with no page load for 29 minutes: still active.
        backdate(29)
        await ws.send_str(json.dumps({"type": "set_state", "id": "a", "state": "available"}))
        await until(lambda: last_seen_ago() < timedelta(minutes=1))
        backdate(29)
        async with http.get(live.url + "/desk", headers=cookie, allow_redirects=False) as r:
            assert r.status == 200
        # The password changed elsewhere (`ckm users passwd` in another process): the next
        # command closes the socket.
        users.set_password(live.db, "konsultant1", "haslo-zmienione-gdzie-indziej")
        await ws.send_str(json.dumps({"type": "set_state", "id": "b", "state": "available"}))
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert ws.close_code == 4401


async def test_ckm_users_passwd_from_another_process_logs_the_browser_out(
        desk_app: Served, tmp_path: Path) -> None:
    live, _ = desk_app
    async with client() as http:
        assert (await log_in(http, live.url, "konsultant2", PASSWORD))[0] == 303
        async with http.get(live.url + "/desk", allow_redirects=False) as r:
            assert r.status == 200
        env = {**os.environ, "CKM_DATA_DIR": str(tmp_path / "cli"),
               "CKM_CONFIG": str(tmp_path / "none.toml"),
               "CKM_DATABASE_URL": str(live.db.engine.url)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ckm.cli", "users", "passwd", "konsultant2",
            "--password", "inne-haslo-z-konsoli", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert "1 session(s) ended" in out.decode()
        async with http.get(live.url + "/desk", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/login?next=/desk"
        async with http.get(live.url + "/desk/api/callbacks") as r:
            assert r.status == 401
        assert (await log_in(http, live.url, "konsultant2", PASSWORD))[0] == 401
        assert (await log_in(http, live.url, "konsultant2", "inne-haslo-z-konsoli"))[0] == 303
