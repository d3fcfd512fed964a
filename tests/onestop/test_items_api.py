"""The items API: the public list and guide (no login; personalised with one), and the officials'
create / change / publish / withdraw with their 401 / 403 / 404 / 409 / 422 answers."""

from __future__ import annotations

import json

import pytest

from tests.exchange.factories import person_resource
from tests.identity.factories import PASSWORD
from tests.onestop import factories as f
from tongban.onestop.models import ServiceItem

pytestmark = pytest.mark.django_db


def _token(client, user) -> dict:
    body = json.dumps({"username": user.username, "password": PASSWORD})
    token = client.post("/api/v1/auth/token", data=body, content_type="application/json").json()["access_token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post(client, path, body=None, **extra):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json", **extra)


NEW = {"code": "330000-civil-A-0001", "basic_code": "000209013000", "name": "婚姻登记记录证明",
       "item_type": "confirmation", "applicant_kind": "citizen", "legal_basis": "《婚姻登记条例》",
       "conditions": "本人", "statutory_days": 5, "promised_days": 1, "theme": "civil_affairs",
       "materials": [{"name": "照片", "source": "upload"}]}


@pytest.fixture
def catalog_items():
    f.service_item("civil", code="330000-civil-A-0100", name="高龄津贴申领", life_events=["elderly"], theme="elderly")
    f.service_item("market", code="330000-market-A-0100", name="食品经营许可", co_departments=("health",),
                   applicant_kind="enterprise", instant_rule={"==": [1, 1]}, visits=1)
    f.service_item("civil", code="330000-civil-A-0101", name="草稿", status="draft")


def test_public_list_and_filters(client, catalog_items):
    body = client.get("/api/v1/onestop/items").json()
    assert body["count"] == 2
    listed = {entry["code"]: entry for entry in body["items"]}
    food = listed["330000-market-A-0100"]
    assert (food["instant_approval"], food["department"], food["visits"], food["promised_days"]) == (
        True, "market", 1, 5)
    assert listed["330000-civil-A-0100"]["instant_approval"] is False
    assert set(food) >= {"code", "name", "item_type", "department", "promised_days", "visits", "instant_approval"}
    assert client.get("/api/v1/onestop/items?q=津贴").json()["count"] == 1
    assert client.get("/api/v1/onestop/items?department=health").json()["items"][0]["code"] == "330000-market-A-0100"
    assert client.get("/api/v1/onestop/items?life_event=elderly&theme=elderly").json()["count"] == 1


def test_public_guide(client, catalog_items):
    body = client.get("/api/v1/onestop/items/330000-market-A-0100").json()
    assert body["instant_approval"] is True and body["parallel"] is True
    assert body["co_departments"][0]["code"] == "health" and body["personalised"] is False
    assert client.get("/api/v1/onestop/items/330000-civil-A-0101").status_code == 404  # a draft
    assert client.get("/api/v1/onestop/items/nothing").status_code == 404


def test_guide_is_personalised_with_a_token(client, catalog_items):
    user, _ = f.citizen_applicant()
    assert client.get("/api/v1/onestop/items/330000-civil-A-0100", **_token(client, user)).json()["personalised"]
    client.force_login(user)
    assert client.get("/api/v1/onestop/items/330000-civil-A-0100").json()["personalised"]


def test_officials_maintain_items(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    person_resource("civil")
    steward = _token(client, f.steward("civil"))
    assert _post(client, "/api/v1/onestop/items", NEW).status_code == 401
    citizen, _ = f.citizen_applicant()
    assert _post(client, "/api/v1/onestop/items", NEW, **_token(client, citizen)).status_code == 403
    created = _post(client, "/api/v1/onestop/items", NEW, **steward)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    code = NEW["code"]
    bad = client.patch(f"/api/v1/onestop/items/{code}", data=json.dumps({"promised_days": 9}),
                       content_type="application/json", **steward)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_item"
    assert bad.json()["error"]["details"]["errors"][0]["field"] == "promised_days"
    changed = client.patch(f"/api/v1/onestop/items/{code}", data=json.dumps({"name": "新名称"}),
                           content_type="application/json", **steward)
    assert changed.status_code == 200 and changed.json()["name"] == "新名称"
    other = _token(client, f.steward("market"))
    assert _post(client, f"/api/v1/onestop/items/{code}/publish", **other).status_code == 404
    assert _post(client, f"/api/v1/onestop/items/{code}/publish", **steward).json()["status"] == "published"
    assert _post(client, f"/api/v1/onestop/items/{code}/publish", **steward).status_code == 409
    assert _post(client, f"/api/v1/onestop/items/{code}/withdraw", {"reason": "x"}, **other).status_code == 403
    assert _post(client, f"/api/v1/onestop/items/{code}/withdraw", {"reason": "x"}, **steward).json()["status"] == (
        "withdrawn")
    assert ServiceItem.objects.get(code=code).status == "withdrawn"
    assert _post(client, "/api/v1/onestop/items", {**NEW, "code": "x"}, **steward).status_code == 422
