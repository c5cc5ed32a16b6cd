"""The report's figures worked out column by column (reports_calls.figure_rows, on PostgreSQL's
path) round as Python's round does, halves and floats just off them included; the sums of
reports_calls_columns are checked against the fold in tests/crm/test_reports_calls.py."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from crm_core.services import reports_calls as rc
from crm_core.services import reports_calls_columns as cols


def rounded(values: list[float], digits: int) -> list[float | None]:
    x = np.array(values, dtype=np.float64)
    return rc._rounded(x, np.ones(len(x), dtype=bool), digits)


def test_halves_and_floats_just_off_them_round_as_python_rounds() -> None:
    values = [0.25, 0.35, 0.45, 2.675, 1.005, 0.125, 12.25, 0.05, 0.15, 1234.45, 0.0, 59.95,
              0.1 + 0.2, 2 / 3, 1e-9, 0.99995, 0.00005, 0.33335, 3.0]
    for digits in (1, 2, 4):
        assert rounded(values, digits) == [round(v, digits) for v in values], digits


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), max_size=50),
       st.sampled_from([1, 2, 4]))
def test_any_float_rounds_as_python_rounds(values: list[float], digits: int) -> None:
    assert rounded(values, digits) == [round(v, digits) for v in values]


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 5000)), min_size=1, max_size=40))
def test_a_ratio_and_its_rounding_are_pythons(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    got = rc._rounded(rc._ratio(a, b) / 1000, b > 0, 1)
    assert got == [round(x / y / 1000, 1) if y else None for x, y in pairs]


def test_no_calls_make_an_empty_report_with_a_zero_total() -> None:
    empty = np.zeros(0, dtype=np.int64)
    c = cols.CallColumns(empty, empty, empty, empty, empty, empty, empty, empty,
                         np.zeros(0, dtype=np.float64), empty, empty, empty, empty, empty)
    tables = cols.add_up(c, buckets=3, queues=0, languages=0, short_abandon_s=0)
    assert not any(t.present.any() for t in tables.values())
    flt = rc.ReportFilter(date(2026, 11, 1), date(2026, 11, 1))
    report = rc.columns_report(flt, rc.reports_calls_sql.Added(tables, ["a", "b", "c"], [], [], {}))
    assert report.rows == () and report.languages == ()
    assert report.period == (rc.figures(rc.ALL, rc.TOTAL, rc.Totals()),)
