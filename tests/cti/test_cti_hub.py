"""The CTI hub through a real aiohttp server and real websocket clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cti import commands as cmd
from cti import events as ev
from cti.acd import Acd
from cti.config import AgentProfile, CallContext, Caller, Membership, QueueConfig
from cti.hub import CtiHub
from cti.ports import AgentSeat, Principal, Role
from cti.switchboard import Switchboard
from tests.polling import wait_until

QUEUES = (QueueConfig("roads", wrapup_s=30, dispositions=frozenset({"resolved", "case"})),
          QueueConfig("water"))


class RecordingPbx:
    def __init__(self) -> None:
        self.commands: list[cmd.Command] = []

    def execute(self, command: cmd.Command) -> None:
        self.commands.append(command)


class Tokens:
    def __init__(self, users: Mapping[str, Principal]) -> None:
        self.users = users

    async def authenticate(self, credential: str) -> Principal | None:
        return self.users.get(credential)


class Directory:
    async def queues(self) -> Sequence[QueueConfig]:
        return QUEUES

    async def seat(self, user: str) -> AgentSeat | None:
        if user not in ("anna", "bart"):
            return None
        return AgentSeat(AgentProfile(user, user.title(), {}, (Membership("roads"),)),
                         f"PJSIP/{user}")

    async def pause_reasons(self) -> frozenset[str]:
        return frozenset({"break", "training", "coaching"})


@dataclass
class History:
    delay_s: float = 0.0
    asked: list[str] = field(default_factory=list)

    async def caller_history(self, number: str) -> Mapping[str, Any]:
        self.asked.append(number)
        await asyncio.sleep(self.delay_s)  # the CRM's answer time: what the tests vary
        return {"resident": "Jan Kowalski",
                "open_cases": [{"number": "19115/2026/0042", "category": "roads",
                                "status": "in_progress"}]}


@dataclass
class Rig:
    client: TestClient[web.Request, web.Application]
    board: Switchboard
    pbx: RecordingPbx
    history: History

    async def connect(self, token: str) -> Peer:
        return Peer(await self.client.ws_connect(
            "/cti/ws", headers={"Authorization": f"Bearer {token}"}))

    def enqueue(self, call_id: str, queue: str = "roads") -> None:
        self.board.feed(ev.CallEnqueued(
            datetime.now(UTC), call_id, queue, Caller("+48221234567", "Jan Kowalski"),
            context=CallContext(("welcome", "roads"), "pothole", "dziura na ulicy Puławskiej")))


USERS = {"tok-anna": Principal("anna", Role.CONSULTANT),
         "tok-bart": Principal("bart", Role.CONSULTANT),
         "tok-boss": Principal("boss", Role.SUPERVISOR)}


async def make_rig(history: History, snapshot_path: Path | None = None,
                   acd: Acd | None = None) -> Rig:
    pbx = RecordingPbx()
    board = Switchboard(acd or Acd(QUEUES), pbx, directory=Directory(), history=history,
                        snapshot_path=snapshot_path, figures_every_s=0)
    hub = CtiHub(Tokens(USERS), board, auth_timeout_s=1.0)
    board.attach(hub)
    app = web.Application()
    hub.mount(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    await board.start()
    return Rig(client, board, pbx, history)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = await make_rig(History())
    yield r
    await r.board.stop()
    await r.client.close()


class Peer:
    """A websocket client that keeps frames read past while waiting for a reply."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.buffer: list[dict[str, Any]] = []

    async def close(self) -> None:
        await self.ws.close()


async def frame(peer: Peer) -> dict[str, Any]:
    if peer.buffer:
        return peer.buffer.pop(0)
    data = await peer.ws.receive_json(timeout=3)
    assert isinstance(data, dict)
    return data


async def until(peer: Peer, kind: str, **match: Any) -> dict[str, Any]:
    """Read frames until one of `kind` (an event name or a frame type) with matching data."""
    while True:
        f = await frame(peer)
        name = f.get("event", f["type"])
        data = f.get("data", f)
        if name == kind and all(data.get(k) == v for k, v in match.items()):
            return f


async def send(peer: Peer, **msg: Any) -> dict[str, Any]:
    await peer.ws.send_json(msg)
    skipped = []
    while True:
        data = await peer.ws.receive_json(timeout=3)
        if data["type"] in ("ack", "refused", "error", "pong") and data.get("id") == msg.get("id"):
            peer.buffer.extend(skipped)
            assert isinstance(data, dict)
            return data
        skipped.append(data)


