"""The assessment over the API (GET /assessment, /assessment/export.xlsx, /assessment/trend,
POST /assessment/compute) and the page /cockpit/assessment/ with its download and compute form."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.db import transaction

from tests.onestop.factories import citizen_applicant, official_user
from tests.oversight import test_stats_builders as b
from tests.oversight.test_stats_api import chart_options
from tongban.identity import tokens
from tongban.oversight.models import AssessmentScore
from tongban.oversight.services import assessment

pytestmark = pytest.mark.django_db
API = "/api/v1/oversight"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def bearer(user) -> dict:
    with transaction.atomic():
        key = tokens.issue_user_token(user).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def departments():
    """civil: every resource loaded; market: half of them."""
    b.resource("civil", records=1, quality_score=90)
    b.resource("market", records=1, quality_score=50)
    b.resource("market", quality_score=50)


@pytest.fixture
def bureau():
    return official_user("bureau", "bureau_admin", "cdo", is_bureau=True)


def test_compute_then_read_over_the_api(client, departments, bureau):
    auth = bearer(bureau)
    computed = client.post(f"{API}/assessment/compute", {"period": b.PERIOD}, content_type="application/json", **auth)
    assert computed.status_code == 200, computed.content
    data = computed.json()
    assert data["period"] == b.PERIOD and data["stored"] is True
    assert [(r["department"]["code"], r["rank"]) for r in data["rows"]] == [("civil", 1), ("market", 2)]
    assert data["rows"][0]["indicators"]["catalog_completeness"] == 100.0
    assert data["rows"][1]["indicators"]["catalog_completeness"] == 50.0
    assert data["rows"][1]["indicators"]["service_rating"] is None
    assert {i["key"] for i in data["indicators"]} == set(assessment.INDICATORS)
    listed = client.get(f"{API}/assessment", **auth).json()  # the newest stored period
    assert listed["period"] == b.PERIOD and listed["periods"] == [b.PERIOD] and listed["computed_at"]
    market = client.get(f"{API}/assessment?period={b.PERIOD}", **bearer(official_user("market", "steward"))).json()
    assert [(r["department"]["code"], r["rank"]) for r in market["rows"]] == [("market", 2)]
    trend = client.get(f"{API}/assessment/trend?department=market", **auth).json()
    assert trend["points"][0]["period"] == b.PERIOD and trend["points"][0]["rank"] == 2
    empty = client.post(f"{API}/assessment/compute", {}, content_type="application/json", **auth)
    assert empty.status_code == 200 and empty.json()["period"] == assessment.current_period()


def test_assessment_api_refusals(client, departments, bureau):
    url = f"{API}/assessment/compute"
    auditor = bearer(official_user("bureau", "auditor", is_bureau=True))
    refused = client.post(url, {"period": b.PERIOD}, content_type="application/json", **auditor)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert client.get(f"{API}/assessment?period={b.PERIOD}", **auditor).status_code == 200
    steward = bearer(official_user("civil", "dept_admin"))
    assert client.post(url, {"period": b.PERIOD}, content_type="application/json", **steward).status_code == 403
    assert client.get(f"{API}/assessment/trend?department=market", **steward).status_code == 403
    citizen = bearer(citizen_applicant()[0])
    assert client.get(f"{API}/assessment", **citizen).json()["error"]["code"] == "permission_denied"
    assert client.get(f"{API}/assessment/export.xlsx", **citizen).status_code == 403
    assert client.get(f"{API}/assessment").status_code == 401
    bad = client.get(f"{API}/assessment?period=2026-13", **bearer(bureau))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_period"
    assert not AssessmentScore.objects.exists()


def test_xlsx_over_the_api(client, departments, bureau):
    with transaction.atomic():
        assessment.compute(b.PERIOD)
    response = client.get(f"{API}/assessment/export.xlsx?period={b.PERIOD}", **bearer(bureau))
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert f'filename="assessment-{b.PERIOD}.xlsx"' in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert [r[1] for r in book["排名 Ranking"].iter_rows(min_row=2, values_only=True)] == ["civil", "market"]


def test_assessment_page(client, departments, bureau):
    with transaction.atomic():
        assessment.compute(b.PERIOD)
    client.force_login(bureau)
    page = client.get("/cockpit/assessment/")
    body = page.content.decode()
    assert page.status_code == 200
    options = chart_options(body)
    assert set(options) == {"ranking-chart", "assessment-trend-chart"}
    assert options["ranking-chart"]["series"][0]["data"] == [
        s.total for s in AssessmentScore.objects.order_by("rank")]
    assert 'data-testid="ranking-row" data-department="civil"' in body and 'data-testid="weights-table"' in body
    assert 'data-testid="assessment-trend-table"' in body and 'data-testid="compute-form"' in body
    assert f'href="/cockpit/assessment/export.xlsx?period={b.PERIOD}"' in body
    download = client.get(f"/cockpit/assessment/export.xlsx?period={b.PERIOD}")
    assert download.status_code == 200 and download["Content-Type"] == XLSX
    body = client.get(f"/cockpit/assessment/?period={b.PERIOD}&department=market").content.decode()
    assert chart_options(body)["assessment-trend-chart"]["series"][0]["data"] == [
        AssessmentScore.objects.get(department__code="market").total]


def test_assessment_page_of_a_department_and_refusals(client, departments):
    client.force_login(official_user("market", "clerk"))
    body = client.get("/cockpit/assessment/").content.decode()
    assert 'data-department="market"' not in body  # nothing stored yet: a department does not trigger evaluation
    assessment.compute(b.PERIOD)
    body = client.get(f"/cockpit/assessment/?period={b.PERIOD}").content.decode()
    assert 'data-department="market"' in body and 'data-department="civil"' not in body
    assert 'data-testid="compute-form"' not in body and 'data-testid="assessment-state"' in body
    assert client.post("/cockpit/assessment/compute/", {"period": b.PERIOD}).status_code == 403
    assert client.get("/cockpit/assessment/?department=civil").status_code == 403
    client.force_login(citizen_applicant()[0])
    assert client.get("/cockpit/assessment/").status_code == 403


def test_compute_from_the_page(client, departments, bureau):
    client.force_login(bureau)
    body = client.get("/cockpit/assessment/").content.decode()
    assert 'data-testid="ranking-chart"' in body  # evaluated now, not stored yet
    done = client.post("/cockpit/assessment/compute/", {"period": b.PERIOD})
    assert done.status_code == 302 and done["Location"] == f"/cockpit/assessment/?period={b.PERIOD}"
    assert AssessmentScore.objects.filter(period=b.PERIOD).count() == 2
    bad = client.post("/cockpit/assessment/compute/", {"period": "soon"}, follow=True)
    assert bad.status_code == 200 and AssessmentScore.objects.count() == 2
