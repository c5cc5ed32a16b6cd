"""The contact-center report's sums from the period's calls as columns (numpy arrays).

Rules: pure (columns in, sums out). The definitions are reports_calls' (its docstring states
them) and every sum equals what `reports_calls.fold_calls` adds up from the same calls (tested
on the same data, tests/crm/test_reports_calls.py): each kind of figure lands in the bucket of
its own moment, which the database has already worked out per call (reports_calls_sql: -1 when
the call has no such figure or the filter leaves its moment out), and is added up per bucket
and queue, per bucket, per queue, over the period and per language — the groupings of
`GROUPINGS`. The p90 wait is the nearest rank (the ⌈0.9·n⌉-th smallest wait, as
`reports_calls.p90`).

Why columns and not GROUPING SETS in PostgreSQL (which this replaced): by 15 minutes a month
makes ~14k groups out of ~30k calls, and there the database's work is per group — a sort for
each group's p90, the five groupings' sums, the kinds' groups joined side by side — ~150 ms
beyond reading the calls (README, Benchmarks). Here each grouping is a few passes of C over
~30k numbers (np.bincount; for the p90s the waits sorted once, then one stable sort by cell per
grouping), whatever the number of groups, and no Python object is made per call: the calls
come as arrays, one per column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

# A call's yes/no figures, as bits of CallColumns.flags.
IN_SL = 1  # waited within its queue's service-level threshold
ENDED = 2  # the call has ended (its talk, hold and wrap-up count)
TRANSFERRED = 4
REACHED = 8  # a callback that reached the caller

GROUPINGS = ("bucket_queue", "bucket", "queue", "period", "language")

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class CallColumns:
    """The period's calls that have a figure in it, one element per call. Buckets are numbers
    (reports_calls_sql's keys), -1 for none; queues and languages are 1-based positions in
    the lists the caller keeps (queue 0: none)."""

    offered: Ints  # bucket of joining a queue
    answered: Ints  # of connecting to a consultant (not a callback)
    abandoned: Ints  # of hanging up in the queue (not after asking for a callback)
    requested: Ints  # of asking for a callback
    made: Ints  # of the callback's last attempt (reached or failed)
    served: Ints  # of starting, for a call served by the IVR alone
    queue: Ints
    language: Ints
    wait: NDArray[np.float64]  # seconds
    wait_ms: Ints
    talk_ms: Ints  # connect → hang-up less hold
    hold_ms: Ints
    wrapup_ms: Ints
    flags: Ints  # IN_SL | ENDED | TRANSFERRED | REACHED


class Table(NamedTuple):
    """A grouping's sums, one element per cell (dense: every bucket and queue of the period,
    `present` telling which have a figure), in the order of reports_calls.Totals' fields."""

    present: NDArray[np.bool_]
    offered: Ints
    answered: Ints
    answered_in_sl: Ints
    abandoned: Ints
    short_abandoned: Ints
    wait_answered_ms: Ints
    waits: Ints  # answered and abandoned callers' waits: how many, their sum, their p90
    waits_ms: Ints
    p90_wait_s: NDArray[np.float64]  # 0 where there are no waits
    handled: Ints
    talk_ms: Ints
    hold_ms: Ints
    wrapup_ms: Ints
    transfers: Ints
    callbacks_requested: Ints
    callbacks_made: Ints
    callbacks_reached: Ints
    self_service: Ints


@dataclass(frozen=True)
class _Kind:
    """Calls of one kind of figure: their bucket, queue and language."""

    bucket: Ints
    queue: Ints
    language: Ints
    groupings: tuple[str, ...]


