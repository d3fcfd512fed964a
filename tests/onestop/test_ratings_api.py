"""The ratings API: POST /onestop/applications/{number}/rating, GET /onestop/tickets,
POST /onestop/tickets/{id}/reply — status codes and error envelopes."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.onestop.factories import approver, bureau_admin, citizen_applicant, clerk, service_item
from tests.onestop.factories_ratings import application
from tongban.identity import tokens
from tongban.onestop.models import Application

pytestmark = pytest.mark.django_db
API = "/api/v1/onestop"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def bearer(user) -> dict:
    with transaction.atomic():
        key = tokens.issue_user_token(user).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client, url, data, auth):
    return client.post(url, data, content_type="application/json", **auth)


def test_rate_reply_rerate_over_the_api(client):
    user, _ = citizen_applicant()
    app = application(service_item("market"), user)
    me = bearer(user)
    url = f"{API}/applications/{app.number}/rating"
    assert post(client, url, {"level": 5}, {}).status_code == 401
    bad = post(client, url, {"level": 2}, me)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "reason_required"
    assert post(client, url, {"level": 5, "tags": ["long_wait"]}, me).json()["error"]["code"] == "invalid_tags"
    created = post(client, url, {"level": 2, "tags": ["long_wait"], "comment": "等了很久"}, me)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["level"] == 2 and data["level_label"] == "Dissatisfied" and data["ticket"]["status"] == "open"
    again = post(client, url, {"level": 5}, me)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"

    ticket_id = data["ticket"]["id"]
    market = bearer(clerk("market"))
    listed = client.get(f"{API}/tickets", **market).json()
    assert listed["count"] == 1 and listed["items"][0]["application"] == app.number
    assert listed["items"][0]["comment"] == "等了很久" and listed["items"][0]["overdue"] is False
    assert client.get(f"{API}/tickets", **bearer(approver("health"))).json()["count"] == 0
    assert client.get(f"{API}/tickets?status=open", **bearer(bureau_admin())).json()["count"] == 1
    assert client.get(f"{API}/tickets", **me).status_code == 403

    other = post(client, f"{API}/tickets/{ticket_id}/reply", {"reply": "整改"}, bearer(approver("health")))
    assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
    empty = post(client, f"{API}/tickets/{ticket_id}/reply", {"reply": ""}, market)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "reply_required"
    replied = post(client, f"{API}/tickets/{ticket_id}/reply", {"reply": "已增设取号窗口"}, market)
    assert replied.status_code == 200 and replied.json()["status"] == "replied"
    assert post(client, f"{API}/tickets/{ticket_id}/reply", {"reply": "再答"}, market).status_code == 409

    state = client.get(url, **me).json()
    assert state["can_rate"] and state["current"]["ticket"]["reply"] == "已增设取号窗口"
    rerated = post(client, url, {"level": 4, "tags": ["quick"]}, me)
    assert rerated.status_code == 201 and rerated.json()["is_current"]
    state = client.get(url, **me).json()
    assert not state["can_rate"] and state["current"]["level"] == 4
    assert [r["level"] for r in state["history"]] == [2] and state["history"][0]["ticket"]["status"] == "closed"


def test_rate_needs_a_finished_application_of_mine(client):
    user, _ = citizen_applicant()
    app = application(service_item("market"), user, status=Application.Status.UNDER_REVIEW)
    url = f"{API}/applications/{app.number}/rating"
    assert post(client, url, {"level": 5}, bearer(user)).json()["error"]["code"] == "not_ratable"
    stranger, _ = citizen_applicant()
    assert post(client, url, {"level": 5}, bearer(stranger)).status_code == 404
    assert client.get(url, **bearer(stranger)).status_code == 404
    tags = client.get(f"{API}/rating-tags").json()
    assert "quick" in tags["levels"]["5"] and "long_wait" in tags["levels"]["1"]
