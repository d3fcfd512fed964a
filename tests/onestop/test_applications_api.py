"""The applications API (§7): shapes, status codes, error envelopes."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.identity import tokens

pytestmark = pytest.mark.django_db
BASE = "/api/v1/onestop"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path


def bearer(user) -> dict:
    with transaction.atomic():
        key = tokens.issue_user_token(user).key
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client, url, auth, data=None):
    return client.post(url, data or {}, content_type="application/json", **auth)


def test_apply_with_prefill_then_submit_and_the_window(client):
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    item = fa.prefill_item()
    me = bearer(user)

    started = post(client, f"{BASE}/applications", me, {"item": item.code, "form": {"years": "3"}})
    assert started.status_code == 201, started.content
    data = started.json()
    number = data["number"]
    assert data["status"] == "draft" and data["form"]["years"] == 3
    assert data["prefilled"]["name"] == {"value": "王五", "resource": fa.CIVIL, "item": "name"}
    assert data["reused_count"] == 1 and list(data["reused"].values())[0]["source"] == "shared_data"
    assert {m.get("field") or m.get("name") for m in data["missing"]} == {"reason", "结婚证", "本人照片"}
    assert data["timeline"][0]["to_status"] == "draft"

    bad = client.patch(f"{BASE}/applications/{number}", {"form": {"name": "别人", "years": "x"}},
                       content_type="application/json", **me)
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_form" and set(error["details"]["fields"]) == {"name", "years"}
    saved = client.patch(f"{BASE}/applications/{number}", {"form": {"reason": "申请"}},
                         content_type="application/json", **me)
    assert saved.status_code == 200 and saved.json()["form"]["reason"] == "申请"

    incomplete = post(client, f"{BASE}/applications/{number}/submit", me)
    assert incomplete.status_code == 422
    assert incomplete.json()["error"]["code"] == "incomplete_application"
    assert len(incomplete.json()["error"]["details"]["missing"]) == 2

    materials = fa.materials(item)
    for material in (materials["certificate"], materials["upload"]):
        uploaded = client.post(f"{BASE}/applications/{number}/uploads",
                               {"material": material.pk, "file": SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n0")},
                               **me)
        assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["content_type"] == "image/png"
    not_allowed = client.post(f"{BASE}/applications/{number}/uploads",
                              {"material": materials["upload"].pk, "file": SimpleUploadedFile("a.gif", b"GIF89a")}, **me)
    assert not_allowed.status_code == 422 and not_allowed.json()["error"]["code"] == "file_type_not_allowed"
    removable = client.post(f"{BASE}/applications/{number}/uploads",
                            {"material": materials["upload"].pk, "file": SimpleUploadedFile("b.pdf", b"%PDF-1.4")},
                            **me).json()["id"]
    assert client.delete(f"{BASE}/applications/{number}/uploads/{removable}", **me).status_code == 204

    submitted = post(client, f"{BASE}/applications/{number}/submit", me)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    again = post(client, f"{BASE}/applications/{number}/submit", me)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "illegal_transition"
    assert again.json()["error"]["details"] == {"number": number, "from": "submitted", "to": "submitted"}

    clerk = bearer(f.clerk("civil"))
    queue = client.get(f"{BASE}/applications?queue=clerk", **clerk)
    assert queue.status_code == 200 and [r["number"] for r in queue.json()["items"]] == [number]
    assert client.get(f"{BASE}/applications/{number}", **bearer(f.clerk("hr"))).status_code == 404
    assert post(client, f"{BASE}/applications/{number}/accept", bearer(f.clerk("hr"))).status_code == 404
    assert post(client, f"{BASE}/applications/{number}/accept", me).status_code == 403
    supplement = post(client, f"{BASE}/applications/{number}/supplement", clerk,
                      {"problems": [{"field": "reason", "reason": "请写明原因"}]})
    assert supplement.status_code == 200 and supplement.json()["status"] == "supplement_requested"
    assert supplement.json()["supplement"][0]["reason"] == "请写明原因"
    client.patch(f"{BASE}/applications/{number}", {"form": {"reason": "为本人申请"}}, content_type="application/json",
                 **me)
    assert post(client, f"{BASE}/applications/{number}/submit", me).json()["status"] == "submitted"
    missing_reason = post(client, f"{BASE}/applications/{number}/refuse", clerk, {"reason": ""})
    assert missing_reason.status_code == 422 and missing_reason.json()["error"]["code"] == "reason_required"
    accepted = post(client, f"{BASE}/applications/{number}/accept", clerk)
    assert accepted.status_code == 200
    body = accepted.json()
    assert body["status"] == "under_review" and body["due_on"] and body["overdue"] is False
    task = body["tasks"][0]
    assert task["department"] == "civil" and task["status"] == "pending"

    tasks = client.get(f"{BASE}/applications?queue=tasks", **clerk).json()
    assert tasks["queue"] == "tasks" and tasks["items"][0]["task"]["id"] == task["id"]
    decided = post(client, f"{BASE}/tasks/{task['id']}/decision", bearer(f.approver("civil")),
                   {"approve": True, "opinion": "同意"})
    assert decided.status_code == 200, decided.content
    assert decided.json()["task"]["status"] == "approved"
    assert decided.json()["application"]["status"] == "completed"
    assert post(client, f"{BASE}/tasks/{task['id']}/decision", bearer(f.approver("civil")),
                {"approve": True, "opinion": "同意"}).status_code == 409

    mine = client.get("/api/v1/me/applications", **me)
    assert mine.status_code == 200 and mine.json()["items"][0]["number"] == number
    assert mine.json()["items"][0]["status"] == "completed"
    assert client.get("/api/v1/me/applications", **clerk).status_code == 403
    assert client.get(f"{BASE}/applications", **me).json()["queue"] == "mine"


def test_refuse_withdraw_and_unknown_queue(client):
    item = f.service_item("civil")
    application, user = fa.submitted(item)
    clerk = bearer(f.clerk("civil"))
    refused = post(client, f"{BASE}/applications/{application.number}/refuse", clerk, {"reason": "材料不全"})
    assert refused.status_code == 200 and refused.json()["reason"] == "材料不全"
    withdrawn = post(client, f"{BASE}/applications/{application.number}/withdraw", bearer(user))
    assert withdrawn.status_code == 409
    second, user2 = fa.submitted(item)
    assert post(client, f"{BASE}/applications/{second.number}/withdraw", bearer(user2)).json()["status"] == "withdrawn"
    assert client.get(f"{BASE}/applications?queue=nope", **clerk).status_code == 422
    assert client.get(f"{BASE}/applications/{second.number}").status_code == 401


def test_rules_endpoints(client):
    item = f.service_item("civil", form_schema=[{"key": "age", "label": "年龄", "type": "number"}])
    admin = bearer(f.dept_admin("civil"))
    rule = {">=": [{"var": "form.age"}, 80]}
    created = post(client, f"{BASE}/items/{item.code}/rules", admin, {"logic": rule, "description": "80 岁以上"})
    assert created.status_code == 201, created.content
    assert created.json()["version"] == 1 and created.json()["is_current"] is True
    bad = post(client, f"{BASE}/items/{item.code}/rules", admin, {"logic": {"==": [{"var": "form.ag"}, 1]}})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["problems"][0]["variable"] == "form.ag"
    assert post(client, f"{BASE}/items/{item.code}/rules", bearer(f.clerk("civil")), {"logic": rule}).status_code == 403
    tried = post(client, f"{BASE}/items/{item.code}/rules/test", admin, {"logic": rule, "sample": {"form": {"age": 85}}})
    assert tried.status_code == 200
    assert tried.json()["passed"] is True and tried.json()["reasons"][0]["condition"] == "年龄 ≥ 80 (年龄 = 85)"
