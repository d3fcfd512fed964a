"""Sharing and service statistics: the overview figures and trends, flows by department pair,
approval times, overdue requests, service figures and ratings — and who sees which figures."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.oversight import test_stats_builders as b
from tongban.core.errors import NotAuthenticated, PermissionDenied
from tongban.exchange.models import AccessRequest
from tongban.identity.access import ANONYMOUS
from tongban.onestop.models import Application
from tongban.oversight.models import Alert
from tongban.oversight.services import stats

pytestmark = pytest.mark.django_db
S = Application.Status
R = AccessRequest.Status


@pytest.fixture
def shared():
    """civil provides to health (2 resources, grants, accesses); market provides to civil."""
    marriage = b.resource("civil", records=3)
    birth = b.resource("civil", records=2)
    licence = b.resource("market", records=4)
    b.resource("civil", status="draft")
    b.grant("civil", "health", marriage.code)
    b.grant("civil", "health", birth.code)
    b.grant("civil", "health", birth.code, active=False)  # expired
    b.grant("market", "civil", licence.code)
    now = timezone.now()
    b.accesses("health", marriage.code, 3, found=1)
    b.accesses("health", birth.code, 2, when=now - datetime.timedelta(days=1), found=5)
    b.accesses("health", birth.code, 4, when=now - datetime.timedelta(days=45))  # outside the 30 days
    b.accesses("civil", licence.code, 1)
    # approval times: 2 h, 10 h, 30 h, 100 h (decided), one pending and overdue, one pending in time
    start = now - datetime.timedelta(days=20)
    for hours in (2, 10, 30, 100):
        b.request("civil", "health", submitted=start, due_on=b.today(), status=R.APPROVED,
                  decided=start + datetime.timedelta(hours=hours), resource_code=marriage.code)
    b.request("civil", "health", submitted=start, due_on=b.today() - datetime.timedelta(days=3),
              resource_code=birth.code)
    b.request("market", "civil", submitted=now, due_on=b.today() + datetime.timedelta(days=10),
              resource_code=licence.code)
    b.request("market", "civil", submitted=start, due_on=None, status=R.APPROVED, decided=start,
              resource_code=licence.code)  # 无条件共享: no approval time
    return {"marriage": marriage, "birth": birth, "licence": licence}


@pytest.fixture
def served():
    """market serves 4 applications (one instant, one late, one running past due) and a draft;
    health one completed application; ratings 5, 4, 2 for market, 3 for health."""
    market, health = b.service("market"), b.service("health")
    now = timezone.now()
    last_week = now - datetime.timedelta(days=7)
    one = b.application(market, submitted=last_week, completed=last_week, due_on=b.today(), reused=2)
    two = b.application(market, submitted=last_week, completed=now, due_on=b.today() - datetime.timedelta(days=2))
    three = b.application(market, submitted=now, completed=now, instant=True, reused=1)
    b.application(market, status=S.UNDER_REVIEW, submitted=last_week, due_on=b.today() - datetime.timedelta(days=1))
    b.application(market, status=S.DRAFT)
    four = b.application(health, submitted=now, completed=now, due_on=b.today())
    for app, level in ((one, 5), (two, 4), (three, 2), (four, 3)):
        b.rating(app, level, when=now)


def test_overview_for_the_bureau(shared, served):
    board = stats.overview(b.bureau_actor())
    f = board["figures"]
    assert board["department"] is None
    assert f["published_resources"] == 3 and f["records"] == 9 and f["active_grants"] == 3
    assert f["accesses"] == 6  # 3 + 2 + 1 within 30 days
    assert f["pending_requests"] == 2 and f["overdue_requests"] == 1
    assert f["applications"] == 5  # drafts left out
    assert f["in_time_rate"] == 60.0  # one, three, four in time; two late; one running past due
    assert f["instant_share"] == 20.0
    assert f["open_alerts"] == 0  # no alert: 0 for everyone (None vs 0 would tell whether alerts exist elsewhere)
    trend = board["trend"]
    assert len(trend["days"]) == 30 and trend["days"][-1] == b.today().isoformat()
    assert trend["accesses"][-1] == 4 and trend["accesses"][-2] == 2 and sum(trend["accesses"]) == 6
    assert sum(trend["applications"]) == 5 and trend["applications"][-1] == 2


def test_overview_of_a_department(shared, served):
    civil = stats.overview(b.actor("civil", "steward"))
    assert civil["department"] == "civil"
    f = civil["figures"]
    assert f["published_resources"] == 2 and f["records"] == 5
    assert f["active_grants"] == 3  # two as provider, one as consumer
    assert f["accesses"] == 6  # its data read by health (5) and its own reading of market's (1)
    assert f["applications"] == 0 and f["in_time_rate"] is None
    market = stats.overview(b.actor("market", "clerk"))["figures"]
    assert market["applications"] == 4 and market["instant_share"] == 25.0 and market["accesses"] == 1


def test_open_alerts_are_counted_in_scope():
    now = timezone.now()
    civil = b.resource("civil").department
    for n, status in enumerate(("new", "acknowledged", "resolved")):
        Alert.objects.create(rule="test", severity="high", status=status, department=civil, title_zh="告警",
                             title_en="Alert", dedup_key=f"k{n}", first_seen=now, last_seen=now)
    Alert.objects.create(rule="test", severity="low", title_zh="告警", title_en="Alert", dedup_key="k9",
                         first_seen=now, last_seen=now)
    assert stats.overview(b.bureau_actor())["figures"]["open_alerts"] == 3
    assert stats.overview(b.actor("civil", "steward"))["figures"]["open_alerts"] == 2
    assert stats.overview(b.actor("market", "steward"))["figures"]["open_alerts"] == 0


def test_sharing_by_department_pair(shared):
    board = stats.sharing(b.bureau_actor())
    pairs = {(p["provider"]["code"], p["consumer"]["code"]): p for p in board["pairs"]}
    assert set(pairs) == {("civil", "health"), ("market", "civil")}
    civil_health = pairs[("civil", "health")]
    assert civil_health == {**civil_health, "resources": 2, "requests": 5, "pending": 1, "grants": 2,
                            "accesses": 5, "records": 3 + 10}
    assert pairs[("market", "civil")]["accesses"] == 1 and pairs[("market", "civil")]["requests"] == 2
    assert board["metric"] == "accesses" and board["pairs"][0]["provider"]["code"] == "civil"
    assert civil_health["provider"]["name"] == "civil 部门"
    # 2, 10, 30, 100 hours: median 20, p90 (inclusive) 30 + 0.7 × 70 = 79
    assert board["approval"] == {"decided": 4, "median_hours": 20.0, "p90_hours": 79.0}
    providers = {p["department"]["code"]: p for p in board["by_provider"]}
    assert providers["civil"]["overdue"] == 1 and providers["civil"]["in_time_rate"] == 80.0
    assert providers["market"]["decided"] == 0 and providers["market"]["median_hours"] is None
    assert board["overdue"]["count"] == 1
    row = board["overdue"]["rows"][0]
    assert row["provider"]["code"] == "civil" and row["days_overdue"] == 3
    assert stats.sharing(b.bureau_actor(), days=60)["pairs"][0]["accesses"] == 9


def test_sharing_scope(shared):
    health = stats.sharing(b.actor("health", "approver"))
    assert [(p["provider"]["code"], p["consumer"]["code"]) for p in health["pairs"]] == [("civil", "health")]
    market = stats.sharing(b.actor("market", "approver"))
    assert [(p["provider"]["code"], p["consumer"]["code"]) for p in market["pairs"]] == [("market", "civil")]
    assert market["overdue"]["count"] == 0 and market["approval"]["decided"] == 0
    assert stats.sharing(b.auditor_actor())["overdue"]["count"] == 1


def test_flow_metric_falls_back_to_grants_then_requests():
    b.request("civil", "health", submitted=timezone.now(), due_on=b.today())
    assert stats.sharing(b.bureau_actor())["metric"] == "requests"
    b.grant("civil", "health", b.resource("civil").code)
    assert stats.sharing(b.bureau_actor())["metric"] == "grants"


def test_services_figures(served):
    board = stats.services(b.bureau_actor())
    statuses = {s["status"]: s["count"] for s in board["by_status"]}
    assert statuses["completed"] == 4 and statuses["under_review"] == 1 and "draft" not in statuses
    assert board["applications"] == 5
    assert board["in_time"] == {"completed": 4, "completed_in_time": 3, "running_overdue": 1, "rate": 60.0}
    assert board["instant"] == {"submitted": 5, "instant": 1, "share": 20.0}
    assert board["reuse"] == {"materials": 3, "applications": 2}
    ratings = board["ratings"]
    assert ratings["count"] == 4 and [lv["count"] for lv in ratings["by_level"]] == [1, 1, 1, 1, 0]
    assert ratings["average"] == 3.5 and ratings["satisfaction"] == 75.0
    departments = {d["department"]["code"]: d for d in board["by_department"]}
    assert departments["market"]["applications"] == 4 and departments["market"]["in_time_rate"] == 50.0
    assert departments["market"]["rating_average"] == pytest.approx(3.67) and departments["health"]["reused"] == 0


def test_services_scope(served):
    health = stats.services(b.actor("health", "clerk"))
    assert health["applications"] == 1 and health["ratings"]["count"] == 1
    assert [d["department"]["code"] for d in health["by_department"]] == ["health"]
    assert stats.services(b.actor("civil", "clerk"))["applications"] == 0


@pytest.mark.parametrize("call", [stats.overview, stats.sharing, stats.services])
def test_only_the_bureau_and_departments_see_figures(call):
    with pytest.raises(PermissionDenied):
        call(b.citizen_actor())
    with pytest.raises(NotAuthenticated):
        call(ANONYMOUS)
    with pytest.raises(PermissionDenied):  # an official without a department role
        call(b.actor("civil"))
    assert call(b.auditor_actor())["department"] is None
