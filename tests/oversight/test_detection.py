"""Detection rules over the access events, each driven with generated traffic: volume spike,
bulk lookups at night, enumeration, a grant used after its period; thresholds from settings,
evidence without identifiers, deduplication."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from tests.exchange.factories import id_number
from tests.identity.factories import make_department
from tests.onestop.factories import citizen_applicant, service_item
from tests.oversight.test_alerts_factories import (
    HOUR,
    MINUTE,
    NOW,
    _monitoring,  # noqa: F401 - autouse fixture
    accesses,
    at,
    lookup,
    no_identifiers,
    refusals,
    sealed,
    subjects,
)
from tongban.exchange.models import Grant
from tongban.identity.models import Department
from tongban.onestop.models import Application
from tongban.oversight.models import Alert
from tongban.oversight.services import alerts, detection

pytestmark = pytest.mark.django_db
CALLER = "system:tbs_abcdef"


def only(rule: str) -> Alert:
    rows = list(Alert.objects.filter(rule=rule))
    assert len(rows) == 1, rows
    return rows[0]


def cited(alert: Alert, kind: str) -> list[dict]:
    return [item for item in alert.evidence if item["kind"] == kind]


def figures(alert: Alert) -> dict:
    return alert.evidence[0]


# --- 1. volume spike ------------------------------------------------------------------------------------------------


def _baseline(per_day: int, days: int = 7) -> None:
    for day in range(days):
        accesses(CALLER, "health", per_day, since=NOW - HOUR - datetime.timedelta(days=day + 1),
                 spread=datetime.timedelta(hours=23))


def test_volume_spike_far_above_the_baseline_raises_a_high_alert():
    _baseline(10)
    rows = accesses(CALLER, "health", 250, since=NOW - HOUR, spread=HOUR - MINUTE, subjects=subjects(5))
    sealed(rows[-1], index=41)
    changed = alerts.detect(NOW)
    alert = only("volume_spike")
    assert [a.pk for a in changed] == [alert.pk] and changed[0].is_new
    assert alert.severity == "high" and alert.status == "new"
    assert alert.actor == CALLER and alert.department == Department.objects.get(code="health")
    assert figures(alert)["accesses"] == 250 and figures(alert)["baseline_per_hour"] == pytest.approx(70 / 168, 0.01)
    assert alert.first_seen == rows[0].at and alert.last_seen == rows[-1].at
    assert "250" in alert.summary and alert.title_zh.startswith("访问量") and alert.title_en
    items = cited(alert, "access")
    assert len(items) == detection.EVIDENCE_ITEMS
    assert items[-1]["access"] == rows[-1].pk and items[-1]["ledger_index"] == 41
    assert items[-1]["link"] == "/ledger/entries/41/"
    assert no_identifiers(alert) and id_number(1) not in json.dumps(alert.evidence)


def test_volume_spike_needs_both_the_ratio_and_the_minimum():
    accesses(CALLER, "health", 150, since=NOW - HOUR)  # no history, but under 200
    assert alerts.detect(NOW) == []
    _baseline(24 * 60)  # 60 an hour before: 250 is not 5×
    accesses(CALLER, "health", 100, since=NOW - HOUR)
    assert alerts.detect(NOW) == []


def test_volume_spike_thresholds_come_from_settings(settings):
    accesses(CALLER, "health", 250, since=NOW - HOUR)
    settings.TONGBAN_ALERT_RULES = {"volume_spike": {"min_accesses": 300}}
    assert alerts.detect(NOW) == []
    settings.TONGBAN_ALERT_RULES = {"volume_spike": {"min_accesses": 100, "severity": "critical"}}
    assert [a.severity for a in alerts.detect(NOW)] == ["critical"]
    settings.TONGBAN_ALERT_RULES = {"volume_spike": {"enabled": False}}
    assert detection.evaluate(NOW) == []
    settings.TONGBAN_ALERT_RULES = {"volume_spike": {"severity": "urgent"}}
    with pytest.raises(ImproperlyConfigured):
        detection.evaluate(NOW)


def test_volume_spike_is_deduplicated_and_updated():
    accesses(CALLER, "health", 250, since=NOW - HOUR, spread=HOUR - 10 * MINUTE)
    first = alerts.detect(NOW)
    assert len(first) == 1 and first[0].is_new
    assert alerts.detect(NOW) == []  # nothing new: no duplicate, no update
    later = NOW + 5 * MINUTE
    accesses(CALLER, "health", 20, since=NOW - 2 * MINUTE, spread=MINUTE)
    again = alerts.detect(later)
    alert = only("volume_spike")
    assert [a.pk for a in again] == [alert.pk] and not again[0].is_new
    assert alert.count == 2 and alert.last_seen > first[0].last_seen
    assert len(cited(alert, "access")) <= alerts.EVIDENCE_LIMIT


def test_a_judged_incident_raises_nothing_until_there_is_more(django_user_model):
    from tests.oversight.test_alerts_factories import manager

    accesses(CALLER, "health", 250, since=NOW - HOUR, spread=HOUR - 10 * MINUTE)
    (alert,) = alerts.detect(NOW)
    alerts.transition(manager(), alert.pk, "false_alarm", "批量核验，已报备")
    assert alerts.detect(NOW + 2 * MINUTE) == []
    accesses(CALLER, "health", 250, since=NOW + HOUR, spread=HOUR - MINUTE)
    (fresh,) = alerts.detect(NOW + 2 * HOUR)
    assert fresh.is_new and fresh.pk != alert.pk and Alert.objects.filter(rule="volume_spike").count() == 2


# --- 2. bulk lookups at night -------------------------------------------------------------------------------------


def test_bulk_lookups_at_night_raise_an_alert():
    now = at(2026, 3, 10, 5, 30)
    for hour in (1, 2, 3):
        lookup(CALLER, "health", when=at(2026, 3, 10, hour), subjects=subjects(3, start=hour * 10), found=2)
    from tongban.exchange.models import Access

    Access.objects.filter(mode="lookup").update(subject_count=1000, found=900)
    accesses(CALLER, "health", 5, since=at(2026, 3, 9, 10), mode="lookup", subject_count=1000)  # daytime: ignored
    alerts.detect(now)
    alert = only("night_bulk")
    assert alert.severity == "high" and alert.actor == CALLER
    assert figures(alert)["subjects"] == 3000 and figures(alert)["lookups"] == 3 and figures(alert)["found"] == 2700
    assert alert.dedup_key == f"night_bulk:{CALLER}:2026-03-10"
    assert len(cited(alert, "access")) == 3 and no_identifiers(alert)


def test_last_nights_lookups_count_in_the_morning_and_the_threshold_is_a_setting(settings):
    from tongban.exchange.models import Access

    accesses(CALLER, "health", 3, since=at(2026, 3, 10, 0, 30), spread=HOUR, mode="lookup", subject_count=800)
    settings.TONGBAN_ALERT_RULES = {"night_bulk": {"min_subjects": 2400}}
    assert alerts.detect(at(2026, 3, 10, 9)) == []
    settings.TONGBAN_ALERT_RULES = {}
    assert [a.rule for a in alerts.detect(at(2026, 3, 10, 9))] == ["night_bulk"]
    Access.objects.all().delete()
    accesses(CALLER, "health", 3, since=at(2026, 3, 10, 7), spread=HOUR, mode="lookup", subject_count=1000)
    assert alerts.detect(at(2026, 3, 10, 9)) == []  # 07:00 is not night


# --- 3. enumeration ---------------------------------------------------------------------------------------------------


def test_many_subjects_mostly_not_found_is_an_enumeration():
    accesses(CALLER, "health", 100, since=NOW - 30 * MINUTE, spread=20 * MINUTE, subjects=subjects(100), found=0)
    accesses(CALLER, "health", 20, since=NOW - 10 * MINUTE, spread=5 * MINUTE, subjects=subjects(20, start=500))
    alerts.detect(NOW)
    alert = only("enumeration")
    assert alert.severity == "high"
    assert figures(alert)["distinct_subjects"] == 120 and figures(alert)["not_found_share"] == pytest.approx(0.833, 0.01)
    assert figures(alert)["without_application_share"] is None  # health handles no one-stop item
    assert no_identifiers(alert)


def test_subjects_found_but_without_an_application_behind_them():
    item = service_item("health")
    user, _citizen = citizen_applicant()
    asked = subjects(120)
    for n, subject in enumerate(asked[:5]):
        Application.objects.create(number=f"ENUM{n:04d}", item=item, applicant=user, subject=subject, status="submitted")
    accesses(CALLER, "health", 120, since=NOW - 40 * MINUTE, spread=30 * MINUTE, subjects=asked)
    alerts.detect(NOW)
    alert = only("enumeration")
    assert figures(alert)["not_found_share"] == 0 and figures(alert)["without_application_share"] == pytest.approx(0.958, 0.01)


def test_subjects_with_applications_behind_them_are_business_as_usual():
    item = service_item("health")
    user, _citizen = citizen_applicant()
    asked = subjects(120)
    Application.objects.bulk_create([Application(number=f"BIZ{n:04d}", item=item, applicant=user, subject=s,
                                                 status="submitted") for n, s in enumerate(asked)])
    accesses(CALLER, "health", 120, since=NOW - 40 * MINUTE, spread=30 * MINUTE, subjects=asked)
    assert alerts.detect(NOW) == []


def test_a_lookup_of_many_unknown_subjects_counts_its_subject_rows(settings):
    lookup(CALLER, "health", when=NOW - 5 * MINUTE, subjects=subjects(150), found=10)
    settings.TONGBAN_ALERT_RULES = {"enumeration": {"min_subjects": 151}}
    assert alerts.detect(NOW) == []
    settings.TONGBAN_ALERT_RULES = {"enumeration": {"min_subjects": 150}}
    alerts.detect(NOW)
    assert figures(only("enumeration"))["distinct_subjects"] == 150


def test_the_same_subjects_over_and_over_are_not_an_enumeration():
    accesses(CALLER, "health", 300, since=NOW - 30 * MINUTE, spread=20 * MINUTE, subjects=subjects(10), found=0)
    assert not [a for a in alerts.detect(NOW) if a.rule == "enumeration"]


# --- 6. grant used after its period (accesses served) ------------------------------------------------------------


def _grant(consumer: str, **over) -> Grant:
    provider, department = Department.objects.get_or_create(code="civil", defaults={
        "name": "民政", "uscc": "11330000002482001X", "region_id": Department.objects.get(code=consumer).region_id,
        "level": "province"})[0], Department.objects.get(code=consumer)
    fields = {"starts_at": NOW - datetime.timedelta(days=30), "expires_at": NOW + datetime.timedelta(days=30)}
    fields.update(over)
    return Grant.objects.create(resource_code="CIV-0001", provider=provider, consumer=department, items=["name"],
                                modes=["query"], purpose="测试", created_by="test", **fields)


def test_an_access_served_after_the_grant_expired_is_critical():
    accesses(CALLER, "health", 1, since=NOW - 3 * HOUR)  # makes the department
    expired = _grant("health", expires_at=NOW - 2 * HOUR)
    rows = accesses(CALLER, "health", 3, since=NOW - HOUR, spread=10 * MINUTE, grant=expired)
    alerts.detect(NOW)
    alert = only("grant_after_period")
    assert alert.severity == "critical" and alert.dedup_key == f"grant_after_period:{CALLER}:served:grant-{expired.pk}"
    assert figures(alert)["accesses"] == 3 and figures(alert)["grant"] == expired.pk
    assert [i["access"] for i in cited(alert, "access")] == [r.pk for r in rows]


def test_an_access_served_after_revocation_is_critical_and_in_time_ones_are_not():
    accesses(CALLER, "health", 1, since=NOW - 3 * HOUR)
    revoked = _grant("health", status="revoked", revoked_at=NOW - 30 * MINUTE)
    accesses(CALLER, "health", 2, since=NOW - HOUR, spread=10 * MINUTE, grant=revoked)  # before revocation
    assert alerts.detect(NOW) == []
    accesses(CALLER, "health", 1, since=NOW - 10 * MINUTE, grant=revoked)
    (alert,) = alerts.detect(NOW)
    assert alert.rule == "grant_after_period" and alert.severity == "critical" and alert.count == 1


def test_refusals_for_an_ended_grant_raise_a_medium_alert(settings):
    make_department("health")
    refusals(CALLER, 3, since=NOW - HOUR, spread=30 * MINUTE, code="grant_expired", department="health")
    refusals("someone", 2, since=NOW - HOUR, spread=30 * MINUTE, code="no_grant")
    settings.TONGBAN_ALERT_RULES = {"grant_after_period": {"min_refusals": 4}}
    assert alerts.detect(NOW) == []
    settings.TONGBAN_ALERT_RULES = {}
    alerts.detect(NOW)
    alert = only("grant_after_period")
    assert alert.severity == "medium" and figures(alert)["refusals"] == 3
    assert alert.department.code == "health" and alert.actor == CALLER
    assert {i["code"] for i in cited(alert, "security_event")} == {"grant_expired"}
    assert no_identifiers(alert) and id_number(7) not in json.dumps(alert.evidence)


def test_detect_defaults_to_the_clock():
    accesses(CALLER, "health", 250, since=timezone.now() - HOUR + MINUTE, spread=HOUR - 2 * MINUTE)
    assert [a.rule for a in alerts.detect()] == ["volume_spike"]


def test_the_settings_document_the_defaults_in_code():
    from tongban.site import settings as site_settings

    assert site_settings.TONGBAN_ALERT_RULES == detection.DEFAULT_RULES


def test_data_served_is_its_own_incident_beside_refusals_and_notifies():
    from tests.oversight.test_alerts_factories import manager
    from tongban.core.models import Notification

    boss = manager()
    accesses(CALLER, "health", 1, since=NOW - 3 * HOUR)
    refusals(CALLER, 2, since=NOW - 2 * HOUR, spread=10 * MINUTE, code="grant_revoked", department="health")
    (refused,) = alerts.detect(NOW - HOUR)
    assert refused.severity == "medium" and ":refused:" in refused.dedup_key
    revoked = _grant("health", status="revoked", revoked_at=NOW - 2 * HOUR)
    accesses(CALLER, "health", 1, since=NOW - 30 * MINUTE, grant=revoked)
    (served,) = alerts.detect(NOW)
    assert served.pk != refused.pk and served.is_new and served.severity == "critical"
    assert served.title_zh.startswith("授权失效后仍返回了数据")
    assert Notification.objects.filter(user_id=boss.user_id, link=f"/cockpit/alerts/{served.pk}/").count() == 1
    assert Alert.objects.get(pk=refused.pk).severity == "medium"
