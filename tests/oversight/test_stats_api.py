"""Statistics over the API (GET /api/v1/oversight/statistics[/sharing|/services]) and the cockpit
pages /cockpit/, /cockpit/sharing/, /cockpit/services/: envelopes, scope, charts with tables."""

from __future__ import annotations

import json
import re

import pytest
from django.db import transaction
from django.utils import timezone

from tests.onestop.factories import citizen_applicant, official_user
from tests.oversight import test_stats_builders as b
from tongban.identity import tokens

pytestmark = pytest.mark.django_db
API = "/api/v1/oversight"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def bearer(user) -> dict:
    with transaction.atomic():
        key = tokens.issue_user_token(user).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def figures():
    resource = b.resource("civil", records=2)
    b.grant("civil", "health", resource.code)
    b.accesses("health", resource.code, 2)
    b.request("civil", "health", submitted=timezone.now(), due_on=b.today() - timezone.timedelta(days=1),
              resource_code=resource.code)
    item = b.service("market")
    app = b.application(item, submitted=timezone.now(), completed=timezone.now(), instant=True, reused=1)
    b.rating(app, 4, when=timezone.now())


def chart_options(body: str) -> dict[str, dict]:
    """Every chart holder's option (its json_script), by id; each holder has its script."""
    holders = re.findall(r'<div class="chart" data-chart="([\w-]+)"[^>]*hidden role="img" aria-label="[^"]+"', body)
    options = {}
    for holder in holders:
        script = re.search(rf'<script id="{holder}" type="application/json">(.*?)</script>', body, re.S)
        assert script, holder
        options[holder] = json.loads(script.group(1))
    return options


def test_statistics_api_for_the_bureau(client, figures):
    auth = bearer(official_user("bureau", "bureau_admin", "cdo", is_bureau=True))
    overview = client.get(f"{API}/statistics", **auth)
    assert overview.status_code == 200, overview.content
    data = overview.json()
    assert data["department"] is None and data["figures"]["accesses"] == 2 and data["figures"]["open_alerts"] == 0
    assert len(data["trend"]["days"]) == 30 and data["trend"]["accesses"][-1] == 2
    sharing = client.get(f"{API}/statistics/sharing?days=7", **auth).json()
    assert sharing["days"] == 7 and sharing["pairs"][0]["provider"] == {"code": "civil", "name": "civil 部门"}
    assert sharing["overdue"]["count"] == 1 and sharing["overdue"]["rows"][0]["days_overdue"] == 1
    services = client.get(f"{API}/statistics/services", **auth).json()
    assert services["reuse"]["materials"] == 1 and services["ratings"]["by_level"][1]["count"] == 1
    assert client.get(f"{API}/statistics/sharing?days=0", **auth).status_code == 422


def test_statistics_api_scope_and_envelopes(client, figures):
    market = client.get(f"{API}/statistics", **bearer(official_user("market", "clerk"))).json()
    assert market["department"] == "market" and market["figures"]["applications"] == 1
    assert market["figures"]["accesses"] == 0
    auditor = client.get(f"{API}/statistics/services", **bearer(official_user("bureau", "auditor", is_bureau=True)))
    assert auditor.status_code == 200 and auditor.json()["department"] is None
    citizen = client.get(f"{API}/statistics", **bearer(citizen_applicant()[0]))
    assert citizen.status_code == 403 and citizen.json()["error"]["code"] == "permission_denied"
    anonymous = client.get(f"{API}/statistics/sharing")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"


def test_cockpit_pages_render_charts_with_tables(client, figures):
    client.force_login(official_user("bureau", "bureau_admin", "cdo", is_bureau=True))
    page = client.get("/cockpit/")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="overview-figures"' in body
    assert 'data-testid="trend-table"' in body
    options = chart_options(body)
    assert set(options) == {"trend-chart"} and options["trend-chart"]["series"][0]["data"][-1] == 2
    assert 'aria-current="page"' in body and "echarts" in body

    body = client.get("/cockpit/sharing/").content.decode()
    options = chart_options(body)
    assert set(options) == {"flow-chart", "times-chart"}
    assert options["flow-chart"]["series"][0]["type"] == "sankey"
    assert options["flow-chart"]["series"][0]["links"][0]["value"] == 2
    assert all(f'data-testid="{t}"' in body for t in ("pairs-table", "times-table", "overdue-table"))
    assert 'data-testid="pair-row" data-provider="civil" data-consumer="health"' in body

    body = client.get("/cockpit/services/").content.decode()
    options = chart_options(body)
    assert set(options) == {"status-chart", "rating-chart"} and options["rating-chart"]["series"][0]["type"] == "pie"
    assert 'data-testid="status-table"' in body and 'data-testid="rating-row" data-level="4"' in body
    assert 'data-testid="service-department-row" data-department="market"' in body
    assert "<script>" not in body  # no inline script (CSP)


def test_cockpit_pages_scope(client, figures):
    client.force_login(official_user("health", "approver"))
    body = client.get("/cockpit/sharing/").content.decode()
    assert 'data-provider="civil" data-consumer="health"' in body
    client.force_login(official_user("market", "clerk"))
    body = client.get("/cockpit/sharing/").content.decode()
    assert 'data-testid="no-pairs"' in body and 'data-testid="flow-chart"' not in body
    client.force_login(citizen_applicant()[0])
    for url in ("/cockpit/", "/cockpit/sharing/", "/cockpit/services/"):
        assert client.get(url).status_code == 403
    client.logout()
    assert client.get("/cockpit/").status_code == 302  # to the login


def test_pages_in_english(client, figures):
    client.force_login(official_user("bureau", "bureau_admin", "cdo", is_bureau=True))
    client.cookies["tongban_language"] = "en"
    body = client.get("/cockpit/sharing/").content.decode()
    nodes = [n["name"] for n in chart_options(body)["flow-chart"]["series"][0]["data"]]
    assert nodes == ["civil 部门 (provides)", "health 部门 (uses)"] and "Sharing flows" in body
