"""Workbench pages for requests and grants: hub, request form, lists, decide, revoke, oversight.

Assertions use data (names, codes), data-testid hooks and the services' Chinese messages, not
UI strings whose translation the lead merges later."""

from __future__ import annotations

import datetime

import pytest

from tests.exchange.factories import enterprise_resource, official, person_resource
from tests.exchange.factories_requests import approved_grant, pending_request
from tongban.exchange.models import AccessRequest, Grant, ResourceState
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def login(client, actor):
    client.force_login(User.objects.get(pk=actor.user_id))
    return actor


def test_pages_need_an_official(client):
    assert client.get("/workbench/exchange/").status_code == 302  # to the login
    from tests.identity.factories import make_citizen_user
    client.force_login(make_citizen_user("page-citizen"))
    assert client.get("/workbench/exchange/").status_code == 403
    assert client.get("/workbench/exchange/requests/").status_code == 403


def test_hub_counts_and_links(client):
    late = pending_request("civil", "health")
    AccessRequest.objects.filter(pk=late.pk).update(due_on=datetime.date(2020, 1, 6))
    pending_request("civil", "hr")
    login(client, official("civil", "approver"))
    page = client.get("/workbench/exchange/").content.decode()
    assert 'data-testid="count-to-decide">2<' in page and 'data-testid="count-overdue"' in page
    for link in ("/workbench/exchange/records/", "/workbench/exchange/try/", "/workbench/exchange/grants/",
                 "/workbench/exchange/requests/?side=provider"):
        assert link in page
    assert "hub-oversight" not in page
    login(client, official("bureau", "bureau_admin", "cdo", is_bureau=True))
    bureau_page = client.get("/workbench/exchange/").content.decode()
    assert 'data-testid="count-all-pending">2<' in bureau_page and "/workbench/exchange/oversight/" in bureau_page


def test_request_form_renders_items_and_submits(client):
    resource = person_resource("civil")
    login(client, official("health", "clerk"))
    url = f"/workbench/exchange/requests/new?resource={resource.code}"
    page = client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    for text in ("婚姻登记信息", "公民身份号码", "婚姻状况", 'value="marital_status"', "grade-core",
                 'name="modes" value="verify"'):
        assert text in body, text
    assert client.get("/workbench/exchange/requests/new/", {"resource": resource.code}).status_code == 200
    assert client.get("/workbench/exchange/requests/new?resource=NOPE-1").status_code == 404

    bad = client.post(url, {"resource": resource.code, "items": ["salary"], "modes": ["query"], "purpose": "",
                            "legal_basis": "依据", "duration_days": "abc"})
    assert bad.status_code == 422
    bad_body = bad.content.decode()
    assert 'data-testid="error-items"' in bad_body and "salary" in bad_body
    assert 'data-testid="error-purpose"' in bad_body and "请填写用途" in bad_body
    assert 'data-testid="error-duration_days"' in bad_body and 'data-testid="error-modes"' not in bad_body
    assert not AccessRequest.objects.exists()

    good = client.post(url, {"resource": resource.code, "items": ["id_number", "marital_status"],
                             "modes": ["query", "verify"], "purpose": "办理购房资格审核",
                             "legal_basis": "《浙江省公共数据条例》", "duration_days": "180"})
    created = AccessRequest.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/workbench/exchange/requests/{created.pk}/"
    assert created.items == ["id_number", "marital_status"] and created.modes == ["query", "verify"]
    again = client.post(url, {"resource": resource.code, "items": ["id_number"], "modes": ["query"],
                              "purpose": "再次申请", "legal_basis": "依据", "duration_days": "30"})
    assert again.status_code == 422 and f"/workbench/exchange/requests/{created.pk}/" in again.content.decode()


def test_no_share_form_explains(client):
    resource = person_resource("civil", sharing="no_share")
    login(client, official("health", "clerk"))
    url = f"/workbench/exchange/requests/new?resource={resource.code}"
    assert 'data-testid="not-shared-note"' in client.get(url).content.decode()
    refused = client.post(url, {"resource": resource.code, "items": ["id_number"], "modes": ["verify"],
                                "purpose": "核验", "legal_basis": "依据", "duration_days": "30"})
    assert refused.status_code == 422 and "不予共享" in refused.content.decode()
    ResourceState.objects.create(resource_code=resource.code, department=resource.department,
                                 verify_when_not_shared=True)
    assert 'data-testid="verify-only-note"' in client.get(url).content.decode()


def test_open_share_form_grants_at_once(client):
    resource = enterprise_resource("market", sharing="open_share")
    login(client, official("health", "clerk"))
    response = client.post("/workbench/exchange/requests/new", {
        "resource": resource.code, "items": ["uscc", "org_name"], "modes": ["query"], "purpose": "企业资质核查",
        "legal_basis": "依据", "duration_days": "365"}, follow=True)
    body = response.content.decode()
    grant = Grant.objects.get()
    assert f"/workbench/exchange/grants/{grant.pk}/" in body and 'data-status="approved"' in body


