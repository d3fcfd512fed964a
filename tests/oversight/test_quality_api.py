"""The data quality API: GET /api/v1/oversight/quality, GET /api/v1/oversight/quality/{code},
POST /api/v1/oversight/quality/recompute — shapes, scope and the error envelope."""

from __future__ import annotations

import pytest

from tests.catalog.factories import bureau
from tests.exchange.factories import id_number, official, person_resource, person_row, steward
from tests.identity.factories import make_citizen_user
from tests.oversight.test_quality_services import craft, load
from tongban.core.models import Job
from tongban.identity import tokens
from tongban.identity.models import User
from tongban.oversight.models import QualityScore
from tongban.oversight.services import quality

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def auth(actor_or_user) -> dict:
    user = actor_or_user if isinstance(actor_or_user, User) else User.objects.get(username=actor_or_user.username)
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.issue_user_token(user).key}"}


@pytest.fixture
def scene():
    civil = person_resource("civil")
    health = person_resource("health", name="居民健康档案")
    load(civil, [person_row(1), person_row(2)])
    craft(civil, id_number(3), person_row(3, name=""))
    load(health, [person_row(1)])
    quality.compute_all()
    return {"civil": civil, "health": health}


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and set(error["messages"]) == {"zh-hans", "en"}


def test_list_is_the_latest_per_resource_in_scope(client, scene):
    body = client.get("/api/v1/oversight/quality", **auth(bureau())).json()
    assert body["count"] == 2 and {row["resource"] for row in body["items"]} == {scene["civil"].code, scene["health"].code}
    row = next(r for r in body["items"] if r["resource"] == scene["civil"].code)
    assert set(row) == {"id", "resource", "resource_name", "department", "department_name", "computed_at", "records",
                        "completeness", "validity", "timeliness", "uniqueness", "consistency", "score"}
    assert row["department"] == "civil" and row["records"] == 3 and row["completeness"] == round(100 * 5 / 6, 2)
    scores = [r["score"] for r in body["items"]]
    assert scores == sorted(scores, reverse=True)

    filtered = client.get("/api/v1/oversight/quality?department=health", **auth(bureau())).json()
    assert [r["resource"] for r in filtered["items"]] == [scene["health"].code]
    own = client.get("/api/v1/oversight/quality", **auth(steward("civil"))).json()
    assert [r["resource"] for r in own["items"]] == [scene["civil"].code]


def test_detail_has_history_and_worst_rows_for_those_allowed(client, scene):
    quality.compute_resource(scene["civil"].code)
    code = scene["civil"].code
    body = client.get(f"/api/v1/oversight/quality/{code}", **auth(steward("civil"))).json()
    assert body["resource"] == code and len(body["history"]) == 2
    assert body["latest"]["id"] == body["history"][0]["id"] == QualityScore.objects.filter(resource_code=code).latest("pk").pk
    assert body["details"]["completeness"]["filled"] == 5 and "weights" in body["details"]
    assert body["issues_visible"] is True
    assert body["issues"] == [{"dimension": "completeness", "subject": id_number(3), "item": "name",
                               "problem": body["issues"][0]["problem"]}]
    clerk = client.get(f"/api/v1/oversight/quality/{code}", **auth(official("civil", "clerk"))).json()
    assert clerk["issues_visible"] is False and clerk["issues"] is None


def test_scope_errors_use_the_envelope(client, scene):
    code = scene["civil"].code
    assert_error(client.get(f"/api/v1/oversight/quality/{code}", **auth(steward("health"))), 404, "not_found")
    assert_error(client.get("/api/v1/oversight/quality?department=civil", **auth(steward("health"))), 403,
                 "permission_denied")
    citizen = make_citizen_user("quality-api-citizen")
    assert_error(client.get("/api/v1/oversight/quality", **auth(citizen)), 403, "permission_denied")
    assert_error(client.get("/api/v1/oversight/quality"), 401, "not_authenticated")
    assert_error(client.get("/api/v1/oversight/quality/nowhere-00001", **auth(bureau())), 404, "not_found")


def test_recompute_starts_a_job_for_managers_only(client, scene, django_capture_on_commit_callbacks):
    code = scene["civil"].code
    auditor = official("bureau", "auditor", is_bureau=True)
    assert_error(client.post("/api/v1/oversight/quality/recompute", data={}, content_type="application/json",
                             **auth(auditor)), 403, "permission_denied")
    assert client.get(f"/api/v1/oversight/quality/{code}", **auth(auditor)).status_code == 200  # reads, though
    admin = bureau()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/oversight/quality/recompute", data={"resource": code},
                               content_type="application/json", **auth(admin))
    assert response.status_code == 202, response.content
    started = response.json()
    assert started["url"] == f"/api/v1/jobs/{started['job']}"
    job = client.get(started["url"], **auth(admin)).json()
    assert job["status"] == Job.Status.SUCCEEDED and job["result"]["count"] == 1
    assert QualityScore.objects.filter(resource_code=code).count() == 2

    assert_error(client.post("/api/v1/oversight/quality/recompute", data={"resource": "nowhere-00001"},
                             content_type="application/json", **auth(admin)), 404, "not_found")
