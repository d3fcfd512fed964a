"""Working-day arithmetic for statutory deadlines (10 working days to answer an access request,
promised time limits of service items). Weekends are off unless listed as make-up working days
(调休); weekdays are on unless listed as public holidays — both in ``CalendarDay``."""

from __future__ import annotations

import datetime
import time
from functools import lru_cache

from tongban.core.models import CalendarDay

CACHE_SECONDS = 300  # other worker processes see a calendar edit within five minutes


@lru_cache(maxsize=1)
def _exceptions_cached(_version: int, _period: int) -> tuple[frozenset[datetime.date], frozenset[datetime.date]]:
    holidays, workdays = set(), set()
    for date, kind in CalendarDay.objects.values_list("date", "kind"):
        (holidays if kind == CalendarDay.Kind.HOLIDAY else workdays).add(date)
    return frozenset(holidays), frozenset(workdays)


_version = 0


def calendar_changed(**_kwargs) -> None:
    """Drop the cached calendar (connected to CalendarDay's save/delete signals)."""
    global _version
    _version += 1


def _exceptions():
    return _exceptions_cached(_version, int(time.monotonic() // CACHE_SECONDS))


def is_working_day(day: datetime.date) -> bool:
    holidays, workdays = _exceptions()
    if day in workdays:
        return True
    if day in holidays:
        return False
    return day.weekday() < 5


def add_working_days(start: datetime.date, days: int) -> datetime.date:
    """The date ``days`` working days after ``start`` (the start day itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += datetime.timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count = 0
    current = start
    while current < end:
        current += datetime.timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count
