"""Template helpers of the identity pages."""

from __future__ import annotations

import datetime
import math

from django import template

register = template.Library()


@register.filter
def minutes(value) -> int:
    """A duration (timedelta or seconds) in whole minutes, rounded up: ``0:15:00`` → 15."""
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value or 0)
    return max(0, math.ceil(seconds / 60))
