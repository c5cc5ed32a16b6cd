"""Prometheus metrics of the running center at `/metrics` (the official prometheus_client).

One registry per center (tests run several centers in one process). Three kinds of figures:

- live, read from the ACD at each scrape: callers waiting and the longest wait per queue,
  callbacks pending, agents logged in / available per queue, agents by state, today's service
  level; whether ARI is connected; the outbox journal's backlog (events not yet in the CRM);
- counters folded from the ACD's notices (a switchboard notice hook), by queue: calls offered
  (joined the queue), answered, abandoned, left the queue by reason, waits of answered calls;
  unanswered offers by reason; callback attempts by result — the wallboard's definitions;
- latency histograms: every ARI REST request by kind (pbx.ari_client's `on_request`), every
  CRM database statement by verb (SQLAlchemy cursor events on the desk's engines).

Access: a client on loopback, or one presenting `Authorization: Bearer <metrics_token>` when
that setting is set. Behind a reverse proxy on the same host, list the proxy in
`trusted_proxies` (then its clients are seen as who they are), or set a token.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from cti import notices as nt

if TYPE_CHECKING:
    from ckm.assembly import Center
from ground import edge

SERVICE = "ckm.metrics"  # where attach keeps them, in center.extras

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
AGENT_STATES = ("offline", "available", "reserved", "on_call", "wrap_up", "paused")


class CenterMetrics:
    def __init__(self, center: Center) -> None:
        self.center = center
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.offered = Counter("ckm_queue_calls_offered", "Callers who joined the queue",
                               ["queue"], registry=r)
        self.answered = Counter("ckm_queue_calls_answered",
                                "Callers connected to an agent of the queue", ["queue"],
                                registry=r)
        self.abandoned = Counter("ckm_queue_calls_abandoned",
                                 "Callers who hung up while waiting in the queue", ["queue"],
                                 registry=r)
        self.left = Counter("ckm_queue_calls_left",
                            "Queue entries ended without an agent of the queue, by reason",
                            ["queue", "reason"], registry=r)
        self.answer_wait = Histogram("ckm_queue_answer_wait_seconds",
                                     "Wait of answered callers in the queue", ["queue"],
                                     buckets=WAIT_BUCKETS, registry=r)
        self.unanswered = Counter("ckm_agent_offers_unanswered",
                                  "Offers to an agent that ended unanswered, by reason",
                                  ["reason"], registry=r)
        self.callbacks = Counter("ckm_callback_attempts", "Callback dials, by result",
                                 ["queue", "result"], registry=r)
        self.ari = Histogram("ckm_ari_request_seconds", "ARI REST requests, by kind",
                             ["request"], buckets=LATENCY_BUCKETS, registry=r)
        self.db = Histogram("ckm_db_query_seconds", "CRM database statements, by verb",
                            ["verb"], buckets=LATENCY_BUCKETS, registry=r)
        self.outbox_pending: int | None = None
        self.outbox_failed: int | None = None
        r.register(_LiveCollector(self))

    # --- feeds ---------------------------------------------------------------------------

    def on_notice(self, n: nt.Notice) -> None:
        if isinstance(n, nt.CallQueued):
            if not n.callback:
                self.offered.labels(n.queue).inc()
        elif isinstance(n, nt.CallConnected):
            if not n.transferred and not n.callback:
                self.answered.labels(n.queue).inc()
                self.answer_wait.labels(n.queue).observe(n.waited_s)
        elif isinstance(n, nt.CallLeftQueue):
            self.left.labels(n.queue, n.reason).inc()
            if n.reason == "abandoned" and not n.callback:
                self.abandoned.labels(n.queue).inc()
        elif isinstance(n, nt.OfferWithdrawn):
            if n.reason in ("timeout", "declined"):
                self.unanswered.labels(n.reason).inc()
        elif isinstance(n, nt.CallbackAttempted):
            self.callbacks.labels(n.queue, "reached" if n.reached else "unreached").inc()

    def on_ari_request(self, kind: str, seconds: float) -> None:
        self.ari.labels(kind).observe(seconds)

    def watch_engine(self, engine: Any) -> None:
        from sqlalchemy import event

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            conn.info.setdefault("ckm_metrics_t0", []).append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            started = conn.info.get("ckm_metrics_t0")
            if started:
                verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
                self.db.labels(verb if verb in _VERBS else "OTHER").observe(
                    time.perf_counter() - started.pop())

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)

    async def refresh(self) -> None:
        """What is read off the event loop before a scrape: the outbox journal's backlog."""
        recorder = self.center.recorder
        journal = getattr(recorder, "journal", None)
        if journal is None:
            return
        try:
            self.outbox_pending = await asyncio.to_thread(journal.pending_count)
            self.outbox_failed = len(await asyncio.to_thread(journal.failed_entries))
        except Exception as exc:  # a metric is not worth a failed scrape
            log.warning("metrics: outbox journal unreadable: %s", exc)
            self.outbox_pending = self.outbox_failed = None

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition the scraper asked for (Accept), and its content type."""
        encoder, content_type = choose_encoder(accept)
        return bytes(encoder(self.registry)), content_type


_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "BEGIN", "COMMIT", "ROLLBACK",
                    "WITH", "PRAGMA"})


class _LiveCollector(Collector):
    def __init__(self, metrics: CenterMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # the families below are made afresh at each scrape

    def collect(self) -> Iterator[Metric]:
        center = self.metrics.center
        board = center.switchboard
        if board is not None:
            yield from _acd_families(board)
        ari = center.ari
        if ari is not None:
            up = GaugeMetricFamily("ckm_ari_connected",
                                   "1 while the ARI events websocket is connected")
            up.add_metric([], 1.0 if ari.connected.is_set() else 0.0)
            yield up
        if self.metrics.outbox_pending is not None:
            pending = GaugeMetricFamily("ckm_outbox_pending",
                                        "Events in the outbox journal not yet in the CRM")
            pending.add_metric([], float(self.metrics.outbox_pending))
            yield pending
            failed = GaugeMetricFamily("ckm_outbox_failed",
                                       "Events in the outbox journal set aside as unappliable")
            failed.add_metric([], float(self.metrics.outbox_failed or 0))
            yield failed


def _acd_families(board: Any) -> Iterator[Metric]:
    acd = board.acd
    figures = board.figures.queues(acd, board.now())
    waiting = GaugeMetricFamily("ckm_queue_waiting", "Callers waiting in the queue now",
                                labels=["queue"])
    longest = GaugeMetricFamily("ckm_queue_longest_wait_seconds",
                                "Wait of the longest-waiting caller in the queue",
                                labels=["queue"])
    callbacks = GaugeMetricFamily("ckm_queue_callbacks_pending",
                                  "Callbacks waiting for an agent", labels=["queue"])
    logged_in = GaugeMetricFamily("ckm_queue_agents_logged_in",
                                  "Agents of the queue logged in", labels=["queue"])
    available = GaugeMetricFamily("ckm_queue_agents_available",
                                  "Agents of the queue available for a call", labels=["queue"])
    level = GaugeMetricFamily("ckm_queue_service_level_ratio",
                              "Today's service level (answered within the threshold / "
                              "answered + abandoned), as on the wallboard", labels=["queue"])
    for q in figures:
        waiting.add_metric([q.queue], float(q.waiting))
        longest.add_metric([q.queue], float(q.longest_wait_s))
        callbacks.add_metric([q.queue], float(q.callbacks_pending))
        logged_in.add_metric([q.queue], float(q.agents_logged_in))
        available.add_metric([q.queue], float(q.agents_available))
        if q.service_level is not None:
            level.add_metric([q.queue], float(q.service_level))
    yield from (waiting, longest, callbacks, logged_in, available, level)
    counts = dict.fromkeys(AGENT_STATES, 0)
    for agent in acd.agents.values():
        counts[agent.status.value] = counts.get(agent.status.value, 0) + 1
    agents = GaugeMetricFamily("ckm_agents", "Agents known to the ACD, by state",
                               labels=["state"])
    for state, count in counts.items():
        agents.add_metric([state], float(count))
    yield agents


def attach(center: Center) -> CenterMetrics:
    """The center's metrics, wired to its parts (once; later calls return the same)."""
    found = center.extras.get(SERVICE)
    if isinstance(found, CenterMetrics):
        return found
    metrics = CenterMetrics(center)
    center.extras[SERVICE] = metrics
    board = center.switchboard
    if board is not None:
        board.notice_hooks.append(metrics.on_notice)
    ari = center.ari
    if ari is not None:
        ari.on_request = metrics.on_ari_request
    db = center.db
    if db is not None:
        metrics.watch_engine(db.engine)
        other = getattr(db, "autocommit_engine", None)
        if other is not None and other is not db.engine:  # SQLite has the one engine
            metrics.watch_engine(other)
    return metrics


def allowed(request: web.Request, token: str) -> bool:
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(
                given[7:].strip().encode(), token.encode()):
            return True
    try:
        return ipaddress.ip_address(edge.client_address(request)).is_loopback
    except ValueError:
        return False


def mount(app: web.Application, center: Center) -> None:
    metrics = attach(center)
    token = center.settings.metrics_token

    async def scrape(request: web.Request) -> web.Response:
        if not allowed(request, token):
            if token:
                raise web.HTTPUnauthorized(text="metrics: bearer token required\n",
                                           headers={"WWW-Authenticate": "Bearer"})
            raise web.HTTPForbidden(text="metrics: loopback only (set metrics_token)\n")
        await metrics.refresh()
        body, content_type = metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", scrape)
