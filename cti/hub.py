"""The CTI websocket hub: authenticated desktops and wallboards, snapshot then ordered deltas.

Rules:
- Mount with `hub.mount(app)` at /cti/ws. Credentials: `Authorization: Bearer <token>`, a
  `token` query parameter, the `ckm_session` cookie, or else a first `auth` frame within
  `auth_timeout_s`. Failing that the socket closes with code 4401.
- A new (or reconnecting) connection first gets a snapshot carrying the current sequence
  number, then every later delta meant for it, in publication order. Order per call follows from
  one ordered publish path and one FIFO queue per connection; nothing reorders.
- Consultants receive what concerns their own agent; supervisors and admins receive everything.
- Publishing never blocks: each frame is serialised once and queued per connection. A client too
  slow to keep up is closed (4408) and resynchronises from a snapshot when it reconnects.
- Malformed frames get an error frame; the connection stays. Commands go to the `HubOperator`,
  which refuses with a reason or acks.
- A command is activity: at most every `recheck_every_s` it has the credential authenticated
  again, in the background (the command does not wait): that extends a web session, and a
  session that has ended meanwhile (a new password, a disabled account, idle too long, also
  from another process) closes the socket with 4401. A database that cannot answer keeps the
  connection: the desk must not drop for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from cti import protocol
from cti.ports import Authenticator, Principal

log = logging.getLogger(__name__)

SESSION_COOKIE = "ckm_session"
MOUNT_PATH = "/cti/ws"


class Refused(Exception):
    """A command the user may not give now; the reason is shown to them."""


class HubOperator(Protocol):
    def snapshot_for(self, principal: Principal) -> dict[str, Any]: ...

    async def execute(self, principal: Principal, message: protocol.ClientMessage) -> None:
        """Carry out a client command or raise Refused."""


@dataclass(eq=False)
class Connection:
    principal: Principal
    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    dropped: bool = False
    credential: str | None = None
    checked_at: float = 0.0  # loop time the credential was last authenticated

    def wants(self, agents: frozenset[str], supervisors: bool) -> bool:
        if self.principal.role.sees_everything:
            return supervisors
        return self.principal.user in agents


class CtiHub:
    def __init__(self, authenticator: Authenticator, operator: HubOperator, *,
                 auth_timeout_s: float = 5.0, max_backlog: int = 2000,
                 recheck_every_s: float = 60.0) -> None:
        self.authenticator = authenticator
        self.operator = operator
        self.auth_timeout_s = auth_timeout_s
        self.max_backlog = max_backlog
        self.recheck_every_s = recheck_every_s
        self.seq = 0
        self.connections: set[Connection] = set()
        self._rechecks: set[asyncio.Task[None]] = set()

    def mount(self, app: web.Application, path: str = MOUNT_PATH) -> None:
        app.router.add_get(path, self.handle)
        app.on_shutdown.append(self._on_shutdown)

    # --- fan-out -----------------------------------------------------------------------------

    def publish(self, event: str, data: dict[str, Any], *, agents: Iterable[str] = (),
                supervisors: bool = True) -> int:
        self.seq += 1
        frame = protocol.event_frame(self.seq, event, data)
        audience = frozenset(agents)
        for conn in self.connections:
            if conn.wants(audience, supervisors):
                self._enqueue(conn, frame)
        return self.seq

    def _enqueue(self, conn: Connection, frame: str) -> None:
        if conn.dropped:
            return
        if conn.outbox.qsize() >= self.max_backlog:
            conn.dropped = True
            log.warning("cti client %s is %d frames behind; closing it", conn.principal.user,
                        conn.outbox.qsize())
            conn.outbox.put_nowait(None)
            return
        conn.outbox.put_nowait(frame)

    # --- one connection ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=protocol.MAX_FRAME * 2)
        await ws.prepare(request)
        found = await self._authenticate(request, ws)
        if found is None:
            return ws
        principal, credential = found
        conn = Connection(principal, ws, credential=credential,
                          checked_at=asyncio.get_running_loop().time())
        # Snapshot and registration happen with no await in between, so no delta falls in a gap.
        snapshot = self.operator.snapshot_for(principal)
        conn.outbox.put_nowait(protocol.snapshot_frame(self.seq, principal.user,
                                                       principal.role.value, snapshot))
        self.connections.add(conn)
        writer = asyncio.get_running_loop().create_task(self._write(conn))
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._receive(conn, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self._enqueue(conn, protocol.error_frame(None, "expected text frames"))
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(conn)
            conn.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, conn: Connection) -> None:
        while True:
            frame = await conn.outbox.get()
            if frame is None:
                if conn.dropped:
                    await conn.ws.close(code=4408, message=b"too slow; reconnect")
                return
            try:
                await conn.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    async def _receive(self, conn: Connection, text: str) -> None:
        try:
            message = protocol.parse(text)
        except protocol.ProtocolError as exc:
            self._enqueue(conn, protocol.error_frame(exc.msg_id, str(exc)))
            return
        if isinstance(message, protocol.Ping):
            self._enqueue(conn, protocol.pong_frame(message.id))
            return
        if isinstance(message, protocol.Auth):
            self._enqueue(conn, protocol.error_frame(message.id, "already authenticated"))
            return
        if (isinstance(message, protocol.SUPERVISOR_ONLY)
                and not conn.principal.role.sees_everything):
            self._enqueue(conn, protocol.refused_frame(
                message.id, f"{conn.principal.role.value} may not do this; "
                            "a supervisor or admin may"))
            return
        self._recheck(conn)
        try:
            await self.operator.execute(conn.principal, message)
        except Refused as exc:
            self._enqueue(conn, protocol.refused_frame(message.id, str(exc)))
            return
        except Exception:
            log.exception("cti command %r from %s failed", message, conn.principal.user)
            self._enqueue(conn, protocol.error_frame(message.id, "internal error; see the log"))
            return
        self._enqueue(conn, protocol.ack_frame(message.id))

    def _recheck(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        if conn.credential is None or loop.time() - conn.checked_at < self.recheck_every_s:
            return
        conn.checked_at = loop.time()
        task = loop.create_task(self._still_valid(conn, conn.credential))
        self._rechecks.add(task)
        task.add_done_callback(self._rechecks.discard)

    async def _still_valid(self, conn: Connection, credential: str) -> None:
        try:
            principal = await self.authenticator.authenticate(credential)
        except Exception:  # the CRM is down: keep the desk connected
            log.warning("cti: could not re-check %s's session; keeping the socket",
                        conn.principal.user, exc_info=True)
            return
        if principal != conn.principal:
            log.info("cti: %s's session has ended; closing their socket", conn.principal.user)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=4401, message=b"session ended")

    async def _authenticate(self, request: web.Request, ws: web.WebSocketResponse
                            ) -> tuple[Principal, str] | None:
        credential = _credential(request)
        if credential is None:
            try:
                msg = await ws.receive(timeout=self.auth_timeout_s)
            except TimeoutError:
                return await _reject(ws, "no credentials: send {\"type\":\"auth\",\"token\":...}")
            if msg.type is not WSMsgType.TEXT:
                return await _reject(ws, "expected an auth frame")
            try:
                first = protocol.parse(msg.data)
            except protocol.ProtocolError as exc:
                return await _reject(ws, str(exc))
            if not isinstance(first, protocol.Auth):
                return await _reject(ws, "expected an auth frame first")
            credential = first.token
        principal = await self.authenticator.authenticate(credential)
        if principal is None:
            return await _reject(ws, "unknown or expired credentials")
        return principal, credential

    async def disconnect_user(self, user: str) -> int:
        """Close every socket of `user` (their sessions ended: a new password, disabled, a new
        role); a page that reconnects must authenticate again. Returns how many closed."""
        mine = [conn for conn in self.connections if conn.principal.user == user]
        for conn in mine:
            await conn.ws.close(code=4401, message=b"session ended")
        return len(mine)

    async def close(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=1001, message=b"server shutdown")

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close()


def _credential(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    token = request.query.get("token")
    if token:
        return token
    return request.cookies.get(SESSION_COOKIE) or None


async def _reject(ws: web.WebSocketResponse, reason: str) -> tuple[Principal, str] | None:
    """Tell the client why, close with 4401; returns nothing authenticated (None)."""
    with contextlib.suppress(ConnectionError, RuntimeError):  # it may have gone already
        await ws.send_str(protocol.error_frame(None, f"unauthenticated: {reason}"))
        await ws.close(code=4401, message=b"unauthenticated")
    return None
