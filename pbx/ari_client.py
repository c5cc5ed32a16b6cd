"""A small ARI client: REST on aiohttp, events on one websocket, reconnect with backoff.

Rules (FACTS, pitfalls seen live):
- credentials go in the Authorization header, never `api_key=` in the URL (it leaks into logs);
- ids are assigned by us (`channelId`, `otherChannelId`) so a waiter can be registered before the
  POST — under load StasisStart arrives before the HTTP response;
- a 404 while tearing down means "already gone", never an error;
- while no websocket is connected Asterisk drops our events, so every (re)connect is followed by
  the `on_connected` callback, which resyncs from `GET /channels`;
- websockets honours HTTP(S)_PROXY by default: `proxy=None` keeps loopback on loopback;
- never ARI's `subscribeAll`: it also subscribes the app to every device state, and Asterisk
  22.10 deadlocks when such an app's websocket closes while device states change (the closing
  session unregisters the app and waits, holding res_ari's lock, for the device-state
  subscription to drain; that subscription's thread waits for the same lock to send to the
  app). From then on no websocket connects and every request naming an app hangs: seen with a
  test's scripted caller hanging up while ACD agents rang (gdb: `stasis_unsubscribe_and_join`
  under `stasis_app_unregister` against `stasis_app_send` from res_stasis_device_state).
  "All calls" is `channel:` and `bridge:` subscriptions, made on each connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import websockets

from pbx.ari_events import AriEvent, MalformedEvent, UnknownEvent, parse_event

log = logging.getLogger(__name__)

EventHandler = Callable[[AriEvent], Awaitable[None]]
# What the center's call control reads (controller, ACD adapter, speech, notification calls).
# Asterisk otherwise sends each of its channels' every variable, dialplan step, state and
# caller-id change, which it serialises and we parse for nothing.
CALL_CONTROL_EVENTS = ("StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelDtmfReceived",
                       "PlaybackFinished", "ApplicationReplaced")
ConnectedHandler = Callable[[], Awaitable[None]]


class AriError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {body[:200]}")
        self.status = status


class AriUnavailable(RuntimeError):
    """ARI cannot be reached or refuses our credentials; the message says which."""


def _request_kind(method: str, path: str) -> str:
    parts = path.strip("/").split("/")
    if len(parts) == 1:
        return f"{method} {parts[0]}"
    action = parts[2] if len(parts) > 2 else "{id}"
    return f"{method} {parts[0]}/{action}"


# Asterisk's HTTP server listens with a backlog of 10 (hard-coded in its tcptls.c): a burst of
# new connections beyond it has its handshakes dropped and retried a second later. Seen in
# `ckm bench calls`: five answers sent at the start of the run's 50 simultaneous calls, each on a
# new connection, took 1.05 s. So the pool is opened ahead of calls, at most WARM_WAVE
# connections at a time, and kept open (KEEPALIVE_S, below Asterisk's session_keep_alive in
# http.conf) instead of closing after aiohttp's default 15 s of idleness.
POOL_SIZE = 64
WARM_WAVE = 8
KEEPALIVE_S = 3600.0

# No channel ever has this id (ours are `new_id`s): its hang-up is always a 404.
HEALTH_PROBE_CHANNEL = "ckm-health-probe-never-a-channel"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


class AriClient:
    def __init__(self, base_url: str, user: str, password: str, app: str,
                 *, subscribe_all: bool = False, warm_pool: bool = False) -> None:
        self.base = base_url.rstrip("/")
        self.app = app
        # Every channel's and bridge's events (a scripted caller, a test's observer), through
        # `channel:` + `bridge:` subscriptions, never `subscribeAll` (see Rules).
        self.subscribe_all = subscribe_all
        # Open the whole connection pool on each (re)connect (see POOL_SIZE): for clients whose
        # requests come in bursts (the center, the call benchmark), not for a test's observer.
        self.warm_pool = warm_pool
        self.connections_opened = 0  # TCP connections to ARI made so far
        self._warming: asyncio.Task[None] | None = None
        self._auth = aiohttp.encode_basic_auth(user, password)
        self._http: aiohttp.ClientSession | None = None
        self._ws: Any = None
        self._handlers: list[EventHandler] = []
        self._on_connected: list[ConnectedHandler] = []
        self._waiters: dict[tuple[str, str], asyncio.Future[AriEvent]] = {}
        self._run_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()
        self.connects = 0
        self.last_error = ""
        self.unknown_types: set[str] = set()
        # Only these event types are sent to the app (ARI's event filter, set on each connect);
        # empty: all of them.
        self.allowed_events: tuple[str, ...] = ()
        # Events received by type (unknown ones too): what Asterisk sends us per call.
        self.events: Counter[str] = Counter()
        # REST requests by kind ("POST bridges/addChannel"): what a call costs Asterisk in ARI.
        self.requests: Counter[str] = Counter()
        # Told of every REST request's kind and duration (seconds), answered or not: metrics.
        self.on_request: Callable[[str, float], None] | None = None

    # --- wiring ------------------------------------------------------------------------------
    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def on_connected(self, handler: ConnectedHandler) -> None:
        self._on_connected.append(handler)

    def expect(self, event_type: str, channel_id: str) -> asyncio.Future[AriEvent]:
        """Register interest in `event_type` for `channel_id` (or a playback id for playback
        events) before causing it."""
        fut: asyncio.Future[AriEvent] = asyncio.get_running_loop().create_future()
        self._waiters[(event_type, channel_id)] = fut
        return fut

    # --- REST ---------------------------------------------------------------------------
    async def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            traces = aiohttp.TraceConfig()
            traces.on_connection_create_end.append(self._connection_opened)
            self._http = aiohttp.ClientSession(
                headers={"Authorization": self._auth},
                timeout=aiohttp.ClientTimeout(total=10),
                connector=aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=KEEPALIVE_S),
                trace_configs=[traces],
            )
        return self._http

    async def _connection_opened(self, *_: object) -> None:
        self.connections_opened += 1

    async def pool_opened(self) -> None:
        """Wait until the connection pool opened on the last connect is open (at once when
        this client does not open it ahead)."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    async def _open_pool(self) -> None:
        """Open every connection of the pool, WARM_WAVE new ones at a time: each wave asks for
        as many requests at once as the pool is to hold, the idle connections serve the
        earlier ones and the rest are opened."""
        for size in range(WARM_WAVE, POOL_SIZE + 1, WARM_WAVE):
            await asyncio.gather(*(self.request("GET", "/asterisk/ping", kind="pool warm-up")
                                   for _ in range(size)), return_exceptions=True)

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                      body: Any = None, *, gone_ok: bool = False,
                      timeout: float = 10.0, kind: str = "") -> Any:
        session = await self._session()
        kind = kind or _request_kind(method, path)
        self.requests[kind] += 1
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        url = f"{self.base}{path}"
        started = time.monotonic()
        try:
            async with session.request(method, url, params=query,
                                       json=body if body is not None else None,
                                       timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                text = await resp.text()
                if resp.status == 404 and gone_ok:
                    return None
                if resp.status == 401:
                    raise AriUnavailable(f"ARI at {self.base} refused user/password (401)")
                if resp.status >= 400:
                    raise AriError(method, path, resp.status, text)
                return json.loads(text) if text else None
        except aiohttp.ClientConnectionError as exc:
            raise AriUnavailable(f"ARI at {self.base} unreachable: {exc}") from None
        except TimeoutError:
            raise AriUnavailable(f"ARI {method} {path} got no answer in {timeout:.0f} s") from None
        finally:
            if self.on_request is not None:
                self.on_request(kind, time.monotonic() - started)

    async def asterisk_info(self) -> dict[str, Any]:
        info = await self.request("GET", "/asterisk/info")
        return info if isinstance(info, dict) else {}

    async def ping(self, timeout: float = 1.0) -> None:
        """One request Asterisk must answer itself (the health probe's round trip): the hang-up
        of a channel id that never exists, answered 404. Unlike `GET /asterisk/ping` it walks
        Asterisk's channel container, as every call's requests do. In the wedge `ckm bench
        acd` reached (agents' Local halves stuck in Hangup(), waiting for that container's
        lock behind an ARI lookup), /asterisk/ping still answered in 21 ms while this took
        over 5 s, so the overload guard saw a healthy Asterisk and shed no one."""
        await self.request("DELETE", f"/channels/{HEALTH_PROBE_CHANNEL}", gone_ok=True,
                           timeout=timeout, kind="health probe")

    async def channels(self) -> list[dict[str, Any]]:
        found = await self.request("GET", "/channels")
        return found if isinstance(found, list) else []

    async def bridges(self) -> list[dict[str, Any]]:
        found = await self.request("GET", "/bridges")
        return found if isinstance(found, list) else []

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason}, gone_ok=True)

    async def play(self, channel_id: str, media: str | list[str], playback_id: str,
                   lang: str | None = None) -> None:
        media_param = ",".join(media) if isinstance(media, list) else media
        await self.request("POST", f"/channels/{channel_id}/play/{playback_id}",
                           {"media": media_param, "lang": lang})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}", gone_ok=True)

    async def send_dtmf(self, channel_id: str, dtmf: str, between_ms: int = 100) -> None:
        await self.request("POST", f"/channels/{channel_id}/dtmf",
                           {"dtmf": dtmf, "between": between_ms})

    async def set_var(self, channel_id: str, name: str, value: str) -> None:
        # Asterisk applies it on the channel's thread, after a prompt that is playing.
        await self.request("POST", f"/channels/{channel_id}/variable",
                           {"variable": name, "value": value}, gone_ok=True, timeout=120)

    async def get_var(self, channel_id: str, name: str) -> str | None:
        try:
            found = await self.request("GET", f"/channels/{channel_id}/variable",
                                       {"variable": name}, gone_ok=True)
        except AriError:
            # An unset variable is a 404 on some versions and a 500 on others.
            return None
        return str(found.get("value", "")) if isinstance(found, dict) else None

    async def originate(self, endpoint: str, *, channel_id: str, other_channel_id: str = "",
                        app: str = "", app_args: str = "", context: str = "",
                        extension: str = "", caller_id: str = "", timeout: int = 30,
                        variables: dict[str, str] | None = None, formats: str = "") -> None:
        params = {
            "endpoint": endpoint, "channelId": channel_id,
            "otherChannelId": other_channel_id or None, "app": app or None,
            "appArgs": app_args or None, "context": context or None,
            "extension": extension or None, "priority": 1 if extension else None,
            "callerId": caller_id or None, "timeout": timeout, "formats": formats or None,
        }
        body = {"variables": variables} if variables else None
        await self.request("POST", "/channels", params, body)

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str = "") -> None:
        await self.request("POST", f"/bridges/{bridge_id}", {"type": kind, "name": name or None})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}", gone_ok=True)

    # --- events ------------------------------------------------------------------------------
    def events_url(self) -> str:
        ws_base = self.base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        query = urlencode({"app": self.app, "subscribeAll": "false"})
        return f"{ws_base}/events?{query}"

    async def start(self) -> None:
        self._stopping = False
        self._run_task = asyncio.create_task(self._run(), name=f"ari-events-{self.app}")

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drop_connection(self) -> None:
        """Close the events socket as a network failure would (used by reliability tests)."""
        if self._ws is not None:
            await self._ws.close(code=1011, reason="dropped")

    async def stop(self) -> None:
        self._stopping = True
        if self._warming is not None:
            self._warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._warming
        if self._ws is not None:
            await self._ws.close()
        if self._run_task is not None:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_task
        if self._http is not None:
            await self._http.close()
        for fut in self._waiters.values():
            if not fut.done():
                fut.cancel()

    async def _run(self) -> None:
        delay = 0.05
        while not self._stopping:
            started = time.monotonic()
            try:
                async with websockets.connect(
                    self.events_url(), additional_headers={"Authorization": self._auth},
                    proxy=None, open_timeout=5, ping_interval=10, ping_timeout=10,
                    max_size=2**22,
                ) as ws:
                    self._ws = ws
                    self.connects += 1
                    self.last_error = ""
                    await self._filter_events()
                    await self._subscribe_calls()
                    # Connected = ready: what is originated from now on has its events.
                    self.connected.set()
                    if self.warm_pool and (self._warming is None or self._warming.done()):
                        self._warming = asyncio.create_task(self._open_pool(),
                                                            name=f"ari-pool-{self.app}")
                    log.info("ari connected app=%s connects=%d", self.app, self.connects)
                    for handler in self._on_connected:
                        try:
                            await handler()
                        except Exception:
                            log.exception("ari resync after connect failed")
                    async for message in ws:
                        await self._dispatch(message)
                        # Events that arrive in a burst are read without a pause; yield after
                        # each so that calls' tasks (an answer, a bridge) are not held back
                        # behind the whole burst.
                        await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except websockets.InvalidStatus as exc:
                status = exc.response.status_code
                self.last_error = (
                    f"ARI refused user/password ({status})" if status == 401
                    else f"ARI events refused ({status})"
                )
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                self.last_error = f"ARI events at {self.base} unreachable: {exc}"
            finally:
                self._ws = None
                self.connected.clear()
            if self._stopping:
                return
            if time.monotonic() - started > 5:
                delay = 0.05  # a long healthy connection: reconnect at once
            log.warning("ari disconnected (%s); retrying in %.2f s",
                        self.last_error or "socket closed", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _subscribe_calls(self) -> None:
        if not self.subscribe_all:
            return
        for source in ("channel:", "bridge:"):  # all of them, and no device states (see Rules)
            try:
                await self.request("POST", f"/applications/{self.app}/subscription",
                                   {"eventSource": source})
            except (AriError, AriUnavailable) as exc:
                log.warning("ari subscription to %s failed: %s", source, exc)

    async def _filter_events(self) -> None:
        if not self.allowed_events:
            return
        try:
            await self.request("PUT", f"/applications/{self.app}/eventFilter",
                               body={"allowed": [{"type": t} for t in self.allowed_events]})
        except (AriError, AriUnavailable) as exc:
            log.warning("ari event filter not set (all events will come): %s", exc)

    async def _dispatch(self, message: str | bytes) -> None:
        try:
            event = parse_event(json.loads(message))
        except (MalformedEvent, ValueError, TypeError) as exc:
            log.warning("ari malformed event skipped: %s; raw=%.200r", exc, message)
            return
        self.events[event.type] += 1
        if isinstance(event, UnknownEvent):
            if event.type not in self.unknown_types:
                self.unknown_types.add(event.type)
                # A subscribeAll client (the scripted caller) sees every type there is.
                level = logging.DEBUG if self.subscribe_all else logging.INFO
                log.log(level, "ari event type %s is not handled; skipping it", event.type)
            return
        channel = getattr(event, "channel", None)
        # Channel events are awaited by channel id, playback events by playback id.
        key = channel.id if channel is not None else getattr(event, "playback_id", None)
        if key is not None:
            fut = self._waiters.pop((event.type, key), None)
            if fut is not None and not fut.done():
                fut.set_result(event)
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:
                log.exception("ari handler failed on %s", event.type)


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
