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

    def wants(self, agents: frozenset[str], supervisors: bool) -> bool:
        if self.principal.role.sees_everything:
            return supervisors
        return self.principal.user in agents


class CtiHub:
    def __init__(self, authenticator: Authenticator, operator: HubOperator, *,
                 auth_timeout_s: float = 5.0, max_backlog: int = 2000) -> None:
        self.authenticator = authenticator
        self.operator = operator
        self.auth_timeout_s = auth_timeout_s
        self.max_backlog = max_backlog
        self.seq = 0
        self.connections: set[Connection] = set()

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
        principal = await self._authenticate(request, ws)
        if principal is None:
            return ws
        conn = Connection(principal, ws)
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

    async def _authenticate(self, request: web.Request,
                            ws: web.WebSocketResponse) -> Principal | None:
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
        return principal

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


async def _reject(ws: web.WebSocketResponse, reason: str) -> Principal | None:
    """Tell the client why, close with 4401; returns no principal."""
    with contextlib.suppress(ConnectionError, RuntimeError):  # it may have gone already
        await ws.send_str(protocol.error_frame(None, f"unauthenticated: {reason}"))
        await ws.close(code=4401, message=b"unauthenticated")
    return None
