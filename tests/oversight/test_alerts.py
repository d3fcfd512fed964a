"""Alerts: the workflow (new → acknowledged → resolved / false alarm, notes, ledger entries), who
may read and work them, notifications, the API, the pages and the command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from tests.exchange.factories import id_number
from tests.identity.factories import make_citizen_user
from tests.oversight.test_alerts_factories import (
    HOUR,
    MINUTE,
    NOW,
    _monitoring,  # noqa: F401 - autouse fixture
    accesses,
    auditor,
    manager,
    official,
    refusals,
    sealed,
)
from tongban.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.core.models import Notification
from tongban.identity import tokens
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.identity.models import User
from tongban.ledger.models import LedgerEvent
from tongban.oversight.models import Alert, AlertNote
from tongban.oversight.services import alerts

pytestmark = pytest.mark.django_db


def spike(caller: str = "system:tbs_spike", consumer: str = "health") -> Alert:
    """A volume-spike alert (high) about ``consumer``'s caller."""
    rows = accesses(caller, consumer, 250, since=NOW - HOUR, spread=HOUR - MINUTE)
    sealed(rows[-1], index=7)
    (alert,) = [a for a in alerts.detect(NOW) if a.actor == caller]
    return alert


def forbidden(caller: str = "system:tbs_denied", department: str = "market") -> Alert:
    """A repeated-refusals alert (medium) about ``department``'s caller."""
    official(department)
    refusals(caller, 10, since=NOW - 9 * MINUTE, spread=5 * MINUTE, department=department)
    (alert,) = [a for a in alerts.detect(NOW) if a.actor == caller]
    return alert


# --- the workflow ---------------------------------------------------------------------------------------------------


def test_acknowledge_then_resolve_with_notes_and_ledger_entries():
    alert, boss = spike(), manager()
    alerts.transition(boss, alert.pk, "acknowledged")
    with pytest.raises(InvalidInput) as missing:
        alerts.transition(boss, alert.pk, "resolved", "  ")
    assert missing.value.code == "note_required"
    done = alerts.transition(boss, alert.pk, "resolved", "已约谈卫健委，系统调用已限流")
    assert done.status == "resolved"
    notes = list(AlertNote.objects.filter(alert=alert))
    assert [(n.from_status, n.to_status) for n in notes] == [("new", "acknowledged"), ("acknowledged", "resolved")]
    assert notes[1].text == "已约谈卫健委，系统调用已限流" and notes[1].author == boss.username
    entries = LedgerEvent.objects.filter(subject=f"alert:{alert.pk}").order_by("id")
    assert [e.action for e in entries] == ["oversight.alert_acknowledged", "oversight.alert_resolved"]
    assert "已约谈" not in bytes(entries[1].entry).decode()  # the note itself stays out of the ledger (its hash only)
    with pytest.raises(Conflict) as closed:
        alerts.transition(boss, alert.pk, "acknowledged")
    assert closed.value.code == "illegal_transition"


def test_new_straight_to_false_alarm_and_bad_requests():
    alert, boss = forbidden(), manager()
    with pytest.raises(InvalidInput) as unknown:
        alerts.transition(boss, alert.pk, "reopened", "x")
    assert unknown.value.code == "invalid_status"
    with pytest.raises(Conflict):
        alerts.transition(boss, alert.pk, "new", "x")
    with pytest.raises(InvalidInput) as leaked:
        alerts.transition(boss, alert.pk, "false_alarm", f"涉及 {id_number(3)} 的核查")
    assert leaked.value.code == "identifier_in_clear"
    assert alerts.transition(boss, alert.pk, "false_alarm", "联调测试流量").status == "false_alarm"
    with pytest.raises(NotFound):
        alerts.transition(boss, 999_999, "acknowledged")


def test_only_the_bureaus_managers_work_alerts():
    alert = spike()
    citizen = actor_for_user(make_citizen_user("citizen-x"))
    for reader in (auditor(), official("health", "dept_admin"), official("bureau", "steward"), citizen):
        with pytest.raises(PermissionDenied):
            alerts.transition(reader, alert.pk, "acknowledged")
    with pytest.raises(NotAuthenticated):
        alerts.transition(ANONYMOUS, alert.pk, "acknowledged")
    assert Alert.objects.get(pk=alert.pk).status == "new" and not AlertNote.objects.exists()


# --- reading ------------------------------------------------------------------------------------------------------


