"""Catalog API: the public contract (list/search, detail, create) and the lifecycle calls."""

from __future__ import annotations

import json

import pytest

from tests.catalog.factories import bureau, enterprise_items, publish, resource_data, steward
from tests.identity.factories import PASSWORD, make_citizen_user, make_department, make_official

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def call(client, method, path, body=None, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = json.dumps(body, default=str) if body is not None else None
    return client.generic(method, f"/api/v1{path}", data=data or "", content_type="application/json", **extra)


def login(client, username):
    response = call(client, "POST", "/auth/token", {"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


@pytest.fixture
def steward_token(client):
    make_official("api-steward", make_department("market"), ["steward"])
    return login(client, "api-steward")


@pytest.fixture
def bureau_token(client):
    make_official("api-bureau", make_department("bureau", is_bureau=True), ["bureau_admin", "cdo"])
    return login(client, "api-bureau")


def test_full_lifecycle_over_the_api(client, steward_token, bureau_token):
    created = call(client, "POST", "/catalog/resources", resource_data(), steward_token)
    assert created.status_code == 201, created.content
    body = created.json()
    code = body["code"]
    assert (body["status"], body["version"], body["subject_kind"]) == ("draft", 1, "citizen")
    assert body["items"][0]["is_subject_key"] and body["items"][0]["data_element"] == "DE00001"
    assert body["quality"]["max"] == 405
    updated = call(client, "PUT", f"/catalog/resources/{code}", resource_data(name="婚姻登记信息（新）"), steward_token)
    assert updated.json()["name"] == "婚姻登记信息（新）"
    assert call(client, "POST", f"/catalog/resources/{code}/submit", {}, steward_token).json()["status"] == "submitted"
    queue = call(client, "GET", "/catalog/review-queue", token=bureau_token).json()
    assert queue["count"] == 1 and queue["items"][0]["code"] == code
    rejected = call(client, "POST", f"/catalog/resources/{code}/review", {"approve": False}, bureau_token)
    assert rejected.status_code == 422 and rejected.json()["error"]["code"] == "comment_required"
    rejected = call(client, "POST", f"/catalog/resources/{code}/review", {"approve": False, "comment": "补充"},
                    bureau_token)
    assert rejected.json()["status"] == "draft"
    call(client, "POST", f"/catalog/resources/{code}/submit", {}, steward_token)
    published = call(client, "POST", f"/catalog/resources/{code}/review", {"approve": True}, bureau_token).json()
    assert published["status"] == "published" and published["quality_score"] > 0
    assert [r["decision"] for r in published["reviews"]] == ["publish", "submit", "reject", "submit"]
    revised = call(client, "POST", f"/catalog/resources/{code}/revise", {}, steward_token)
    assert revised.status_code == 201 and revised.json()["version"] == 2
    assert call(client, "POST", f"/catalog/resources/{code}/revise", {}, steward_token).status_code == 409
    deprecated = call(client, "POST", f"/catalog/resources/{code}/deprecate", {"reason": "停用"}, steward_token)
    assert deprecated.json()["status"] == "deprecated"
    mine = call(client, "GET", "/catalog/mine", token=steward_token).json()
    assert {(r["version"], r["status"]) for r in mine["items"]} == {(1, "deprecated"), (2, "draft")}


def test_create_errors_use_the_envelope(client, steward_token):
    response = call(client, "POST", "/catalog/resources", resource_data(sharing_basis=""), steward_token)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "sharing_basis_required"
    assert error["details"]["errors"][0]["field"] == "sharing_basis"
    two_keys = resource_data(items=resource_data()["items"] + [
        {"key": "uscc", "name": "统一社会信用代码", "data_type": "uscc", "is_subject_key": True}])
    response = call(client, "POST", "/catalog/resources", two_keys, steward_token)
    assert response.json()["error"]["code"] == "multiple_subject_keys"


def test_wrong_roles_are_refused(client, steward_token, bureau_token):
    make_citizen_user("api-citizen")
    citizen = login(client, "api-citizen")
    assert call(client, "POST", "/catalog/resources", resource_data(), citizen).status_code == 403
    assert call(client, "POST", "/catalog/resources", resource_data(), bureau_token).status_code == 403
    assert call(client, "POST", "/catalog/resources", resource_data()).status_code == 401
    code = call(client, "POST", "/catalog/resources", resource_data(), steward_token).json()["code"]
    call(client, "POST", f"/catalog/resources/{code}/submit", {}, steward_token)
    assert call(client, "POST", f"/catalog/resources/{code}/review", {"approve": True}, steward_token).status_code == 403
    assert call(client, "GET", "/catalog/review-queue", token=steward_token).status_code == 403


def test_other_departments_draft_is_404(client, steward_token):
    code = call(client, "POST", "/catalog/resources", resource_data(), steward_token).json()["code"]
    make_official("api-health", make_department("health"), ["steward"])
    health = login(client, "api-health")
    assert call(client, "GET", f"/catalog/resources/{code}", token=health).status_code == 404
    assert call(client, "PUT", f"/catalog/resources/{code}", resource_data(), health).status_code == 404
    assert call(client, "POST", f"/catalog/resources/{code}/submit", {}, health).status_code == 404
    assert call(client, "GET", f"/catalog/resources/{code}").status_code == 404


def test_public_list_and_detail(client):
    market, reviewer = steward(), bureau()
    closed = publish(market, reviewer, opening="closed")
    opened = publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open",
                     items=enterprise_items())
    listing = client.get("/api/v1/catalog/resources").json()
    assert listing["count"] == 1 and [r["code"] for r in listing["items"]] == [opened.code]
    assert client.get(f"/api/v1/catalog/resources/{closed.code}").status_code == 404
    detail = client.get(f"/api/v1/catalog/resources/{opened.code}").json()
    assert detail["subject_kind"] == "enterprise" and detail["reviews"] == []  # the public sees no review notes
    searched = client.get("/api/v1/catalog/resources", {"q": "企业", "facets": "true", "page_size": 5}).json()
    assert searched["count"] == 1 and searched["facets"]["opening"] == [
        {"value": "open", "label": "无条件开放", "count": 1}]
    bad = client.get("/api/v1/catalog/resources", {"page_size": 101})
    assert bad.status_code == 422
    assert client.get("/api/v1/catalog/resources", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


def test_signed_in_callers_see_every_published_resource(client):
    market, reviewer = steward(), bureau()
    publish(market, reviewer, opening="closed")
    make_citizen_user("api-citizen2")
    token = login(client, "api-citizen2")
    assert call(client, "GET", "/catalog/resources?opening=closed", token=token).json()["count"] == 1


def test_standards_are_public(client):
    elements = client.get("/api/v1/catalog/data-elements").json()
    assert {"DE00001", "DE00007"} <= {e["identifier"] for e in elements}
    sex = client.get("/api/v1/catalog/data-elements/DE00003").json()
    assert sex["code_list"] == "GB/T 2261.1-2003"
    lists = client.get("/api/v1/catalog/code-lists", {"identifier": "GB/T 2261.1-2003"}).json()
    assert [e["code"] for e in lists[0]["entries"]] == ["0", "1", "2", "9"]
    assert client.get("/api/v1/catalog/data-elements/DE99999").status_code == 404