def add_up(c: CallColumns, *, buckets: int, queues: int, languages: int,
           short_abandon_s: float) -> dict[str, Table]:
    """Each grouping's table: "bucket_queue" (cell bucket × (queues + 1) + queue position),
    "bucket", "queue" (cell: the queue's position, 0 unused), "period" (one cell) and
    "language" (the language's position, 0 unused)."""
    answered = (c.answered >= 0) & (c.queue > 0)
    abandoned = c.abandoned >= 0
    flags = c.flags[answered]
    ended = (flags & ENDED) != 0
    answers = _Kind(c.answered[answered], c.queue[answered], c.language[answered], GROUPINGS)
    abandons = _Kind(c.abandoned[abandoned], c.queue[abandoned], c.language[abandoned],
                     GROUPINGS)
    # What each answered / abandoned caller adds (as float64 weights for bincount).
    answered_adds = [((flags & IN_SL) != 0), c.wait_ms[answered], ended,
                     np.where(ended, c.talk_ms[answered], 0), np.where(ended, c.hold_ms[answered], 0),
                     np.where(ended, c.wrapup_ms[answered], 0), (flags & TRANSFERRED) != 0]
    short = (c.wait[abandoned] <= short_abandon_s) if short_abandon_s > 0 \
        else np.zeros(int(abandoned.sum()), dtype=bool)
    abandoned_adds = [short, c.wait_ms[abandoned]]
    # Both's waits (and their p90s) in one stream, in order of wait once: each grouping's p90
    # then needs only a stable sort by its cells.
    wait = np.concatenate((c.wait[answered], c.wait[abandoned]))
    by_wait = np.argsort(wait, kind="stable")
    wait = wait[by_wait]
    offered = c.offered >= 0
    requested = c.requested >= 0
    made = c.made >= 0
    served = c.served >= 0

    def none(mask: NDArray[np.bool_]) -> Ints:
        return np.zeros(int(mask.sum()), dtype=np.int64)

    # Callbacks and self-service have no language (nor has the fold's), self-service no queue.
    offers = _Kind(c.offered[offered], c.queue[offered], c.language[offered], GROUPINGS)
    requests = _Kind(c.requested[requested], c.queue[requested], none(requested), GROUPINGS[:4])
    callbacks = _Kind(c.made[made], c.queue[made], none(made), GROUPINGS[:4])
    self_served = _Kind(c.served[served], none(served), none(served), ("bucket", "period"))
    reached = ((c.flags[made] & REACHED) != 0).astype(np.int64)

    width = queues + 1
    sizes = {"bucket_queue": buckets * width, "bucket": buckets, "queue": width, "period": 1,
             "language": languages + 1}
    tables: dict[str, Table] = {}
    for grouping in GROUPINGS:
        size = sizes[grouping]
        key, keep = _cells(grouping, answers, width)
        answered_n = _count(key, keep, size)
        in_sl, answered_wait_ms, handled, talk_ms, hold_ms, wrapup_ms, transfers = (
            _sum(key, keep, values, size) for values in answered_adds)
        key_x, keep_x = _cells(grouping, abandons, width)
        abandoned_n = _count(key_x, keep_x, size)
        shorts, abandoned_wait_ms = (_sum(key_x, keep_x, values, size) for values in abandoned_adds)
        waits = answered_n + abandoned_n
        p90 = _p90(np.concatenate((key, key_x))[by_wait],
                   None if keep is None or keep_x is None
                   else np.concatenate((keep, keep_x))[by_wait], wait, waits, size)
        offers_n = _counted(grouping, offers, width, size)
        requests_n = _counted(grouping, requests, width, size)
        made_n = _counted(grouping, callbacks, width, size)
        served_n = _counted(grouping, self_served, width, size)
        if grouping in callbacks.groupings:
            k, kk = _cells(grouping, callbacks, width)
            reached_n = _sum(k, kk, reached, size)
        else:
            reached_n = np.zeros(size, dtype=np.int64)
        present = (waits > 0) | (offers_n > 0) | (requests_n > 0) | (made_n > 0) | (served_n > 0)
        tables[grouping] = Table(present, offers_n, answered_n, in_sl, abandoned_n, shorts,
                                 answered_wait_ms, waits, answered_wait_ms + abandoned_wait_ms,
                                 p90, handled, talk_ms, hold_ms, wrapup_ms, transfers, requests_n,
                                 made_n, reached_n, served_n)
    return tables


def _counted(grouping: str, kind: _Kind, width: int, size: int) -> Ints:
    if grouping not in kind.groupings:
        return np.zeros(size, dtype=np.int64)
    key, keep = _cells(grouping, kind, width)
    return _count(key, keep, size)


def _cells(grouping: str, kind: _Kind, width: int) -> tuple[Ints, NDArray[np.bool_] | None]:
    """Each call's cell in the grouping, and which calls have one (None: all): a call without
    a queue is in no queue's group, but in the bucket's, the period's and its language's."""
    if grouping == "bucket_queue":
        return kind.bucket * width + kind.queue, kind.queue > 0
    if grouping == "bucket":
        return kind.bucket, None
    if grouping == "queue":
        return kind.queue, kind.queue > 0
    if grouping == "period":
        return np.zeros(len(kind.bucket), dtype=np.int64), None
    return kind.language, None


def _count(key: Ints, keep: NDArray[np.bool_] | None, size: int) -> Ints:
    return np.bincount(key if keep is None else key[keep], minlength=size).astype(np.int64)


def _sum(key: Ints, keep: NDArray[np.bool_] | None, values: NDArray[Any], size: int) -> Ints:
    # bincount adds in float64: exact for integers below 2**53 (ten years of milliseconds
    # of a large center's talk are far below), then back to integers.
    if keep is not None:
        key, values = key[keep], values[keep]
    return np.bincount(key, weights=values.astype(np.float64), minlength=size).astype(np.int64)


def _p90(key: Ints, keep: NDArray[np.bool_] | None, wait: NDArray[np.float64], counts: Ints,
         size: int) -> NDArray[np.float64]:
    """Each cell's nearest-rank 90th percentile of the waits (0 where it has none): the waits
    (already in order of length) sorted by cell, keeping that order within a cell; the
    ⌈0.9·n⌉-th of each cell's run."""
    if keep is not None:
        key, wait = key[keep], wait[keep]
    out = np.zeros(size, dtype=np.float64)
    if len(key) == 0:
        return out
    ordered = wait[np.argsort(key, kind="stable")]
    starts = np.cumsum(counts) - counts
    rank = np.maximum(np.ceil(0.9 * counts).astype(np.int64) - 1, 0)
    has = counts > 0
    out[has] = ordered[(starts + rank)[has]]
    return out