async def test_agent_gets_snapshot_then_the_screen_pop_with_history_before_answering(
        rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    first = await frame(anna)
    assert (first["type"], first["user"], first["role"]) == ("snapshot", "anna", "consultant")
    assert first["data"]["agent"] is None
    rig.enqueue("c1")
    # The history is fetched while the caller waits, before any agent is there.
    await wait_until("c1's caller history", lambda: rig.board.notifier.pops.history("c1"))
    assert (await send(anna, type="login", id="1"))["type"] == "ack"
    offered = await until(anna, "call_offered")
    pop = offered["data"]["screen_pop"]
    assert pop["caller_number"] == "+48221234567"
    assert pop["ivr_path"] == ["welcome", "roads"] and pop["category"] == "pothole"
    assert pop["transcript"] == "dziura na ulicy Puławskiej"
    assert pop["history"]["open_cases"][0]["number"] == "19115/2026/0042"
    assert pop["history_pending"] is False
    assert offered["seq"] > first["seq"]
    ring = [c for c in rig.pbx.commands if isinstance(c, cmd.RingAgent)]
    assert [(r.call_id, r.endpoint) for r in ring] == [("c1", "PJSIP/anna")]
    await anna.close()


async def test_slow_history_follows_the_pop_instead_of_delaying_it() -> None:
    r = await make_rig(History(delay_s=0.3))
    try:
        anna = await r.connect("tok-anna")
        await frame(anna)
        await send(anna, type="login", id="1")
        r.enqueue("c1")
        offered = await until(anna, "call_offered")
        assert offered["data"]["screen_pop"]["history_pending"] is True
        late = await until(anna, "screen_pop_history", call_id="c1")
        assert late["data"]["history"]["resident"] == "Jan Kowalski"
        await anna.close()
    finally:
        await r.board.stop()
        await r.client.close()


async def test_events_of_one_call_arrive_in_order_with_rising_sequence(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    await frame(anna)
    await send(anna, type="login", id="1")
    rig.enqueue("c1")
    now = datetime.now(UTC)
    rig.board.feed(ev.AgentAnswered(now, "c1", "anna"))
    assert (await send(anna, type="hold", id="2", call_id="c1"))["type"] == "ack"
    rig.board.feed(ev.CallerHungUp(datetime.now(UTC), "c1"))
    names, seqs = [], []
    while "call_ended" not in names:
        f = await frame(anna)
        if f["type"] == "event" and f["data"].get("call_id") == "c1":
            names.append(f["event"])
            seqs.append(f["seq"])
    assert [n for n in names if n not in ("agent_state", "screen_pop_history")] == [
        "call_offered", "call_answered", "call_held", "call_ended"]
    assert seqs == sorted(seqs)
    assert [type(c).__name__ for c in rig.pbx.commands] == [
        "HoldInQueue", "RingAgent", "BridgeCall", "HoldCall", "HangupAgentLeg"]


async def test_wrong_token_is_refused_and_closed(rig: Rig) -> None:
    peer = await rig.connect("nope")
    f = await frame(peer)
    assert f["type"] == "error" and f["reason"].startswith("unauthenticated")
    await peer.ws.receive(timeout=2)
    assert peer.ws.closed and peer.ws.close_code == 4401


async def test_token_in_a_first_auth_frame(rig: Rig) -> None:
    ws = await rig.client.ws_connect("/cti/ws")
    await ws.send_json({"type": "auth", "token": "tok-boss"})
    f = await frame(Peer(ws))
    assert (f["type"], f["role"]) == ("snapshot", "supervisor")
    assert "figures" in f["data"]
    await ws.close()


async def test_malformed_frames_get_errors_and_the_connection_stays(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    await frame(anna)
    await anna.ws.send_str("{not json")
    assert "invalid JSON" in (await frame(anna))["reason"]
    await anna.ws.send_str("[1, 2]")
    assert "expected a JSON object, got list" in (await frame(anna))["reason"]
    err = await send(anna, type="teleport", id="7")
    assert err["type"] == "error" and "unknown type 'teleport'" in err["reason"]
    err = await send(anna, type="transfer", id="8", call_id="c1", kind="planet", target="x")
    assert "field 'kind': expected one of queue, agent, external" in err["reason"]
    err = await send(anna, type="hold", id="9")
    assert "missing field 'call_id'" in err["reason"]
    await anna.ws.send_bytes(b"\x00\x01")
    assert (await frame(anna))["reason"] == "expected text frames"
    assert (await send(anna, type="ping", id="10"))["type"] == "pong"
    await anna.close()


async def test_commands_are_checked_against_rights_and_call_state(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    bart = await rig.connect("tok-bart")
    await frame(anna)
    await frame(bart)
    await send(anna, type="login", id="1")
    rig.enqueue("c1")
    rig.board.feed(ev.AgentAnswered(datetime.now(UTC), "c1", "anna"))
    await send(bart, type="login", id="1")
    refused = await send(bart, type="hold", id="2", call_id="c1")
    assert refused == {"type": "refused", "id": "2",
                       "reason": "call c1 belongs to agent anna, not bart"}
    refused = await send(bart, type="force_pause", id="3", agent="anna", reason="break")
    assert refused["type"] == "refused" and "supervisor" in refused["reason"]
    refused = await send(anna, type="set_state", id="4", state="paused", reason="nap")
    assert "not one of break, coaching, training" in refused["reason"]
    refused = await send(anna, type="complete_wrapup", id="5", disposition="resolved")
    assert refused["reason"] == "agent anna is not in wrap-up (on_call)"
    assert (await send(anna, type="hangup", id="6", call_id="c1"))["type"] == "ack"
    refused = await send(anna, type="complete_wrapup", id="7", disposition="lunch")
    assert "not one of case, resolved" in refused["reason"]
    assert (await send(anna, type="complete_wrapup", id="8", disposition="case",
                       notes="case opened"))["type"] == "ack"
    await anna.close()
    await bart.close()


async def test_consultants_see_their_own_events_supervisors_see_all(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    bart = await rig.connect("tok-bart")
    boss = await rig.connect("tok-boss")
    for ws in (anna, bart, boss):
        await frame(ws)
    await send(anna, type="login", id="1")
    rig.enqueue("c1")
    assert (await until(boss, "call_offered"))["data"]["agent"] == "anna"
    assert (await until(anna, "call_offered"))["data"]["call_id"] == "c1"
    assert (await send(bart, type="ping", id="p"))["type"] == "pong"
    assert bart.buffer == []  # nothing about anna's call reached bart before the pong
    assert (await send(boss, type="force_pause", id="2", agent="anna",
                       reason="coaching"))["type"] == "ack"
    state = rig.board.acd.agents["anna"]
    assert state.pending_pause == "coaching (forced by boss)"  # ringing: pause after the call
    for ws in (anna, bart, boss):
        await ws.close()


async def test_supervisor_snoops_and_forces_logout(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    boss = await rig.connect("tok-boss")
    await frame(anna)
    await frame(boss)
    await send(anna, type="login", id="1")
    rig.enqueue("c1")
    rig.board.feed(ev.AgentAnswered(datetime.now(UTC), "c1", "anna"))
    assert (await send(boss, type="snoop", id="2", call_id="c1",
                       mode="barge"))["type"] == "ack"
    snoop = rig.pbx.commands[-1]
    assert snoop == cmd.Snoop("c1", "anna", "boss", "PJSIP/boss", ev.SnoopMode.BARGE)
    refused = await send(boss, type="force_logout", id="3", agent="anna")
    assert "on a call" in refused["reason"]
    await send(anna, type="hangup", id="4", call_id="c1")
    assert (await send(boss, type="force_logout", id="5", agent="anna"))["type"] == "ack"
    offline = await until(anna, "agent_state", state="offline")
    assert offline["data"]["reason"] == "forced by boss"
    await anna.close()
    await boss.close()


async def test_a_reconnecting_client_gets_a_snapshot_then_only_newer_deltas(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    await frame(anna)
    await send(anna, type="login", id="1")
    rig.enqueue("c1")
    rig.board.feed(ev.AgentAnswered(datetime.now(UTC), "c1", "anna"))
    await anna.close()  # the browser tab reloads
    anna = await rig.connect("tok-anna")
    snap = await frame(anna)
    assert snap["type"] == "snapshot"
    assert snap["data"]["agent"]["state"] == "on_call"
    assert [c["call_id"] for c in snap["data"]["calls"]] == ["c1"]
    await send(anna, type="hold", id="2", call_id="c1")
    held = await until(anna, "call_held")
    assert held["seq"] > snap["seq"]
    await anna.close()


async def test_supervisor_figures_and_schedule_callback(rig: Rig) -> None:
    boss = await rig.connect("tok-boss")
    await frame(boss)
    rig.enqueue("c1")
    rig.enqueue("c2")
    ack = await send(boss, type="schedule_callback", id="1", queue="roads",
                     number="+48225550000", name="Ewa")
    assert ack["type"] == "ack"
    figures = rig.board.figures_view()
    (roads,) = [q for q in figures["queues"] if q["queue"] == "roads"]
    assert (roads["waiting"], roads["callbacks_pending"]) == (2, 1)
    json.dumps(figures)  # the wallboard feed is plain JSON
    await boss.close()


async def test_restart_from_the_snapshot_file_keeps_the_callers_places(tmp_path: Path) -> None:
    path = tmp_path / "acd.json"
    r = await make_rig(History(), snapshot_path=path)
    for n in range(3):
        r.enqueue(f"c{n}")
    await r.board.stop()  # writes the snapshot, whatever the save timer was doing
    await r.client.close()
    from cti import snapshot
    restored = snapshot.loads(path.read_text(), QUEUES)
    assert [e.call_id for e in restored.waiting("roads")] == ["c0", "c1", "c2"]


async def test_the_switchboard_clock_times_out_a_ring_and_offers_the_next_agent() -> None:
    acd = Acd([QueueConfig("roads", ring_timeout_s=0.2, autopause_after=1)])
    r = await make_rig(History(), acd=acd)
    try:
        now = datetime.now(UTC)
        for agent in ("anna", "bart"):
            seat = await Directory().seat(agent)
            assert seat is not None
            r.board.feed(ev.AgentLoggedIn(now, seat.profile, seat.endpoint))
        r.enqueue("c1")

        def rings() -> list[tuple[str, str]]:
            return [(c.call_id, c.agent) for c in r.pbx.commands if isinstance(c, cmd.RingAgent)]

        # Only the switchboard's own timer can ring bart: nothing else is fed.
        await wait_until("the ring to move on to bart", lambda: len(rings()) >= 2, 3.0)
        assert rings()[:2] == [("c1", "anna"), ("c1", "bart")]
        assert cmd.CancelRing("c1", "anna") in r.pbx.commands
        assert r.board.acd.agents["anna"].reason == "autopause"
    finally:
        await r.board.stop()
        await r.client.close()


async def test_a_client_that_stops_reading_is_cut_off_not_the_others(rig: Rig) -> None:
    assert rig.board.hub is not None
    rig.board.hub.max_backlog = 5
    boss = await rig.connect("tok-boss")
    await frame(boss)
    (conn,) = rig.board.hub.connections
    for n in range(10):  # published faster than the writer task can run
        rig.board.hub.publish("figures", {"n": n})
    assert conn.dropped
    while not boss.ws.closed:
        await boss.ws.receive(timeout=2)
    assert boss.ws.close_code == 4408
    fresh = await rig.connect("tok-boss")
    assert (await frame(fresh))["type"] == "snapshot"
    await fresh.close()


async def test_the_crm_hears_offers_connections_transfers_and_dispositions() -> None:
    from ground import events as domain
    from ground.bus import EventBus

    bus = EventBus()
    heard: list[domain.DomainEvent] = []

    async def record(event: domain.DomainEvent) -> None:
        heard.append(event)

    bus.subscribe("test", record)
    board = Switchboard(Acd(), RecordingPbx(), directory=Directory(), bus=bus,
                        figures_every_s=0)
    assert await board.configure() == 2
    seat = await Directory().seat("anna")
    assert seat is not None
    now = datetime.now(UTC)
    board.feed(ev.AgentLoggedIn(now, seat.profile, seat.endpoint))
    board.feed(ev.CallEnqueued(now, "c1", "roads", Caller("+48221234567")))
    board.feed(ev.AgentAnswered(now, "c1", "anna"))
    board.feed(ev.HangupRequested(now, "c1", "anna"))
    board.feed(ev.WrapUpCompleted(now, "anna", "resolved", "told about the schedule"))
    await bus.close()
    await board.stop()
    assert [e.kind for e in heard] == ["call_offered", "agent_connected", "call_dispositioned"]
    assert domain.from_dict(heard[-1].to_dict()) == heard[-1]


async def test_boot_restores_waiting_callers_and_held_commands_reach_the_pbx_later(
        tmp_path: Path) -> None:
    path = tmp_path / "acd.json"
    first = Switchboard(Acd(), directory=Directory(), snapshot_path=path, figures_every_s=0)
    assert await first.boot() == "2 queues configured, nobody waiting"
    for n in range(4):
        first.feed(ev.CallEnqueued(datetime.now(UTC), f"c{n}", "roads", Caller("+48221234567")))
    first.feed(ev.CallerHungUp(datetime.now(UTC), "c3"))
    await first.stop()  # the controller goes down with three callers waiting

    second = Switchboard(Acd(), directory=Directory(), snapshot_path=path, figures_every_s=0)
    assert (await second.boot()).startswith("restored 3 waiting")
    # today's figures came back too (the caller who hung up before the restart)
    roads = next(q for q in second.figures_view()["queues"] if q["queue"] == "roads")
    assert (roads["abandoned"], roads["waiting"]) == (1, 3)
    seat = await Directory().seat("anna")
    assert seat is not None
    second.feed(ev.AgentLoggedIn(datetime.now(UTC), seat.profile, seat.endpoint))
    pbx = RecordingPbx()
    second.attach_pbx(pbx)  # the ARI adapter comes up a moment later
    assert [(c.call_id, c.agent) for c in pbx.commands if isinstance(c, cmd.RingAgent)] == [
        ("c0", "anna")]
    await second.stop()


async def test_a_corrupt_snapshot_is_set_aside_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "acd.json"
    path.write_text("{garbage")
    board = Switchboard(Acd(), directory=Directory(), snapshot_path=path, figures_every_s=0)
    assert await board.boot() == "2 queues configured, nobody waiting"
    assert path.with_suffix(".bad").read_text() == "{garbage"
    await board.stop()


async def test_no_credentials_in_time_closes_the_socket(rig: Rig) -> None:
    assert rig.board.hub is not None
    rig.board.hub.auth_timeout_s = 0.1
    ws = await rig.client.ws_connect("/cti/ws")
    f = await frame(Peer(ws))
    assert f["type"] == "error" and "no credentials" in f["reason"]
    await ws.receive(timeout=2)
    assert ws.close_code == 4401
    quitter = await rig.client.ws_connect("/cti/ws")
    await quitter.close()  # gone before authenticating: the server just lets go
    server = rig.client.server.runner.server if rig.client.server.runner else None
    assert server is not None
    # aiohttp keeps a connection listed until its handler has returned: none is left hanging.
    await wait_until("both handlers to return", lambda: server.connections == [], 2.0)
    assert rig.board.hub.connections == set()


async def test_a_sink_that_answers_at_once_keeps_the_command_order() -> None:
    class InstantAgents:
        """A scripted agent endpoint that answers the moment it rings."""

        def __init__(self) -> None:
            self.board: Switchboard | None = None
            self.commands: list[cmd.Command] = []

        def execute(self, command: cmd.Command) -> None:
            self.commands.append(command)
            if isinstance(command, cmd.RingAgent) and self.board is not None:
                self.board.feed(ev.AgentAnswered(datetime.now(UTC), command.call_id,
                                                 command.agent, command.offer))

    sink = InstantAgents()
    board = Switchboard(Acd(QUEUES), sink, directory=Directory(), figures_every_s=0)
    sink.board = board
    seat = await Directory().seat("anna")
    assert seat is not None
    board.feed(ev.AgentLoggedIn(datetime.now(UTC), seat.profile, seat.endpoint))
    board.feed(ev.CallEnqueued(datetime.now(UTC), "c1", "roads", Caller("+48221234567")))
    assert [type(c).__name__ for c in sink.commands] == ["HoldInQueue", "RingAgent",
                                                         "BridgeCall"]
    assert board.acd.agents["anna"].status.value == "on_call"
    await board.stop()


async def test_consultants_see_the_figures_of_their_own_queues(rig: Rig) -> None:
    anna = await rig.connect("tok-anna")
    await frame(anna)
    await send(anna, type="login", id="1")
    await send(anna, type="set_state", id="2", state="paused", reason="break")
    rig.enqueue("c1")
    rig.enqueue("c2", queue="water")
    rig.board.publish_figures()
    brief = await until(anna, "queue_figures")
    assert brief["data"] == {"queue": "roads", "waiting": 1, "longest_wait_s": brief["data"][
        "longest_wait_s"], "callbacks_pending": 0}
    await anna.close()
    anna = await rig.connect("tok-anna")
    snap = await frame(anna)
    assert [q["queue"] for q in snap["data"]["my_queues"]] == ["roads"]
    assert "figures" not in snap["data"]
    await anna.close()
