"""The cockpit's part of the demo: data quality computed over the demo records, the department
assessment of this month and the two before (a trend), and two security alerts raised by the
real detection rules from synthetic refusals — a department system calling a resource it has no
grant to, over and over, and an expired grant still being used — so every cockpit page shows data.

Idempotent: scores are recomputed (quality keeps history; the assessment upserts per period);
the synthetic refusals are added only once, and detection deduplicates alerts.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from tongban.core.demo import DemoContext
from tongban.oversight.models import Alert, SecurityEvent
from tongban.oversight.services import alerts, assessment, quality

LEGACY_SYSTEM = "system:civil-legacy-demo"  # a civil-affairs system misconfigured after a migration
HEALTH_SYSTEM = "system:health-his-demo"


def _periods(today: datetime.date, count: int = 3) -> list[str]:
    periods, year, month = [], today.year, today.month
    for _ in range(count):
        periods.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(periods))


def _refusals() -> int:
    """Synthetic refusals as the middleware would have recorded them (once)."""
    if SecurityEvent.objects.filter(actor__in=[LEGACY_SYSTEM, HEALTH_SYSTEM]).exists():
        return 0
    now = timezone.now()
    rows = [SecurityEvent(at=now - datetime.timedelta(seconds=20 * i), kind="forbidden", code="no_grant",
                          actor=LEGACY_SYSTEM, department_code="civil", method="GET",
                          path=f"/api/v1/exchange/resources/hr-00001/records/{i:04d}")
            for i in range(24)]
    rows += [SecurityEvent(at=now - datetime.timedelta(minutes=30 + i), kind="forbidden", code="grant_expired",
                           actor=HEALTH_SYSTEM, department_code="health", method="POST",
                           path="/api/v1/exchange/resources/health-00001/lookup") for i in range(3)]
    SecurityEvent.objects.bulk_create(rows)
    return len(rows)


def load(context: DemoContext) -> None:
    scores = quality.compute_all()
    for period in _periods(timezone.localdate()):
        assessment.compute(period)
    _refusals()
    alerts.detect()
    context.notes.append(
        f"驾驶舱 cockpit: {len(scores)} 个资源的数据质量 quality scores, 部门考核 assessment "
        f"{', '.join(_periods(timezone.localdate()))}, {Alert.objects.count()} 条安全预警 alerts at /cockpit/ "
        "(bureau-admin)")
