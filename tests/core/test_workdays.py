"""Working days: weekends, public holidays and make-up working days (调休)."""

from __future__ import annotations

import datetime

import pytest

from tongban.core.models import CalendarDay
from tongban.core.workdays import add_working_days, is_working_day, working_days_between

pytestmark = pytest.mark.django_db
D = datetime.date


def test_shipped_schedule_is_loaded():
    assert not is_working_day(D(2026, 10, 1))  # National Day, a Thursday
    assert is_working_day(D(2026, 10, 10))  # Saturday worked in exchange
    assert not is_working_day(D(2026, 11, 21))  # an ordinary Saturday
    assert is_working_day(D(2026, 11, 20))  # an ordinary Friday


def test_ten_working_days_over_national_day():
    # Asked on Wed 30 Sep 2026: the holiday week does not count, Sat 10 Oct does.
    # 8, 9, 10 (Sat, worked), 12–16, 19, 20 October.
    assert add_working_days(D(2026, 9, 30), 10) == D(2026, 10, 20)


def test_ten_working_days_in_an_ordinary_fortnight():
    assert add_working_days(D(2026, 11, 2), 10) == D(2026, 11, 16)


def test_between_counts_after_start_up_to_end():
    assert working_days_between(D(2026, 11, 2), D(2026, 11, 16)) == 10
    assert working_days_between(D(2026, 11, 16), D(2026, 11, 2)) == 0


def test_bureau_edit_takes_effect_at_once():
    day = D(2026, 12, 31)  # a Thursday
    assert is_working_day(day)
    CalendarDay.objects.create(date=day, kind=CalendarDay.Kind.HOLIDAY, name="test")
    assert not is_working_day(day)
    CalendarDay.objects.filter(date=day).delete()
    assert is_working_day(day)


def test_negative_days_rejected():
    with pytest.raises(ValueError):
        add_working_days(D(2026, 1, 5), -1)
