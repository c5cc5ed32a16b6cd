"""/metrics over a real HTTP server: Prometheus' text format (parsed with prometheus_client's own
parser), live ACD gauges and counters that move with the ACD's events, and who may scrape."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from ckm import metrics
from ckm.assembly import Center
from cti import events as ev
from cti.acd import Acd
from cti.config import AgentProfile, Caller, Membership, QueueConfig
from cti.switchboard import Switchboard
from ground import edge
from ground.bus import EventBus
from ground.settings import ROOT, Settings

TOKEN = "scrape-token-for-tests"


@dataclass
class Running:
    url: str
    board: Switchboard
    center: Center
    clock: list[datetime]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def running(settings: Settings, tmp_path: Path) -> AsyncIterator[Running]:
    local = replace(settings, data_dir=tmp_path, metrics_token=TOKEN,
                    trusted_proxies="127.0.0.1")
    clock = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    board = Switchboard(Acd(), clock=lambda: clock[0], figures_every_s=0)
    center = Center(settings=local, bus=EventBus())
    center.switchboard = board
    app = web.Application()
    edge.install(app, local.trusted_proxies)
    metrics.mount(app, center)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Running(f"http://127.0.0.1:{port}", board, center, clock)
    finally:
        await runner.cleanup()
        await center.bus.close()


async def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(url + "/metrics",
                                                         headers=headers or {}) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await r.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


async def test_gauges_and_counters_follow_the_acd(running: Running) -> None:
    board, clock = running.board, running.clock
    board.feed(ev.QueueConfigured(clock[0], QueueConfig("ogolna", wrapup_s=0)))
    before = await scrape(running.url)
    assert before["ckm_queue_waiting{queue=ogolna}"] == 0
    assert before["ckm_agents{state=available}"] == 0
    assert "ckm_queue_calls_offered_total{queue=ogolna}" not in before
    board.feed(ev.CallEnqueued(clock[0], "c1", "ogolna", Caller("+48221112233", "Jan"), 0, ()))
    board.feed(ev.CallEnqueued(clock[0], "c2", "ogolna", Caller("+48221112234", "Ewa"), 0, ()))
    clock[0] += timedelta(seconds=12)
    now = await scrape(running.url)
    assert now["ckm_queue_waiting{queue=ogolna}"] == 2
    assert now["ckm_queue_longest_wait_seconds{queue=ogolna}"] == 12
    assert now["ckm_queue_calls_offered_total{queue=ogolna}"] == 2
    profile = AgentProfile("anna", "Anna", memberships=(Membership("ogolna"),))
    board.feed(ev.AgentLoggedIn(clock[0], profile, "PJSIP/1001"))
    board.feed(ev.AgentAnswered(clock[0], "c1", "anna"))
    board.feed(ev.CallerHungUp(clock[0], "c2"))
    after = await scrape(running.url)
    assert after["ckm_queue_waiting{queue=ogolna}"] == 0
    assert after["ckm_queue_calls_answered_total{queue=ogolna}"] == 1
    assert after["ckm_queue_calls_abandoned_total{queue=ogolna}"] == 1
    assert after["ckm_queue_calls_left_total{queue=ogolna,reason=abandoned}"] == 1
    assert after["ckm_queue_answer_wait_seconds_count{queue=ogolna}"] == 1
    assert after["ckm_queue_answer_wait_seconds_sum{queue=ogolna}"] == 12
    assert after["ckm_agents{state=on_call}"] == 1
    assert after["ckm_queue_agents_logged_in{queue=ogolna}"] == 1
    assert after["ckm_queue_service_level_ratio{queue=ogolna}"] == 0.5


async def test_ari_latency_histogram_counts_every_request(running: Running) -> None:
    m = metrics.attach(running.center)
    m.on_ari_request("POST channels/answer", 0.004)
    m.on_ari_request("POST channels/answer", 0.03)
    values = await scrape(running.url)
    assert values["ckm_ari_request_seconds_count{request=POST channels/answer}"] == 2
    assert values["ckm_ari_request_seconds_bucket{le=0.005,request=POST channels/answer}"] == 1


async def test_only_loopback_or_the_bearer_token_may_scrape(running: Running) -> None:
    outside = {"X-Forwarded-For": "203.0.113.7"}  # through the trusted proxy, from afar
    async with aiohttp.ClientSession() as http:
        async with http.get(running.url + "/metrics", headers=outside) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == "Bearer"
        async with http.get(running.url + "/metrics",
                            headers={**outside, "Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
    values = await scrape(running.url, {**outside, "Authorization": f"Bearer {TOKEN}"})
    assert "ckm_agents{state=offline}" in values
    await scrape(running.url)  # loopback itself needs no token


def test_without_a_token_a_remote_client_is_refused() -> None:
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request("GET", "/metrics")
    assert not metrics.allowed(request.clone(remote="192.0.2.1"), "")
    assert not metrics.allowed(request.clone(remote="192.0.2.1",
                                             headers={"Authorization": "Bearer x"}), "")
    assert metrics.allowed(request.clone(remote="127.0.0.1"), "")
    assert metrics.allowed(request.clone(remote="::1"), "")


async def test_the_grafana_dashboard_asks_only_for_metrics_ckm_exports(running: Running) -> None:
    board, clock = running.board, running.clock
    board.feed(ev.QueueConfigured(clock[0], QueueConfig("ogolna", wrapup_s=0)))
    board.feed(ev.CallEnqueued(clock[0], "c1", "ogolna", Caller("+48221112233", "Jan"), 0, ()))
    board.feed(ev.CallerHungUp(clock[0], "c1"))
    m = metrics.attach(running.center)
    m.on_ari_request("GET channels", 0.01)
    m.db.labels("SELECT").observe(0.001)
    m.unanswered.labels("timeout").inc()
    m.answer_wait.labels("ogolna").observe(3)
    m.answered.labels("ogolna").inc()
    m.callbacks.labels("ogolna", "reached").inc()
    m.outbox_pending = m.outbox_failed = 0
    running.center.ari = type("Ari", (), {"connected": asyncio.Event()})()
    exported = {name.split("{", 1)[0] for name in await scrape(running.url)}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "ckm.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    asked = {name for expr in exprs for name in re.findall(r"\bckm_[a-z_]+", expr)}
    assert asked and asked <= exported, sorted(asked - exported)
    assert dashboard["templating"]["list"][0]["query"]["query"].startswith(
        "label_values(ckm_queue_waiting")


async def test_outbox_backlog_is_the_journals_pending_count(running: Running,
                                                            tmp_path: Path) -> None:
    from crm_core.outbox import Journal, journal_path
    from ground import events as domain

    journal = Journal(journal_path(tmp_path))
    try:
        running.center.recorder = type("Rec", (), {"journal": journal})()
        for i in range(3):
            journal.append(domain.CallAnswered(f"c{i}", running.clock[0]))
        values = await scrape(running.url)
        assert values["ckm_outbox_pending{}"] == 3
        assert values["ckm_outbox_failed{}"] == 0
    finally:
        journal.close()


async def test_crm_statements_are_timed_by_verb(running: Running, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from crm_core.db import Database

    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    try:
        running.center.db = db
        running.center.extras.pop(metrics.SERVICE)  # attach again, now with the CRM
        m = metrics.attach(running.center)
        def selects() -> float:
            body, _ = m.render()
            return sum(s.value for f in text_string_to_metric_families(body.decode())
                       for s in f.samples if s.name == "ckm_db_query_seconds_count"
                       and s.labels == {"verb": "SELECT"})

        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))  # the first connection's own queries as well
            before = selects()
            conn.execute(sa.text("SELECT 1"))
            conn.execute(sa.text("select 2"))
        assert selects() - before == 2
    finally:
        db.dispose()
