"""Detection over refusals and logins, driven by real API traffic through the middleware where it
can be: repeated 403s, calls under a revoked grant, a login right after a lockout (API and
axes rows); and the middleware itself (only 403/429 under /api/, masked paths, throttled)."""

from __future__ import annotations

import datetime
import json

import pytest
from axes.models import AccessFailureLog, AccessLog
from axes.utils import reset
from django.utils import timezone

from tests.exchange.factories import id_number, system_token
from tests.exchange.factories_access import _fresh_caches, consumer_env, revoke  # noqa: F401 - autouse fixture
from tests.identity.factories import PASSWORD, make_department, make_official
from tests.oversight.test_alerts_factories import (
    HOUR,
    MINUTE,
    NOW,
    _monitoring,  # noqa: F401 - autouse fixture
    no_identifiers,
    refusals,
)
from tongban.oversight import middleware
from tongban.oversight.models import Alert, SecurityEvent
from tongban.oversight.services import alerts

pytestmark = pytest.mark.django_db
BASE = "/api/v1/exchange"


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def login(client, username: str, password: str):
    return client.post("/api/v1/auth/token", data=json.dumps({"username": username, "password": password}),
                       content_type="application/json")


def soon() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=5)


# --- the middleware ---------------------------------------------------------------------------------------------------


def test_api_refusals_are_recorded_with_caller_code_and_a_masked_path(client):
    env = consumer_env()
    outsider = system_token("market", "exchange:query")
    url = f"{BASE}/resources/{env.code}/records/{id_number(1)}"
    assert client.get(url, **auth(env.token)).status_code == 200
    assert client.get(url).status_code == 401
    assert client.get(f"{BASE}/resources/{env.code}/records/{id_number(99)}", **auth(env.token)).status_code == 404
    assert SecurityEvent.objects.count() == 0  # only 403 and 429 are kept
    response = client.get(url, **auth(outsider))
    assert response.status_code == 403
    (event,) = SecurityEvent.objects.all()
    assert event.kind == "forbidden" and event.code == "no_grant" and event.method == "GET"
    assert event.actor.startswith("system:tbs_") and event.department_code == "market"
    assert id_number(1) not in event.path and event.path.startswith(f"{BASE}/resources/{env.code}/records/")


def test_a_lockout_429_is_recorded_and_pages_are_not(client):
    make_official("zhao", make_department("market"), ["steward"])
    for _ in range(5):
        login(client, "zhao", "wrong-password")
    event = SecurityEvent.objects.get()
    assert event.kind == "rate_limited" and event.code == "account_locked" and event.actor == ""
    client.get("/cockpit/alerts/")  # anonymous page: a redirect, nothing recorded
    assert SecurityEvent.objects.count() == 1


def test_a_refusal_flood_is_throttled_per_caller(client, monkeypatch):
    monkeypatch.setattr(middleware, "PER_CALLER_PER_MINUTE", 3)
    env = consumer_env()
    outsider = system_token("market", "exchange:query")
    for _ in range(5):
        assert client.get(f"{BASE}/resources/{env.code}/records/{id_number(1)}", **auth(outsider)).status_code == 403
    assert SecurityEvent.objects.count() == 3


# --- 4. repeated 403 ----------------------------------------------------------------------------------------------------


def test_repeated_refusals_through_the_api_raise_an_alert(client, settings):
    env = consumer_env()
    outsider = system_token("market", "exchange:query")
    for n in range(12):
        client.get(f"{BASE}/resources/{env.code}/records/{id_number(n + 1)}", **auth(outsider))
    settings.TONGBAN_ALERT_RULES = {"repeated_forbidden": {"min_events": 13}}
    assert alerts.detect(soon()) == []
    settings.TONGBAN_ALERT_RULES = {}
    (alert,) = alerts.detect(soon())
    assert alert.rule == "repeated_forbidden" and alert.severity == "medium" and alert.is_new
    assert alert.actor.startswith("system:tbs_") and alert.department.code == "market"
    assert alert.evidence[0]["refusals"] == 12 and alert.evidence[0]["codes"] == ["no_grant"]
    assert len([i for i in alert.evidence if i["kind"] == "security_event"]) == 10
    assert no_identifiers(alert)
    # Dedup: the same run again changes nothing; more refusals update the same alert.
    assert alerts.detect(soon()) == []
    for n in range(3):
        client.get(f"{BASE}/resources/{env.code}/records/{id_number(n + 1)}", **auth(outsider))
    (again,) = alerts.detect(soon())
    assert again.pk == alert.pk and not again.is_new and Alert.objects.get(pk=alert.pk).count == 2
    assert Alert.objects.get(pk=alert.pk).evidence[0]["refusals"] == 15


