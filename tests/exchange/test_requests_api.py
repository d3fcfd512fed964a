"""The requests and grants API: the §7 contract, envelopes and status codes."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from tests.exchange.factories import enterprise_resource, official, person_resource, system_token
from tests.exchange.factories_requests import approved_grant, pending_request
from tongban.exchange.models import AccessRequest, Grant
from tongban.identity import tokens
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def bearer(actor) -> dict:
    with transaction.atomic():
        key = tokens.issue_user_token(User.objects.get(pk=actor.user_id)).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def body(resource_code: str, **over) -> dict:
    return {"resource": resource_code, "items": ["id_number", "name"], "modes": ["query"], "purpose": "核查婚姻状况",
            "legal_basis": "《浙江省公共数据条例》", "duration_days": 90, **over}


def post(client, url, data, auth):
    return client.post(url, data, content_type="application/json", **auth)


def test_submit_conditional_and_decide(client):
    resource = person_resource("civil")
    consumer = bearer(official("health", "clerk"))
    created = post(client, "/api/v1/exchange/requests", body(resource.code), consumer)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "pending" and data["grant"] is None and data["overdue"] is False
    assert data["due_on"] and data["provider"] == "civil" and data["consumer"] == "health"
    assert data["resource_name"] == "婚姻登记信息"

    url = f"/api/v1/exchange/requests/{data['id']}/decision"
    provider = bearer(official("civil", "approver"))
    missing = post(client, url, {"approve": True, "reason": ""}, provider)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "reason_required"
    assert post(client, url, {"approve": True, "reason": "同意"}, consumer).status_code == 403
    assert post(client, url, {"approve": True, "reason": "同意"}, bearer(official("hr", "approver"))).status_code == 404
    decided = post(client, url, {"approve": True, "reason": "同意", "clear_items": ["name"],
                                 "rate_limit_per_minute": 100}, provider)
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved" and decided.json()["grant"]
    again = post(client, url, {"approve": False, "reason": "撤回"}, provider)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_pending"

    grant = client.get(f"/api/v1/exchange/grants/{decided.json()['grant']}", **consumer).json()
    assert grant["state"] == "active" and grant["clear_items"] == ["name"] and grant["rate_limit_per_minute"] == 100
    assert grant["resource"] == resource.code and grant["modes"] == ["query"]


def test_open_share_answers_with_the_grant(client):
    resource = enterprise_resource("market", sharing="open_share")
    response = post(client, "/api/v1/exchange/requests",
                    body(resource.code, items=["uscc", "org_name"], modes=["verify"]),
                    bearer(official("health", "steward")))
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "approved" and data["decided_by"] == "system:auto-approval"
    assert data["grant"] == Grant.objects.get(request_id=data["id"]).pk


def test_error_envelopes(client):
    resource = person_resource("civil", sharing="no_share")
    consumer = bearer(official("health", "clerk"))
    url = "/api/v1/exchange/requests"
    refused = post(client, url, body(resource.code, modes=["verify"]), consumer)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "not_shared"
    unknown = post(client, url, body(person_resource("civil").code, items=["name", "salary"]), consumer)
    error = unknown.json()["error"]
    assert unknown.status_code == 422 and error["code"] == "unknown_item" and error["details"]["unknown"] == ["salary"]
    own = post(client, url, body(person_resource("health").code), consumer)
    assert own.status_code == 422 and own.json()["error"]["code"] == "own_resource"
    assert post(client, url, body("NOPE-0001"), consumer).status_code == 404
    assert post(client, url, {"resource": "x"}, consumer).status_code == 422  # schema
    assert client.post(url, body(resource.code), content_type="application/json").status_code == 401
    system = {"HTTP_AUTHORIZATION": f"Bearer {system_token('health', 'exchange:query')}"}
    assert post(client, url, body(person_resource("civil").code), system).status_code == 403
    pending = pending_request("civil", "health")
    dup = post(client, url, body(pending.resource_code), consumer)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "request_pending"


def test_lists_escalate_withdraw(client):
    mine = pending_request("civil", "health")
    theirs = pending_request("market", "hr")
    AccessRequest.objects.filter(pk=mine.pk).update(due_on=datetime.date(2020, 1, 2))
    civil = bearer(official("civil", "approver"))
    listed = client.get("/api/v1/exchange/requests", {"side": "provider"}, **civil).json()
    assert [r["id"] for r in listed["items"]] == [mine.pk] and listed["items"][0]["overdue"] is True
    assert client.get("/api/v1/exchange/requests", {"side": "consumer"}, **civil).json()["count"] == 0
    assert client.get("/api/v1/exchange/requests", {"side": "nope"}, **civil).status_code == 422
    assert client.get(f"/api/v1/exchange/requests/{theirs.pk}", **civil).status_code == 404

    bureau = bearer(official("bureau", "bureau_admin", "cdo", is_bureau=True))
    overdue = client.get("/api/v1/exchange/requests", {"overdue": "true"}, **bureau).json()
    assert [r["id"] for r in overdue["items"]] == [mine.pk]
    assert client.get("/api/v1/exchange/requests", **bureau).json()["count"] == 2
    escalate_url = f"/api/v1/exchange/requests/{mine.pk}/escalate"
    assert post(client, escalate_url, {"note": "请答复"}, civil).status_code == 403
    escalated = post(client, escalate_url, {"note": "请尽快答复"}, bureau)
    assert escalated.status_code == 200 and escalated.json()["escalation_note"] == "请尽快答复"

    withdraw_url = f"/api/v1/exchange/requests/{mine.pk}/withdraw"
    assert post(client, withdraw_url, {}, civil).status_code == 403
    health = bearer(official("health", "clerk"))
    assert post(client, withdraw_url, {}, health).json()["status"] == "withdrawn"
    assert post(client, withdraw_url, {}, health).status_code == 409


def test_grants_list_revoke_patch(client):
    grant = approved_grant("civil", "health", items=["id_number", "name", "sex"])
    other = approved_grant("market", "hr")
    health = bearer(official("health", "clerk"))
    listed = client.get("/api/v1/exchange/grants", {"active": "true"}, **health).json()
    assert [g["id"] for g in listed["items"]] == [grant.pk] and listed["items"][0]["state"] == "active"
    assert client.get(f"/api/v1/exchange/grants/{other.pk}", **health).status_code == 404

    civil = bearer(official("civil", "steward"))
    url = f"/api/v1/exchange/grants/{grant.pk}"
    later = (grant.expires_at + datetime.timedelta(days=1)).isoformat()
    extended = client.patch(url, {"expires_at": later}, content_type="application/json", **civil)
    assert extended.status_code == 422 and extended.json()["error"]["code"] == "expiry_extended"
    assert client.patch(url, {"rate_limit_per_minute": 5}, content_type="application/json", **health).status_code == 403
    patched = client.patch(url, {"rate_limit_per_minute": 5, "clear_items": ["sex"]}, content_type="application/json",
                           **civil)
    assert patched.status_code == 200 and patched.json()["rate_limit_per_minute"] == 5

    assert post(client, f"{url}/revoke", {"reason": "撤销"}, health).status_code == 403
    revoked = post(client, f"{url}/revoke", {"reason": "业务终止"}, civil)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    again = post(client, f"{url}/revoke", {"reason": "业务终止"}, civil)
    assert again.status_code == 409 and again.json()["error"]["code"] == "grant_revoked"
    assert client.get("/api/v1/exchange/grants", {"active": "true"}, **health).json()["count"] == 0
