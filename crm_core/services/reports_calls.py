"""Contact-center reports: calls per queue and in total, by day, hour or 15 minutes, and agents.

Rules: `fold_calls` and `fold_agents` are pure (rows in, figures out; time is passed in); the
queries only fetch the rows. Every figure lands in the bucket of its own moment, as on the
wallboard: offered when the caller joined the queue, answered when connected, abandoned when
they hung up in the queue, a callback requested / made when it was. Local time is Warsaw's.

Definitions (the wallboard's, cti/stats.py; the page states them):
- offered: callers who joined a queue (the queue they were answered or abandoned in);
- answered: callers connected to a consultant (a consultant's transfer is not a new answer,
  a callback is counted as a callback, not as an answer);
- abandoned: callers who hung up waiting (the ACD's "abandoned"); short abandoned: those who
  waited at most the short-abandon threshold — shown, but not counted against the service level;
- service level = answered within the queue's threshold / (answered + abandoned − short
  abandoned); with a zero threshold (the default) it is the wallboard's figure;
- ASA = mean wait of answered callers; average and p90 wait over answered and abandoned callers;
- AHT = (talk + hold + wrap-up) / calls handled, talk + hold being connect → hang-up and wrap-up
  hang-up → end of wrap-up;
- IVR self-service: calls that never joined a queue and whose IVR path went through a status
  lookup or information node (`SELF_SERVICE_PREFIXES` of node names).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import (
    AgentStateHour,
    AgentStateLog,
    Interaction,
    IvrPathStep,
    Queue,
    User,
)
from crm_core.services import reports_calls_columns, reports_calls_sql

WARSAW = ZoneInfo("Europe/Warsaw")
STEPS = ("day", "hour", "15min")
TOTAL = ""  # the queue key of the all-queues figures
ALL = "all"  # the bucket key of the whole period
SELF_SERVICE_PREFIXES = ("status_", "info_")
DEFAULT_SL_S = 30.0
# A call's figures can land up to a day after it joined (a caller waiting past midnight, a
# callback made the next morning): calls are read from a day before the period.
LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class ReportFilter:
    """What a report covers: local dates `since`..`until` inclusive, the weekdays (0 Monday) and
    the hours [hour_from, hour_to) a figure's moment must fall on, the step of its buckets."""

    since: date
    until: date
    step: str = "day"
    weekdays: frozenset[int] = frozenset(range(7))
    hour_from: int = 0
    hour_to: int = 24
    short_abandon_s: float = 0.0
    # UTC hour number → (inside the filter, its day key, its hour key's prefix): a month's
    # figures fall in a few hundred hours, each converted to Warsaw time once.
    _hours: dict[int, tuple[bool, str, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        if self.until < self.since:
            errors["until"] = f"expected a date on or after {self.since.isoformat()}"
        elif (self.until - self.since).days > 3660:
            errors["until"] = "at most ten years"
        if self.step not in STEPS:
            errors["step"] = f"expected one of {', '.join(STEPS)}, got {self.step!r}"
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            errors["weekdays"] = "expected at least one of 0 (Monday) .. 6 (Sunday)"
        if not 0 <= self.hour_from < self.hour_to <= 24:
            errors["hours"] = f"expected 0 <= from < to <= 24, got {self.hour_from}-{self.hour_to}"
        if not 0 <= self.short_abandon_s <= 600:
            errors["short_abandon_s"] = "expected 0 to 600 seconds"
        if errors:
            raise ValidationError(errors)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=WARSAW)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time(0), tzinfo=WARSAW)

    def bucket(self, at: datetime | None) -> str | None:
        """The bucket key of a moment, None when the filter leaves it out."""
        if at is None:
            return None
        ts = at.timestamp()
        number = int(ts // 3600)
        info = self._hours.get(number)
        if info is None:
            # Warsaw is a whole number of hours from UTC: one UTC hour is one local hour.
            local = datetime.fromtimestamp(number * 3600, WARSAW)
            inside = (self.since <= local.date() <= self.until
                      and local.weekday() in self.weekdays
                      and self.hour_from <= local.hour < self.hour_to)
            info = (inside, local.date().isoformat(), local.strftime("%Y-%m-%d %H:"))
            self._hours[number] = info
        if not info[0]:
            return None
        if self.step == "day":
            return info[1]
        if self.step == "hour":
            return info[2] + "00"
        return info[2] + f"{int(ts - number * 3600) // 900 * 15:02d}"


@dataclass(frozen=True)
class CallRow:
    """What the reports read of one call."""

    queue: str | None
    queued_at: datetime | None
    connected_at: datetime | None
    wait_s: float | None
    left_queue_reason: str | None
    left_queue_at: datetime | None
    ended_at: datetime | None
    talk_s: float | None
    hold_s: float | None
    wrapped_up_at: datetime | None
    transferred: bool
    callback_requested_at: datetime | None
    callback_done_at: datetime | None
    callback_status: str | None
    language: str | None
    agent: str | None
    started_at: datetime
    self_service: bool


def ms(seconds: float) -> int:
    """Seconds as whole milliseconds (half to even, as PostgreSQL's round of a float8): the
    reports add durations up in integers, so a figure does not depend on the order its calls
    were added in (float sums do, in the last bit, and that can turn a rounding)."""
    return round(seconds * 1000)


@dataclass
class Tally:
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_answered_ms: int = 0
    waits: list[float] = field(default_factory=list)
    waits_ms: int = 0
    handled: int = 0
    talk_ms: int = 0
    hold_ms: int = 0
    wrapup_ms: int = 0
    transfers: int = 0
    callbacks_requested: int = 0
    callbacks_made: int = 0
    callbacks_reached: int = 0
    self_service: int = 0

    def totals(self) -> Totals:
        return Totals(
            offered=self.offered, answered=self.answered, answered_in_sl=self.answered_in_sl,
            abandoned=self.abandoned, short_abandoned=self.short_abandoned,
            wait_answered_ms=self.wait_answered_ms, waits=len(self.waits),
            waits_ms=self.waits_ms, p90_wait_s=p90(self.waits), handled=self.handled,
            talk_ms=self.talk_ms, hold_ms=self.hold_ms, wrapup_ms=self.wrapup_ms,
            transfers=self.transfers, callbacks_requested=self.callbacks_requested,
            callbacks_made=self.callbacks_made, callbacks_reached=self.callbacks_reached,
            self_service=self.self_service)


class Totals(NamedTuple):
    """A bucket's counts and sums (durations in whole milliseconds), as the fold
    (Tally.totals) or the database adds them up: everything a row of figures comes from (a
    tuple, like Figures: a month by 15 minutes makes ~15k of them)."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    wait_answered_ms: int = 0
    waits: int = 0  # answered and abandoned callers' waits: how many, their sum, their p90
    waits_ms: int = 0
    p90_wait_s: float | None = None
    handled: int = 0
    talk_ms: int = 0
    hold_ms: int = 0
    wrapup_ms: int = 0
    transfers: int = 0
    callbacks_requested: int = 0
    callbacks_made: int = 0
    callbacks_reached: int = 0
    self_service: int = 0


class Figures(NamedTuple):
    """One row of the queue report (a tuple: a month by 15 minutes is ~14k rows, and a frozen
    dataclass's field-by-field construction was a fifth of that report's time)."""

    bucket: str
    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    answered_in_sl: int
    service_level: float | None  # 0..1
    asa_s: float | None
    avg_wait_s: float | None
    p90_wait_s: float | None
    abandoned_pct: float | None
    aht_s: float | None
    talk_s: float | None  # mean per handled call, without hold
    hold_s: float | None
    wrapup_s: float | None
    transfers: int
    callbacks_requested: int
    callbacks_made: int
    callbacks_reached: int
    self_service: int


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile, nearest-rank (a value some caller really waited)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def figures(bucket: str, queue: str, t: Totals) -> Figures:
    # Written out flat (no helper per mean, positional): it runs ~14k times for a month by
    # 15 minutes, and the keyword-built row with a closure per call was a fifth of the report.
    (offered, answered, in_sl, abandoned, short, wait_answered_ms, waits, waits_ms, p90_wait,
     handled, talk_ms, hold_ms, wrapup_ms, transfers, requested, made, reached, self_served) = t
    counted = answered + abandoned - short
    settled = answered + abandoned
    return Figures(
        bucket, queue, offered, answered, abandoned, short, in_sl,
        round(in_sl / counted, 4) if counted else None,  # service level
        round(wait_answered_ms / answered / 1000, 1) if answered else None,  # ASA
        round(waits_ms / waits / 1000, 1) if waits else None,  # average wait
        round(p90_wait, 1) if p90_wait is not None else None,
        round(100 * abandoned / settled, 2) if settled else None,  # abandoned %
        round((talk_ms + hold_ms + wrapup_ms) / handled / 1000, 1) if handled else None,  # AHT
        round(talk_ms / handled / 1000, 1) if handled else None,
        round(hold_ms / handled / 1000, 1) if handled else None,
        round(wrapup_ms / handled / 1000, 1) if handled else None,
        transfers, requested, made, reached, self_served)


@dataclass(frozen=True)
class CallReport:
    filter: ReportFilter
    rows: tuple[Figures, ...]  # per bucket and queue (TOTAL for all queues), bucket order
    period: tuple[Figures, ...]  # bucket ALL: per queue, then TOTAL last
    languages: tuple[Figures, ...]  # bucket ALL, queue = the language ("?" unknown)

    def total(self) -> Figures:
        return self.period[-1]

    def queue(self, name: str) -> Figures | None:
        return next((f for f in self.period if f.queue == name), None)


def fold_calls(calls: Iterable[CallRow], flt: ReportFilter,
               sl_threshold_s: Mapping[str, float]) -> CallReport:
    tallies: dict[tuple[str, str], Tally] = {}
    by_language: dict[str, Tally] = {}

    targets: dict[tuple[str, str, str | None], list[Tally]] = {}

    def add(at: datetime | None, queue: str, language: str | None = None) -> list[Tally]:
        bucket = flt.bucket(at)
        if bucket is None:
            return []
        out = targets.get((bucket, queue, language))
        if out is None:
            out = [tallies.setdefault((b, q), Tally())
                   for b in (bucket, ALL) for q in ({queue, TOTAL} if queue else {TOTAL})]
            if language is not None:
                out.append(by_language.setdefault(language or "?", Tally()))
            targets[bucket, queue, language] = out
        return out

    for c in calls:
        queue = c.queue or ""
        lang = c.language or ""
        if c.queue and c.queued_at is not None:
            for t in add(c.queued_at, queue, lang):
                t.offered += 1
        if c.connected_at is not None and c.callback_requested_at is None and c.queue:
            wait = c.wait_s or 0.0
            in_sl = wait <= sl_threshold_s.get(queue, DEFAULT_SL_S)
            wrapup = ms(max(0.0, (c.wrapped_up_at - c.ended_at).total_seconds())
                        if c.wrapped_up_at is not None and c.ended_at is not None else 0.0)
            hold = c.hold_s or 0.0
            talk = ms(max(0.0, (c.talk_s or 0.0) - hold))
            for t in add(c.connected_at, queue, lang):
                t.answered += 1
                t.answered_in_sl += in_sl
                t.wait_answered_ms += ms(wait)
                t.waits.append(wait)
                t.waits_ms += ms(wait)
                t.transfers += c.transferred
                if c.ended_at is not None:
                    t.handled += 1
                    t.talk_ms += talk
                    t.hold_ms += ms(hold)
                    t.wrapup_ms += wrapup
        if c.left_queue_reason == "abandoned" and c.callback_requested_at is None:
            wait = c.wait_s or 0.0
            for t in add(c.left_queue_at, queue, lang):
                t.abandoned += 1
                t.short_abandoned += wait <= flt.short_abandon_s and flt.short_abandon_s > 0
                t.waits.append(wait)
                t.waits_ms += ms(wait)
        if c.callback_requested_at is not None:
            for t in add(c.callback_requested_at, queue):
                t.callbacks_requested += 1
            if c.callback_status in ("reached", "failed"):
                for t in add(c.callback_done_at, queue):
                    t.callbacks_made += 1
                    t.callbacks_reached += c.callback_status == "reached"
        if c.self_service:
            for t in add(c.started_at, ""):
                t.self_service += 1

    return call_report(flt, {key: t.totals() for key, t in tallies.items()},
                       {lang: t.totals() for lang, t in by_language.items()})


def call_report(flt: ReportFilter, totals: Mapping[tuple[str, str], Totals],
                by_language: Mapping[str, Totals]) -> CallReport:
    """The report from each (bucket, queue)'s totals (ALL: the period, TOTAL: all queues) and
    each language's: the rows in bucket order, queues by name and the total last."""
    queues = sorted({q for _, q in totals} - {TOTAL})
    rows = tuple(figures(b, q, totals[b, q])
                 for b in sorted({b for b, _ in totals} - {ALL})
                 for q in (*queues, TOTAL) if (b, q) in totals)
    period = tuple(figures(ALL, q, totals.get((ALL, q), Totals())) for q in (*queues, TOTAL))
    languages = tuple(figures(ALL, lang, t) for lang, t in sorted(by_language.items()))
    return CallReport(flt, rows, period, languages)


# --- agents


@dataclass(frozen=True)
class StateRow:
    agent: str
    at: datetime
    state: str
    reason: str
    call_id: str | None


@dataclass(frozen=True)
class AgentFigures:
    agent: str
    logged_in_s: float
    by_state_s: dict[str, float]  # state → seconds (offline left out)
    by_pause_reason_s: dict[str, float]
    handled: int
    aht_s: float | None
    unanswered_offers: int


@dataclass(frozen=True)
class HourRow:
    """An agent's seconds in one state (and pause reason) over the filter's hours, from
    agent_state_hours; `hour` is the first of them."""

    agent: str
    hour: datetime
    state: str
    reason: str
    seconds: float
    unanswered: int


def handled_by_agent(calls: Iterable[CallRow], flt: ReportFilter) -> dict[str, tuple[int, int]]:
    """Each consultant's calls handled in the filter (connected, ended, not a callback) and
    their milliseconds of talk + wrap-up."""
    handled: dict[str, tuple[int, int]] = {}
    for c in calls:
        if (c.agent and c.connected_at is not None and c.ended_at is not None
                and c.callback_requested_at is None and flt.bucket(c.connected_at) is not None):
            wrapup = (max(0.0, (c.wrapped_up_at - c.ended_at).total_seconds())
                      if c.wrapped_up_at is not None else 0.0)
            n, total = handled.get(c.agent, (0, 0))
            handled[c.agent] = (n + 1, total + ms(c.talk_s or 0.0) + ms(wrapup))
    return handled


def fold_agents(hours: Iterable[HourRow], current: Sequence[StateRow],
                handled: Mapping[str, tuple[int, int]], flt: ReportFilter,
                now: datetime) -> tuple[AgentFigures, ...]:
    """Time in each state from the hourly totals of the period's hours (a state ends when the
    agent's next begins), plus each agent's current state from when it began until `now`;
    an unanswered offer is a `reserved` spell that did not become `on_call` for the same call."""
    spent: dict[str, dict[str, float]] = {}
    paused: dict[str, dict[str, float]] = {}
    unanswered: dict[str, int] = {}

    def add(agent: str, state: str, reason: str, seconds: float) -> None:
        mine = spent.setdefault(agent, {})
        mine[state] = mine.get(state, 0.0) + seconds
        if state == "paused":
            reasons = paused.setdefault(agent, {})
            reasons[reason or "-"] = reasons.get(reason or "-", 0.0) + seconds

    for h in hours:  # already the filter's (hour_rows)
        if h.seconds > 0:
            add(h.agent, h.state, h.reason, h.seconds)
        if h.unanswered:
            unanswered[h.agent] = unanswered.get(h.agent, 0) + h.unanswered
    for row in current:
        if row.state != "offline" and (seconds := _seconds_in(row.at, now, flt)) > 0:
            add(row.agent, row.state, row.reason, seconds)
    agents = sorted(set(spent) | set(handled) | set(unanswered))
    return tuple(
        AgentFigures(
            agent=a,
            logged_in_s=round(sum(spent.get(a, {}).values()), 1),
            by_state_s={s: round(v, 1) for s, v in sorted(spent.get(a, {}).items())},
            by_pause_reason_s={r: round(v, 1) for r, v in sorted(paused.get(a, {}).items())},
            handled=handled.get(a, (0, 0))[0],
            aht_s=round(hs[1] / hs[0] / 1000, 1) if (hs := handled.get(a)) and hs[0] else None,
            unanswered_offers=unanswered.get(a, 0),
        )
        for a in agents
    )


def _seconds_in(start: datetime, end: datetime, flt: ReportFilter) -> float:
    """Seconds of [start, end) inside the filter's days, weekdays and hours."""
    start, end = max(start, flt.start), min(end, flt.end)
    total = 0.0
    cursor = start
    while cursor < end:
        local = cursor.astimezone(WARSAW)
        hour_end = (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        step_end = min(end, hour_end.astimezone(cursor.tzinfo or WARSAW))
        if local.weekday() in flt.weekdays and flt.hour_from <= local.hour < flt.hour_to:
            total += (step_end - cursor).total_seconds()
        cursor = step_end
    return total


# --- queries


def sl_thresholds(db: Database) -> dict[str, float]:
    with db.reading() as session:
        return {name: float(s) for name, s in session.execute(
            sa.select(Queue.name, Queue.sl_threshold_s))}


def call_rows(db: Database, since: datetime, until: datetime) -> list[CallRow]:
    """Phone calls that started in [since − a day, until): every figure of [since, until)."""
    i = Interaction
    step = IvrPathStep
    self_served = sa.and_(
        i.queued_at.is_(None),
        sa.exists().where(step.interaction_id == i.id,
                          sa.or_(*(step.node.startswith(p, autoescape=True)  # "_" is a letter
                                  for p in SELF_SERVICE_PREFIXES))))

    def moment(column: Any) -> Any:
        # PostgreSQL hands back aware datetimes already; converting each to UTC (the models'
        # UtcDateTime) was a third of a month's report. SQLite's text needs the conversion.
        if db.dialect == "postgresql":
            return sa.type_coerce(column, sa.DateTime(timezone=True))
        return column

    query = sa.select(
        i.queue, moment(i.queued_at), moment(i.connected_at), i.wait_s, i.left_queue_reason,
        moment(i.left_queue_at), moment(i.ended_at), i.talk_s, i.hold_s,
        moment(i.wrapped_up_at), i.transferred_to.is_not(None), moment(i.callback_requested_at),
        moment(i.callback_done_at), i.callback_status, i.language, i.agent_username,
        moment(i.started_at), self_served,
    ).where(i.channel == "phone", i.started_at >= since - LOOKBACK, i.started_at < until)
    with db.reading() as session:
        # Through the session's connection (Core), not the ORM's row loading: a month is tens
        # of thousands of plain rows, and the ORM's per-row work was most of their cost.
        rows: list[tuple[Any, ...]] = [tuple(row) for row in session.connection().execute(query)]
    return [CallRow(*row) for row in rows]


def hour_rows(db: Database, flt: ReportFilter) -> list[HourRow]:
    """The agents' hourly totals of the filter's days, weekdays and hours, summed per agent,
    state and reason by the database (a month of a center is tens of thousands of hours)."""
    h = AgentStateHour
    query = (sa.select(h.agent, h.state, h.reason, sa.func.sum(h.seconds),
                       sa.func.sum(h.unanswered))
             .where(h.hour >= flt.start, h.hour < flt.end,
                    h.hour_of_day >= flt.hour_from, h.hour_of_day < flt.hour_to)
             .group_by(h.agent, h.state, h.reason))
    if flt.weekdays != frozenset(range(7)):
        query = query.where(h.weekday.in_(sorted(flt.weekdays)))
    with db.reading() as session:
        return [HourRow(a, flt.start, state, reason, float(seconds or 0), int(unanswered or 0))
                for a, state, reason, seconds, unanswered in session.execute(query)]


def current_states(db: Database) -> list[StateRow]:
    """Each agent's latest state change: the state they are in now (not in the hourly totals
    until it ends). Per user one probe of ix_agent_state_log_agent_at, not a scan of a year of
    changes."""
    log = AgentStateLog
    last_at = (sa.select(sa.func.max(log.at)).where(log.agent == User.username)
               .scalar_subquery())
    with db.reading() as session:
        latest = [(agent, at) for agent, at in session.execute(
            sa.select(User.username, last_at)) if at is not None]
        if not latest:
            return []
        rows = session.execute(
            sa.select(log.agent, log.at, log.state, log.reason, log.call_id)
            .where(sa.tuple_(log.agent, log.at).in_(latest))
            .order_by(log.agent, log.id)).all()
    found: dict[str, StateRow] = {}
    for a, at, s, r, c in rows:  # two changes at the same moment: the later one
        found[a] = StateRow(a, at, s, r or "", c)
    return list(found.values())


@dataclass(frozen=True)
class ContactCenterReport:
    calls: CallReport
    agents: tuple[AgentFigures, ...]


def contact_center_report(db: Database, flt: ReportFilter, *, now: datetime) -> ContactCenterReport:
    """On PostgreSQL the database narrows the period's calls to columns and numpy adds them up
    (reports_calls_sql, reports_calls_columns); elsewhere the period's calls are read and
    folded here. Both give the same figures (tested on the same data)."""
    if db.dialect == "postgresql":
        # The agents' hours are read on a connection of their own while the calls are added
        # up: a month's hourly totals are tens of thousands of rows to sum, the other core's.
        with _collector_paused(), ThreadPoolExecutor(max_workers=1) as pool:
            hours = pool.submit(hour_rows, db, flt)
            states = pool.submit(current_states, db)
            report, handled = database_report_and_handled(db, flt)
            hours_found, states_found = hours.result(), states.result()
    else:
        report, handled = folded_report_and_handled(db, flt)
        hours_found, states_found = hour_rows(db, flt), current_states(db)
    agents = fold_agents(hours_found, states_found, handled, flt, now)
    return ContactCenterReport(report, agents)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a report's rows are made (back on afterwards if it
    was on). A month by 15 minutes makes ~14k rows of figures (and the lists of values they
    are zipped from), objects that hold no cycles, yet each few hundred new ones set off a
    collection, and every so often a full one walks the whole process's heap: in
    bench.reports_bench, where the fold's report runs in turns in the same process, those
    pauses were the p99's tail. Another thread's collections wait too (the collector is the
    process's), until this report is made."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def database_report_and_handled(db: Database, flt: ReportFilter
                                ) -> tuple[CallReport, dict[str, tuple[int, int]]]:
    """PostgreSQL narrows the period's calls (reports_calls_sql), numpy adds them up
    (reports_calls_columns) and the sums become figures here, column by column."""
    added = reports_calls_sql.added_up(db, reports_calls_sql.Query(
        calls_since=flt.start - LOOKBACK, start=flt.start, end=flt.end, step=flt.step,
        weekdays=tuple(sorted(flt.weekdays)), hour_from=flt.hour_from, hour_to=flt.hour_to,
        short_abandon_s=flt.short_abandon_s, default_sl_s=DEFAULT_SL_S,
        self_service_prefixes=SELF_SERVICE_PREFIXES))
    return columns_report(flt, added), added.handled


def columns_report(flt: ReportFilter, added: reports_calls_sql.Added) -> CallReport:
    """The report of `call_report` from the groupings' tables: the same rows in the same
    order (buckets in time order, queues by name, the total last), their figures worked out
    for all rows at once (figure_rows)."""
    t = added.tables
    width = len(added.queues) + 1
    # The queues that have a figure, by name; a queue's cell's place in that order, the
    # total (cell 0 of the rows' order) after them.
    named = sorted((added.queues[cell - 1], int(cell))
                   for cell in np.flatnonzero(t["queue"].present))
    place = np.zeros(width, dtype=np.int64)
    place[[cell for _, cell in named]] = np.arange(len(named))
    place[0] = len(named)
    bucket_queue = np.flatnonzero(t["bucket_queue"].present)
    buckets = np.flatnonzero(t["bucket"].present)
    cells = _joined(_picked(t["bucket_queue"], bucket_queue), _picked(t["bucket"], buckets))
    bucket_of = np.concatenate((bucket_queue // width, buckets))
    queue_of = np.concatenate((bucket_queue % width, np.zeros(len(buckets), dtype=np.int64)))
    order = np.argsort(bucket_of * (width + 1) + place[queue_of], kind="stable")
    keys = np.array(added.bucket_keys, dtype=object)
    queue_names = np.array([TOTAL, *added.queues], dtype=object)
    rows = figure_rows(keys[bucket_of[order]].tolist(), queue_names[queue_of[order]].tolist(),
                       _picked(cells, order))
    by_queue = [cell for _, cell in named]
    period = figure_rows([ALL] * (len(named) + 1), [*(name for name, _ in named), TOTAL],
                         _joined(_picked(t["queue"], np.array(by_queue, dtype=np.int64)),
                                 _picked(t["period"], np.zeros(1, dtype=np.int64))))
    spoken = sorted((added.languages[cell - 1], int(cell))
                    for cell in np.flatnonzero(t["language"].present))
    languages = figure_rows([ALL] * len(spoken), [lang for lang, _ in spoken],
                            _picked(t["language"], np.array([c for _, c in spoken], dtype=np.int64)))
    return CallReport(flt, tuple(rows), tuple(period), tuple(languages))


def _picked(t: reports_calls_columns.Table, cells: NDArray[np.int64]) -> reports_calls_columns.Table:
    return reports_calls_columns.Table._make(column[cells] for column in t)


def _joined(a: reports_calls_columns.Table, b: reports_calls_columns.Table
            ) -> reports_calls_columns.Table:
    return reports_calls_columns.Table._make(np.concatenate((x, y)) for x, y in zip(a, b, strict=True))


def figure_rows(buckets: list[str], queues: list[str], t: reports_calls_columns.Table
                ) -> list[Figures]:
    """`figures` of every row of a table at once: the same divisions in float64 (numpy's
    are IEEE's, as Python's) and the same rounding (_rounded)."""
    counted = t.answered + t.abandoned - t.short_abandoned
    handled_ms = t.talk_ms + t.hold_ms + t.wrapup_ms
    columns: list[list[Any]] = [
        buckets, queues, t.offered.tolist(), t.answered.tolist(), t.abandoned.tolist(),
        t.short_abandoned.tolist(), t.answered_in_sl.tolist(),
        _rounded(_ratio(t.answered_in_sl, counted), counted > 0, 4),  # service level
        _rounded(_ratio(t.wait_answered_ms, t.answered) / 1000, t.answered > 0, 1),  # ASA
        _rounded(_ratio(t.waits_ms, t.waits) / 1000, t.waits > 0, 1),  # average wait
        _rounded(t.p90_wait_s, t.waits > 0, 1),
        _rounded(_ratio(100 * t.abandoned, t.answered + t.abandoned),
                 t.answered + t.abandoned > 0, 2),  # abandoned %
        _rounded(_ratio(handled_ms, t.handled) / 1000, t.handled > 0, 1),  # AHT
        _rounded(_ratio(t.talk_ms, t.handled) / 1000, t.handled > 0, 1),
        _rounded(_ratio(t.hold_ms, t.handled) / 1000, t.handled > 0, 1),
        _rounded(_ratio(t.wrapup_ms, t.handled) / 1000, t.handled > 0, 1),
        t.transfers.tolist(), t.callbacks_requested.tolist(), t.callbacks_made.tolist(),
        t.callbacks_reached.tolist(), t.self_service.tolist()]
    return list(map(Figures._make, zip(*columns, strict=True)))


def _ratio(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float64]:
    """a / b as Python's int / int gives it (both exact in float64 here, one IEEE division),
    0 where b is 0."""
    out = np.zeros(len(a), dtype=np.float64)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _rounded(x: NDArray[np.float64], has: NDArray[np.bool_], digits: int) -> list[float | None]:
    """round(value, digits) of each value (None where `has` is false), as Python rounds a
    float: its exact binary value to the nearest multiple of 10**-digits, halves to even,
    then the float nearest that. Scaled by 10**digits, rounded to an integer k, k / 10**digits
    is that float; only where the scaled value is within a few units in its last place of a
    half (x·10**digits may be rounded across one) Python's round decides."""
    scale = 10.0 ** digits
    y = x * scale
    k = np.rint(y)
    out = k / scale
    doubt = np.abs(np.abs(y - k) - 0.5) <= 4 * np.spacing(np.abs(y))
    for i in np.flatnonzero(doubt & has).tolist():
        out[i] = round(float(x[i]), digits)
    values: list[float | None] = out.tolist()
    if not has.all():
        for i in np.flatnonzero(~has).tolist():
            values[i] = None
    return values


def folded_report_and_handled(db: Database, flt: ReportFilter
                              ) -> tuple[CallReport, dict[str, tuple[int, int]]]:
    """The straightforward way: every call of the period read and folded in Python."""
    calls = call_rows(db, flt.start, flt.end)
    return fold_calls(calls, flt, sl_thresholds(db)), handled_by_agent(calls, flt)