def test_who_sees_which_alerts_open_and_severe_first():
    health, market = spike(consumer="health"), forbidden(department="market")
    boss = manager()
    alerts.transition(boss, health.pk, "false_alarm", "测试")
    assert [a.pk for a in alerts.alerts(boss)] == [market.pk, health.pk]  # open first
    assert [a.pk for a in alerts.alerts(auditor())] == [market.pk, health.pk]
    assert [a.pk for a in alerts.alerts(official("health", "clerk"))] == [health.pk]
    assert [a.pk for a in alerts.alerts(official("market", "approver"))] == [market.pk]
    assert [a.pk for a in alerts.alerts(boss, status="open")] == [market.pk]
    assert [a.pk for a in alerts.alerts(boss, severity="high")] == [health.pk]
    assert [a.pk for a in alerts.alerts(boss, rule="repeated_forbidden")] == [market.pk]
    with pytest.raises(InvalidInput):
        alerts.alerts(boss, severity="urgent")
    with pytest.raises(PermissionDenied):
        alerts.alerts(actor_for_user(make_citizen_user("citizen-y")))
    with pytest.raises(NotFound):
        alerts.get_alert(official("market"), health.pk)
    by_rule = {row["rule"]: row for row in alerts.counts_by_rule(boss)}
    assert by_rule["volume_spike"] == {**by_rule["volume_spike"], "open": 0, "total": 1}
    assert by_rule["repeated_forbidden"]["open"] == 1 and by_rule["night_bulk"]["total"] == 0
    assert alerts.open_counts(boss) == {"critical": 0, "high": 0, "medium": 1, "low": 0}


def test_evidence_links_follow_the_sealing():
    rows = accesses("system:tbs_late", "health", 250, since=NOW - HOUR, spread=HOUR - MINUTE)
    (alert,) = alerts.detect(NOW)
    assert all(i["ledger_index"] is None for i in alert.evidence[1:])
    sealed(rows[-1], index=99)
    fresh = alerts.get_alert(manager(), alert.pk)
    assert fresh.evidence[-1]["access"] == rows[-1].pk and fresh.evidence[-1]["link"] == "/ledger/entries/99/"


def test_new_serious_alerts_notify_the_managers_once():
    boss = manager()
    alert = spike()
    sent = Notification.objects.filter(user_id=boss.user_id, category="oversight.alert")
    assert sent.count() == 1 and sent[0].link == f"/cockpit/alerts/{alert.pk}/" and "安全预警" in sent[0].title_zh
    accesses("system:tbs_spike", "health", 10, since=NOW, spread=MINUTE)
    alerts.detect(NOW + 2 * MINUTE)  # an update: no second message
    forbidden()  # medium: no message
    assert sent.count() == 1
    assert not Notification.objects.filter(user__in=User.objects.filter(role_assignments__role="auditor")).exists()


# --- API -------------------------------------------------------------------------------------------------------------


def bearer(actor) -> dict:
    key = tokens.issue_user_token(User.objects.get(pk=actor.user_id)).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_api_lists_filters_shows_and_transitions(client):
    health, market = spike(), forbidden()
    boss = bearer(manager())
    listed = client.get("/api/v1/oversight/alerts", **boss).json()
    assert listed["count"] == 2 and [a["id"] for a in listed["items"]] == [health.pk, market.pk]
    assert listed["items"][0]["link"] == f"/cockpit/alerts/{health.pk}/" and listed["items"][0]["department"] == "health"
    assert [a["id"] for a in client.get("/api/v1/oversight/alerts?severity=medium", **boss).json()["items"]] == [market.pk]
    bad = client.get("/api/v1/oversight/alerts?status=closed", **boss)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_status"
    one = client.get(f"/api/v1/oversight/alerts/{health.pk}", **boss).json()
    assert one["evidence"][0]["kind"] == "figures" and one["next_statuses"] == ["acknowledged", "resolved", "false_alarm"]
    assert one["evidence"][-1]["link"] == "/ledger/entries/7/"
    post = client.post(f"/api/v1/oversight/alerts/{health.pk}/transition", data=json.dumps({"to": "false_alarm"}),
                       content_type="application/json", **boss)
    assert post.status_code == 422 and post.json()["error"]["code"] == "note_required"
    post = client.post(f"/api/v1/oversight/alerts/{health.pk}/transition",
                       data=json.dumps({"to": "false_alarm", "note": "已核实为批量核验"}), content_type="application/json",
                       **boss)
    assert post.status_code == 200 and post.json()["status"] == "false_alarm" and post.json()["notes"][0]["text"]