def test_refusals_spread_out_are_not_repeated():
    refusals("system:tbs_slow", 10, since=NOW - 50 * MINUTE, spread=45 * MINUTE)  # one every 4.5 minutes
    assert alerts.detect(NOW) == []
    refusals("system:tbs_fast", 10, since=NOW - 20 * MINUTE, spread=9 * MINUTE)
    (alert,) = alerts.detect(NOW)
    assert alert.actor == "system:tbs_fast" and alert.first_seen == NOW - 20 * MINUTE
    assert no_identifiers(alert)  # the rows' paths named a subject: masked in the evidence
    assert "********" in alert.evidence[1]["path"]


# --- 6. grant used after its period (refused) ----------------------------------------------------------------------------


def test_calls_under_a_revoked_grant_raise_an_alert(client):
    env = consumer_env()
    url = f"{BASE}/resources/{env.code}/records/{id_number(1)}"
    assert client.get(url, **auth(env.token)).status_code == 200
    revoke(env.grant)
    refused = client.get(url, **auth(env.token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "grant_revoked"
    (alert,) = alerts.detect(soon())
    assert alert.rule == "grant_after_period" and alert.severity == "medium" and alert.department.code == "health"
    assert [i["code"] for i in alert.evidence if i["kind"] == "security_event"] == ["grant_revoked"]
    assert no_identifiers(alert)


# --- 5. login after lockout -------------------------------------------------------------------------------------------


def test_a_login_right_after_a_lockout_raises_a_high_alert(client, django_user_model):
    from tests.oversight.test_alerts_factories import manager

    boss = manager()
    make_official("zhao", make_department("market"), ["steward"])
    for _ in range(5):
        login(client, "zhao", "wrong-password")
    assert login(client, "zhao", PASSWORD).status_code == 429
    reset(username="zhao")  # the cool-off is over
    assert login(client, "zhao", PASSWORD).status_code == 200
    (alert,) = [a for a in alerts.detect(soon()) if a.rule == "login_after_lockout"]
    assert alert.severity == "high" and alert.actor == "zhao" and alert.department.code == "market"
    assert alert.evidence[0]["lockouts"] == 2 and alert.evidence[0]["logins"] == 1
    kinds = [(i["kind"], i["source"]) for i in alert.evidence[1:]]
    assert kinds == [("lockout", "ledger"), ("lockout", "ledger"), ("login", "ledger")]
    assert all(i["ledger_event"] for i in alert.evidence[1:])
    # High: the bureau's administrators and CDOs are told.
    assert django_user_model.objects.get(pk=boss.user_id).notifications.filter(category="oversight.alert").count() == 1


def test_axes_rows_a_login_within_the_hour_after_a_lockout(settings):
    make_official("qian", make_department("market"), ["steward"])
    locked = AccessFailureLog.objects.create(username="qian", ip_address="10.0.0.9", user_agent="x", http_accept="*",
                                             path_info="/login/", locked_out=True)
    AccessFailureLog.objects.filter(pk=locked.pk).update(attempt_time=NOW - 50 * MINUTE)
    late = AccessLog.objects.create(username="qian", ip_address="10.0.0.8", user_agent="x", http_accept="*",
                                    path_info="/login/")
    AccessLog.objects.filter(pk=late.pk).update(attempt_time=NOW + HOUR)  # after the window: not this one
    assert alerts.detect(NOW) == []
    AccessLog.objects.filter(pk=late.pk).update(attempt_time=NOW - 20 * MINUTE)
    (alert,) = alerts.detect(NOW)
    assert alert.rule == "login_after_lockout" and alert.evidence[0]["minutes_after_lockout"] == 30
    assert [i["source"] for i in alert.evidence[1:]] == ["axes_failure_log", "axes"]
    settings.TONGBAN_ALERT_RULES = {"login_after_lockout": {"within_minutes": 20}}
    Alert.objects.all().delete()
    assert alerts.detect(NOW) == []


def test_a_login_without_a_lockout_is_fine(client):
    make_official("sun", make_department("market"), ["steward"])
    login(client, "sun", "wrong-password")
    assert login(client, "sun", PASSWORD).status_code == 200
    assert alerts.detect(soon()) == []


def test_a_csrf_refusal_of_a_session_call_is_recorded_with_its_code(client):
    from django.test import Client

    from tests.oversight.test_alerts_factories import manager
    from tongban.identity.models import User

    browser = Client(enforce_csrf_checks=True)
    boss = manager()
    browser.force_login(User.objects.get(pk=boss.user_id))
    response = browser.post("/api/v1/oversight/alerts/1/transition", data=json.dumps({"to": "acknowledged"}),
                            content_type="application/json")
    assert response.status_code == 403
    event = SecurityEvent.objects.get()
    assert event.kind == "forbidden" and event.actor == boss.username and event.department_code == "bureau"
    assert event.code == response.json()["error"]["code"] and event.method == "POST"
