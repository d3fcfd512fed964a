"""The clerk window (一窗受理) and the department review queue (并联审批) pages, on the real
state machine: the queue is the department's own, oldest first, with the instant-approval
failure; the detail marks prefilled fields and reused materials; accept / refuse / supplement
and the review decisions work from the forms."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.base import ContentFile
from django.db import transaction

from tests.onestop.factories import actor, approver, citizen_applicant, clerk, material, service_item, steward
from tests.onestop.factories_ratings import submitted
from tongban.onestop.models import Application, ReviewTask, Upload
from tongban.onestop.services import applications

pytestmark = pytest.mark.django_db
WINDOW = "/workbench/onestop/window/"
TASKS = "/workbench/onestop/tasks/"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def page(client, url) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.content.decode()


def test_queue_is_the_departments_oldest_first_with_the_rule_failure(client):
    user, _ = citizen_applicant()
    strict = service_item("market", name="个体工商户设立登记",
                          instant_rule={"==": [{"var": "form.reason"}, "只有这个理由才秒批"]})
    first = submitted(strict, user)
    second = submitted(service_item("market"), user)
    Application.objects.filter(pk=first.pk).update(submitted_at=second.submitted_at - datetime.timedelta(hours=1))
    theirs = submitted(service_item("health"), user)
    assert first.rule_result and not first.rule_result["passed"]

    assert client.get(WINDOW).status_code == 302
    client.force_login(clerk("market"))
    status, body = page(client, WINDOW)
    assert status == 200
    assert f'data-testid="queue-row-{first.number}"' in body and f'data-testid="queue-row-{second.number}"' in body
    assert body.index(first.number) < body.index(second.number)
    assert f'data-testid="rule-failed-{first.number}"' in body
    assert f'data-testid="rule-failed-{second.number}"' not in body
    assert theirs.number not in body

    client.force_login(steward("market"))
    assert client.get(WINDOW).status_code == 403  # handling takes a clerk or approver
    client.force_login(user)
    assert client.get(WINDOW).status_code == 403


def test_detail_shows_prefilled_fields_reused_materials_and_uploads(client):
    user, _ = citizen_applicant()
    item = service_item("market", form_schema=[
        {"key": "name", "label": "姓名", "label_en": "Name", "type": "text", "required": True},
        {"key": "reason", "label": "申请事由", "label_en": "Reason", "type": "text", "required": True}])
    licence = material(item, "certificate", name="营业执照", certificate_type="business_licence", necessity="optional")
    photo = material(item, "upload", name="经营场所照片", necessity="optional")
    app = submitted(item, user, {"name": "张三", "reason": "开店"})
    Application.objects.filter(pk=app.pk).update(
        prefilled={"name": {"value": "张三", "resource": "bureau-00001", "item": "name"}},
        reused={str(licence.pk): {"source": "certificate", "credential": "x"}}, reused_count=1)
    upload = Upload.objects.create(application=app, material=photo, file=ContentFile(b"%PDF-1.4 shop", name="a.pdf"),
                                   original_name="门店.pdf", content_type="application/pdf", size=13, sha256="0" * 64)

    client.force_login(clerk("market"))
    status, body = page(client, f"{WINDOW}{app.number}/")
    assert status == 200
    assert 'data-testid="prefilled-name"' in body and 'data-testid="prefilled-reason"' not in body
    assert f'data-testid="reused-{licence.pk}"' in body and f'data-testid="reused-{photo.pk}"' not in body
    assert f'data-testid="upload-{upload.pk}"' in body and "门店.pdf" in body
    assert 'data-testid="accept-form"' in body and 'data-testid="supplement-field-name"' in body
    assert f'data-testid="supplement-material-{photo.pk}"' in body and 'data-testid="timeline"' in body
    file = client.get(f"{WINDOW}{app.number}/uploads/{upload.pk}/")
    assert file.status_code == 200 and b"".join(file.streaming_content) == b"%PDF-1.4 shop"

    client.force_login(clerk("health"))
    assert client.get(f"{WINDOW}{app.number}/").status_code == 404
    assert client.get(f"{WINDOW}{app.number}/uploads/{upload.pk}/").status_code == 404
    assert client.post(f"{WINDOW}{app.number}/accept/").status_code == 404
    assert Application.objects.get(pk=app.pk).status == "submitted"


def test_accept_refuse_and_supplement_from_the_page(client):
    user, _ = citizen_applicant()
    item = service_item("market")
    photo = material(item, "upload", name="经营场所照片", necessity="optional")
    to_accept, to_refuse, to_correct = submitted(item, user), submitted(item, user), submitted(item, user)
    client.force_login(clerk("market"))

    assert client.post(f"{WINDOW}{to_accept.number}/accept/").status_code == 302
    to_accept.refresh_from_db()
    assert to_accept.status == "under_review" and to_accept.due_on
    assert 'data-testid="accept-form"' not in page(client, f"{WINDOW}{to_accept.number}/")[1]
    assert client.post(f"{WINDOW}{to_accept.number}/accept/").status_code == 409

    empty = client.post(f"{WINDOW}{to_refuse.number}/refuse/", {"reason": " "})
    assert empty.status_code == 422 and 'data-testid="form-errors"' in empty.content.decode()
    assert client.post(f"{WINDOW}{to_refuse.number}/refuse/", {"reason": "不属于本部门职权范围"}).status_code == 302
    to_refuse.refresh_from_db()
    assert to_refuse.status == "refused" and to_refuse.reason == "不属于本部门职权范围"

    nothing = client.post(f"{WINDOW}{to_correct.number}/supplement/", {})
    assert nothing.status_code == 422
    no_reason = client.post(f"{WINDOW}{to_correct.number}/supplement/", {"field": "reason", "reason-field-reason": ""})
    assert no_reason.status_code == 422 and 'value="reason" checked' in no_reason.content.decode()
    done = client.post(f"{WINDOW}{to_correct.number}/supplement/", {
        "field": "reason", "reason-field-reason": "事由过于简单",
        "material": str(photo.pk), f"reason-material-{photo.pk}": "照片看不清门牌"})
    assert done.status_code == 302
    to_correct.refresh_from_db()
    assert to_correct.status == "supplement_requested"
    assert [p.get("field") or p.get("material") for p in to_correct.supplement] == ["reason", photo.pk]
    assert f'data-testid="queue-row-{to_correct.number}"' not in page(client, WINDOW)[1]


def test_review_queue_parallel_tasks_and_decisions(client):
    user, _ = citizen_applicant()
    item = service_item("market", co_departments=["health"], name="食品经营许可")
    app = submitted(item, user)
    with transaction.atomic():
        applications.accept(actor(clerk("market")), app.number)
    market_task = ReviewTask.objects.get(application=app, department__code="market")
    health_task = ReviewTask.objects.get(application=app, department__code="health")
    other, _ = citizen_applicant()
    elsewhere = submitted(service_item("civil"), other)
    with transaction.atomic():
        applications.accept(actor(clerk("civil")), elsewhere.number)

    health = approver("health")
    client.force_login(health)
    status, body = page(client, TASKS)
    assert status == 200 and f'data-testid="task-row-{health_task.pk}"' in body
    assert f'data-testid="task-row-{market_task.pk}"' not in body and elsewhere.number not in body
    assert client.get(f"{TASKS}{market_task.pk}/").status_code == 404
    status, body = page(client, f"{TASKS}{health_task.pk}/")
    assert status == 200 and f'data-testid="other-task-{market_task.pk}" data-status="pending"' in body
    assert 'data-testid="decide-form"' in body
    missing = client.post(f"{TASKS}{health_task.pk}/", {"decision": "approve", "opinion": ""})
    assert missing.status_code == 422 and 'data-testid="form-errors"' in missing.content.decode()
    assert client.post(f"{TASKS}{health_task.pk}/", {"decision": "maybe", "opinion": "x"}).status_code == 422
    assert client.post(f"{TASKS}{health_task.pk}/", {"decision": "approve", "opinion": "卫生条件符合"}).status_code == 302
    app.refresh_from_db()
    assert app.status == "under_review"  # the market still has to decide
    assert f'data-testid="task-row-{health_task.pk}"' not in page(client, TASKS)[1]

    client.force_login(approver("market"))
    body = page(client, f"{TASKS}{market_task.pk}/")[1]
    assert f'data-testid="other-task-{health_task.pk}" data-status="approved"' in body and "卫生条件符合" in body
    assert client.post(f"{TASKS}{market_task.pk}/", {"decision": "approve", "opinion": "同意"}).status_code == 302
    app.refresh_from_db()
    assert app.status == "completed"
    assert 'data-testid="decide-form"' not in page(client, f"{TASKS}{market_task.pk}/")[1]
    assert client.post(f"{TASKS}{market_task.pk}/", {"decision": "deny", "opinion": "反悔"}).status_code == 409


def test_officials_link_to_an_application_lands_on_the_window_page(client):
    user, _ = citizen_applicant()
    app = submitted(service_item("market"), user)
    client.force_login(clerk("market"))
    response = client.get(f"/workbench/onestop/applications/{app.number}/")
    assert response.status_code == 302 and response["Location"] == f"{WINDOW}{app.number}/"
