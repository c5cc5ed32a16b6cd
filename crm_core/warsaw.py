"""Warsaw facts the CRM validates against: the 18 districts (dzielnice), the city's extent, and
the working calendar that deadlines run in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ground.holidays import polish_holidays

DISTRICTS = (
    "Bemowo", "Białołęka", "Bielany", "Mokotów", "Ochota", "Praga-Południe", "Praga-Północ",
    "Rembertów", "Śródmieście", "Targówek", "Ursus", "Ursynów", "Wawer", "Wesoła", "Wilanów",
    "Włochy", "Wola", "Żoliborz",
)  # fmt: skip

# A generous box around the city: a point outside it is a typo, not a Warsaw street.
LAT_RANGE = (52.0, 52.5)
LON_RANGE = (20.7, 21.4)

# The city's working calendar: offices work Monday to Friday, 08:00–16:00 Warsaw time, not on
# the Polish public holidays. Deadlines (SLA) run only inside these hours.
TIMEZONE = ZoneInfo("Europe/Warsaw")
WORKDAY_START = time(8, 0)
WORKDAY_END = time(16, 0)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in polish_holidays(day.year)


def _day_window(day: date) -> tuple[datetime, datetime]:
    return (datetime.combine(day, WORKDAY_START, TIMEZONE),
            datetime.combine(day, WORKDAY_END, TIMEZONE))


def add_working_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` working hours after `start` (aware), in UTC. Time outside working
    hours does not count: a case forwarded on Friday at 15:00 with 2 hours is due on Monday at
    09:00 (or later after a holiday)."""
    if start.tzinfo is None:
        raise ValueError("add_working_hours needs an aware datetime")
    left = timedelta(hours=hours)
    local = start.astimezone(TIMEZONE)
    day = local.date()
    for _ in range(3660):  # ten years of days: more than any deadline
        if is_working_day(day):
            opens, closes = _day_window(day)
            begin = max(opens, local)
            if begin < closes:
                available = closes - begin
                if left <= available:
                    return (begin + left).astimezone(UTC)
                left -= available
        day += timedelta(days=1)
        local = datetime.combine(day, time(0, 0), TIMEZONE)
    raise ValueError(f"{hours} working hours is beyond the calendar")


def working_hours_before(end: datetime, hours: float) -> datetime:
    """The latest moment from which `hours` working hours have passed by `end` (aware), in
    UTC: `working_hours_between(t, end) >= hours` exactly for t at or before it. So "late by
    8 working hours" is one comparison of a deadline with a moment, which the database can do
    for every case at once."""
    if end.tzinfo is None:
        raise ValueError("working_hours_before needs an aware datetime")
    left = timedelta(hours=hours)
    local = end.astimezone(TIMEZONE)
    day = local.date()
    for _ in range(3660):
        if is_working_day(day):
            opens, closes = _day_window(day)
            finish = min(closes, local)
            if finish > opens:
                available = finish - opens
                if left <= available:
                    return (finish - left).astimezone(UTC)
                left -= available
        day -= timedelta(days=1)
        local = datetime.combine(day + timedelta(days=1), time(0, 0), TIMEZONE)
    raise ValueError(f"{hours} working hours is beyond the calendar")


def working_hours_between(start: datetime, end: datetime) -> float:
    """Working hours from `start` to `end` (negative when `end` is earlier)."""
    if end < start:
        return -working_hours_between(end, start)
    total = timedelta()
    local, last = start.astimezone(TIMEZONE), end.astimezone(TIMEZONE)
    day = local.date()
    while day <= last.date():
        if is_working_day(day):
            opens, closes = _day_window(day)
            begin, finish = max(opens, local), min(closes, last)
            if finish > begin:
                total += finish - begin
        day += timedelta(days=1)
    return total.total_seconds() / 3600


def local_date(moment: datetime) -> date:
    return moment.astimezone(TIMEZONE).date()
