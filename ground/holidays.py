"""Public holidays for `branch` nodes (`holiday: true`): the Polish statutory calendar plus the
script's own dates. Pure: the date is passed in."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache


def easter(year: int) -> date:
    """Western Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month = (h + ell - 7 * m + 114) // 31
    day = (h + ell - 7 * m + 114) % 31 + 1
    return date(year, month, day)


@cache
def polish_holidays(year: int) -> frozenset[date]:
    e = easter(year)
    days = {
        date(year, 1, 1), date(year, 1, 6), e, e + timedelta(days=1), date(year, 5, 1),
        date(year, 5, 3), e + timedelta(days=49), e + timedelta(days=60), date(year, 8, 15),
        date(year, 11, 1), date(year, 11, 11), date(year, 12, 25), date(year, 12, 26),
    }
    if year >= 2025:  # Christmas Eve is a public holiday from 2025 on
        days.add(date(year, 12, 24))
    return frozenset(days)


def is_holiday(day: date, calendar: str, extra: Iterable[date] = ()) -> bool:
    if day in set(extra):
        return True
    return calendar == "pl" and day in polish_holidays(day.year)