def test_provider_decides_on_the_detail_page(client):
    request = pending_request("civil", "health", items=["id_number", "name", "sex"])
    login(client, official("health", "clerk"))
    consumer_view = client.get(f"/workbench/exchange/requests/{request.pk}/").content.decode()
    assert 'data-testid="decide-form"' not in consumer_view and 'data-testid="withdraw"' in consumer_view
    assert "exchange.request_submitted" in consumer_view  # the ledger trail

    login(client, official("hr", "approver"))
    assert client.get(f"/workbench/exchange/requests/{request.pk}/").status_code == 404

    login(client, official("civil", "approver"))
    url = f"/workbench/exchange/requests/{request.pk}/"
    page = client.get(url).content.decode()
    assert 'data-testid="decide-form"' in page and 'data-testid="withdraw"' not in page
    assert 'name="clear_items" value="sex" checked' in page and 'name="clear_items" value="name" checked' not in page
    no_reason = client.post(f"{url}decide/", {"decision": "approve", "reason": ""}, follow=True)
    assert "请填写审批理由" in no_reason.content.decode()
    assert AccessRequest.objects.get(pk=request.pk).status == "pending"
    decided = client.post(f"{url}decide/", {"decision": "approve", "reason": "依法履职", "clear_items": ["sex", "name"],
                                           "rate_limit_per_minute": "120"})
    assert decided.status_code == 302
    grant = Grant.objects.get(request_id=request.pk)
    assert grant.clear_items == ["name", "sex"] and grant.rate_limit_per_minute == 120
    after = client.get(url).content.decode()
    assert 'data-status="approved"' in after and 'data-testid="decide-form"' not in after
    assert "exchange.request_approved" in after
    twice = client.post(f"{url}decide/", {"decision": "reject", "reason": "再次"}, follow=True)
    assert "该申请已处理" in twice.content.decode()


def test_lists_and_grant_revocation(client):
    grant = approved_grant("civil", "health", items=["id_number", "name", "sex"])
    login(client, official("health", "clerk"))
    requests_page = client.get("/workbench/exchange/requests/", {"side": "consumer"}).content.decode()
    assert f'data-testid="request-row-{grant.request_id}"' in requests_page
    assert f'data-testid="request-row-{grant.request_id}"' not in client.get(
        "/workbench/exchange/requests/", {"side": "provider"}).content.decode()
    grants_page = client.get("/workbench/exchange/grants/", {"side": "consumer", "active": "1"}).content.decode()
    assert f'data-testid="grant-row-{grant.pk}"' in grants_page
    detail = client.get(f"/workbench/exchange/grants/{grant.pk}/").content.decode()
    assert 'data-state="active"' in detail and 'data-testid="revoke-form"' not in detail
    assert 'data-testid="returned-sex" data-clear="1"' in detail and 'data-testid="returned-name" data-clear="0"' in detail

    login(client, official("civil", "steward"))
    url = f"/workbench/exchange/grants/{grant.pk}/"
    assert 'data-testid="revoke-form"' in client.get(url).content.decode()
    shortened = (grant.expires_at - datetime.timedelta(days=10)).astimezone(datetime.UTC)
    from django.utils import timezone
    local = timezone.localtime(shortened).strftime("%Y-%m-%dT%H:%M")
    client.post(f"{url}update/", {"clear_items": ["sex"], "rate_limit_per_minute": "50", "expires_at": local})
    grant.refresh_from_db()
    assert grant.rate_limit_per_minute == 50 and grant.expires_at < shortened + datetime.timedelta(minutes=1)
    missing = client.post(f"{url}revoke/", {"reason": ""}, follow=True)
    assert "请填写撤销理由" in missing.content.decode()
    client.post(f"{url}revoke/", {"reason": "业务终止"})
    assert 'data-state="revoked"' in client.get(url).content.decode()
    assert Grant.objects.get(pk=grant.pk).status == "revoked"


def test_oversight_for_the_bureau(client):
    late = pending_request("civil", "health")
    fresh = pending_request("market", "hr")
    AccessRequest.objects.filter(pk=late.pk).update(due_on=datetime.date(2020, 1, 6))
    login(client, official("civil", "approver"))
    assert client.get("/workbench/exchange/oversight/").status_code == 403
    login(client, official("bureau", "bureau_admin", "cdo", is_bureau=True))
    page = client.get("/workbench/exchange/oversight/").content.decode()
    assert page.index(f"oversight-row-{late.pk}") < page.index(f"oversight-row-{fresh.pk}")
    client.post(f"/workbench/exchange/requests/{late.pk}/escalate/", {"note": "请三日内答复", "back": "oversight"})
    assert AccessRequest.objects.get(pk=late.pk).escalation_note == "请三日内答复"
    after = client.get("/workbench/exchange/oversight/")
    assert after.status_code == 200 and "oversight-row" in after.content.decode()
    detail = client.get(f"/workbench/exchange/requests/{late.pk}/").content.decode()
    assert 'data-testid="escalation"' in detail and "请三日内答复" in detail
    assert 'data-testid="escalate-form"' in detail and 'data-testid="decide-form"' not in detail
    assert "exchange.request_escalated" in detail


def test_verification_setting_on_the_hub(client):
    resource = person_resource("civil", sharing="no_share")
    login(client, official("civil", "steward"))
    assert f'data-testid="verify-toggle-{resource.code}"' in client.get("/workbench/exchange/").content.decode()
    client.post(f"/workbench/exchange/verification/{resource.code}/", {"enabled": "1"})
    assert ResourceState.objects.get(resource_code=resource.code).verify_when_not_shared
    login(client, official("health", "steward"))
    assert client.post(f"/workbench/exchange/verification/{resource.code}/", {"enabled": "0"}).status_code == 403
    assert ResourceState.objects.get(resource_code=resource.code).verify_when_not_shared
