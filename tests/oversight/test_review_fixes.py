"""What the security review of the cockpit found, kept fixed: closing an alert never silences new
activity, nobody closes an alert about themselves, a newer burst is reported at once, a night
window may cross midnight, one failing rule does not stop the others, and a closed assessment
period stands (recomputing is refused; computing is recorded in the ledger)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from tests.identity.factories import make_department
from tests.oversight.test_alerts_factories import (  # noqa: F401 - _monitoring is an autouse fixture
    MINUTE,
    NOW,
    _monitoring,
    manager,
    refusals,
)
from tongban.core.errors import Conflict, PermissionDenied
from tongban.ledger.models import LedgerEvent
from tongban.oversight.models import Alert, AssessmentScore
from tongban.oversight.services import alerts, assessment, detection

pytestmark = pytest.mark.django_db


def test_new_activity_after_an_alert_was_closed_raises_a_new_alert():
    refusals("system:tbs_again", 12, since=NOW - 20 * MINUTE, spread=5 * MINUTE)
    (first,) = alerts.detect(NOW)
    alerts.transition(manager(), first.pk, "false_alarm", "测试流量")
    assert alerts.detect(NOW) == []  # the same activity, judged: nothing
    refusals("system:tbs_again", 12, since=NOW + 1 * MINUTE, spread=5 * MINUTE)
    (second,) = alerts.detect(NOW + 10 * MINUTE)
    assert second.pk != first.pk and second.status == Alert.Status.NEW
    assert Alert.objects.get(pk=first.pk).status == Alert.Status.FALSE_ALARM


def test_a_newer_burst_is_seen_while_an_older_one_is_in_the_lookback():
    refusals("system:tbs_burst", 12, since=NOW - 50 * MINUTE, spread=5 * MINUTE)
    refusals("system:tbs_burst", 30, since=NOW - 8 * MINUTE, spread=5 * MINUTE)
    (alert,) = alerts.detect(NOW)
    assert alert.last_seen >= NOW - 4 * MINUTE  # the latest burst, not the first


def test_nobody_closes_an_alert_about_themselves():
    admin = manager()
    refusals(admin.username, 12, since=NOW - 20 * MINUTE, spread=5 * MINUTE)
    (alert,) = alerts.detect(NOW)
    with pytest.raises(PermissionDenied) as caught:
        alerts.transition(admin, alert.pk, "false_alarm", "是我自己")
    assert caught.value.code == "own_alert"
    alerts.transition(manager(), alert.pk, "resolved", "另一位管理员核实")


def test_a_night_window_may_cross_midnight(settings):
    settings.TONGBAN_ALERT_RULES = {"night_bulk": {"night_start_hour": 22, "night_end_hour": 6}}
    windows = detection._nights(NOW, 22, 6)
    assert windows and all(end > start for start, end in windows)
    assert all((end - start) <= datetime.timedelta(hours=8) for start, end in windows)


def test_one_failing_rule_does_not_stop_the_others(monkeypatch):
    refusals("system:tbs_other", 12, since=NOW - 20 * MINUTE, spread=5 * MINUTE)

    def broken(now):
        raise RuntimeError("a rule's bug")

    monkeypatch.setitem(detection.RULES, "volume_spike", broken)
    (alert,) = alerts.detect(NOW)
    assert alert.rule == "repeated_forbidden"


def test_a_closed_period_stands_and_computing_is_recorded():
    make_department("market")
    admin = manager()
    assessment.compute_for(admin, "2025-01")  # ended, nothing stored yet: computed once
    (entry,) = LedgerEvent.objects.filter(action="oversight.assessment_computed")
    payload = json.loads(bytes(entry.entry))["payload"]
    assert entry.subject == "assessment:2025-01" and payload["period"] == "2025-01" and len(payload["sha256"]) == 64
    if not AssessmentScore.objects.filter(period="2025-01").exists():  # nothing to rank in this bare world
        AssessmentScore.objects.create(department=make_department("market"), period="2025-01", indicators={},
                                       weights={}, total=50.0, rank=1, computed_at=timezone.now())
    with pytest.raises(Conflict) as caught:
        assessment.compute_for(admin, "2025-01")
    assert caught.value.code == "period_closed"


def test_a_volume_spike_in_subjects_with_few_calls():
    from tests.oversight.test_alerts_factories import HOUR, lookup, subjects

    for n in range(30):  # 30 lookups of 1,000 subjects each in the last hour, never before
        lookup("system:tbs_bulk", "market", when=NOW - HOUR + n * MINUTE, subjects=subjects(1000, 1 + n * 1000),
               found=900)
    spikes = [f for f in detection.volume_spike(NOW) if f.actor == "system:tbs_bulk"]
    assert spikes and spikes[0].evidence[0]["subjects"] == 30_000