def test_api_access_rules(client):
    health, market = spike(), forbidden()
    readonly = bearer(auditor())
    assert client.get("/api/v1/oversight/alerts", **readonly).json()["count"] == 2
    refused = client.post(f"/api/v1/oversight/alerts/{health.pk}/transition", data=json.dumps({"to": "acknowledged"}),
                          content_type="application/json", **readonly)
    assert refused.status_code == 403
    department = bearer(official("market", "steward"))
    assert [a["id"] for a in client.get("/api/v1/oversight/alerts", **department).json()["items"]] == [market.pk]
    assert client.get(f"/api/v1/oversight/alerts/{health.pk}", **department).status_code == 404
    citizen = bearer(actor_for_user(make_citizen_user("citizen-z")))
    assert client.get("/api/v1/oversight/alerts", **citizen).status_code == 403
    assert client.get("/api/v1/oversight/alerts").status_code == 401


# --- pages ------------------------------------------------------------------------------------------------------------


def page_login(client, actor) -> None:
    client.force_login(User.objects.get(pk=actor.user_id))


def test_alert_list_page_with_chart_and_table(client):
    health, market = spike(), forbidden()
    page_login(client, manager())
    response = client.get("/cockpit/alerts/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-chart="alert-rules-chart"' in html and 'id="alert-rules-chart"' in html
    option = response.context["chart"]
    assert option["series"][0]["data"] == [row["open"] for row in response.context["by_rule"]]
    assert 'data-testid="alert-rules-table"' in html and 'data-testid="alert-rule-volume_spike"' in html
    assert html.index(f"/cockpit/alerts/{health.pk}/") < html.index(f"/cockpit/alerts/{market.pk}/")
    assert "<script>" not in html.replace('<script src=', '')  # no inline script (CSP)
    filtered = client.get("/cockpit/alerts/?severity=medium").content.decode()
    assert f"/cockpit/alerts/{market.pk}/" in filtered and f"/cockpit/alerts/{health.pk}/" not in filtered


def test_alert_page_shows_evidence_and_the_workflow_for_managers(client):
    alert = spike()
    page_login(client, manager())
    html = client.get(f"/cockpit/alerts/{alert.pk}/").content.decode()
    assert 'href="/ledger/entries/7/"' in html and 'data-testid="alert-workflow"' in html
    assert 'data-testid="alert-to-acknowledged"' in html and "csrfmiddlewaretoken" in html
    assert client.get(f"/cockpit/alerts/{alert.pk}/transition/").status_code == 405
    response = client.post(f"/cockpit/alerts/{alert.pk}/transition/", {"to": "resolved", "note": ""})
    assert response.status_code == 302 and Alert.objects.get(pk=alert.pk).status == "new"
    response = client.post(f"/cockpit/alerts/{alert.pk}/transition/", {"to": "acknowledged"}, follow=True)
    assert Alert.objects.get(pk=alert.pk).status == "acknowledged"
    assert 'data-testid="alert-to-resolved"' in response.content.decode()


def test_alert_pages_for_readers(client):
    alert = forbidden()
    page_login(client, auditor())
    html = client.get(f"/cockpit/alerts/{alert.pk}/").content.decode()
    assert 'data-testid="alert-workflow"' not in html and "no_grant" in html
    assert client.post(f"/cockpit/alerts/{alert.pk}/transition/", {"to": "acknowledged"}).status_code == 403
    page_login(client, official("health"))
    assert client.get(f"/cockpit/alerts/{alert.pk}/").status_code == 404
    page_login(client, actor_for_user(make_citizen_user("citizen-w")))
    assert client.get("/cockpit/alerts/").status_code == 403
    client.logout()
    assert client.get("/cockpit/alerts/").status_code == 302


def test_alert_page_in_english(client):
    alert = spike()
    page_login(client, manager())
    client.cookies["tongban_language"] = "en"
    html = client.get(f"/cockpit/alerts/{alert.pk}/").content.decode()
    assert alert.title_en in html


# --- command and schedule --------------------------------------------------------------------------------------------


def test_the_command_runs_detection_once(monkeypatch):
    from django.utils import timezone

    accesses("system:tbs_cli", "health", 250, since=timezone.now() - HOUR + MINUTE, spread=HOUR - 2 * MINUTE)
    out = io.StringIO()
    call_command("oversight", "alerts", stdout=out)
    assert "volume_spike" in out.getvalue() and "system:tbs_cli" in out.getvalue()
    out = io.StringIO()
    call_command("oversight", "alerts", stdout=out)
    assert "no new alert" in out.getvalue()


def test_detection_is_a_periodic_task():
    from huey.contrib.djhuey import HUEY

    from tongban.oversight import tasks  # noqa: F401 - registers the tasks

    assert any(name.endswith("tongban.oversight.detect_alerts") for name in HUEY._registry._registry)
    accesses("system:tbs_task", "health", 250, since=NOW - HOUR, spread=HOUR - MINUTE)
    assert alerts.detect_alerts_task.call_local() == 0  # the clock's "now": these are long past
