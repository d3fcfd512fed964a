"""The policy API, route by route: the happy path and the error envelope
(``{"error": {"code", "message", "messages", "details"}}``) of each; the library is public."""

from __future__ import annotations

import datetime

import pytest

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - fixture
from tongban.onestop.models import Application
from tongban.policies.models import Delivery, EligibilityRule, Policy, PolicyRating

pytestmark = pytest.mark.django_db

BASE = "/api/v1/policies"


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"] and set(error["messages"]) == {"zh-hans", "en"}
    return error


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


# --- the public library -------------------------------------------------------------------------------------------


def test_library_is_public_with_filters_and_pages(client):
    jobs = f.policy("hr", title="稳岗补贴")
    care = f.policy("civil", title="高龄津贴", target="citizen", theme="elderly", rule=f.ELDERLY_RULE)
    f.policy("hr", title="草稿", status=Policy.Status.DRAFT)
    body = client.get(BASE).json()
    assert body["count"] == 2 and {p["code"] for p in body["items"]} == {jobs.code, care.code}
    listed = {p["code"]: p for p in body["items"]}[jobs.code]
    assert listed["department"] == "hr" and listed["rule_version"] == 1 and listed["rule"] == f.SMALL_FIRM_RULE
    assert listed["status"] == "published" and listed["mode"] == "notify"
    assert client.get(BASE, {"q": "津贴"}).json()["items"][0]["code"] == care.code
    assert client.get(BASE, {"theme": "elderly", "target": "citizen", "department": "civil"}).json()["count"] == 1
    page = client.get(BASE, {"page_size": 1, "page": 2}).json()
    assert page["count"] == 2 and len(page["items"]) == 1
    assert client.get(BASE, {"page": 9}).json() == {"items": [], "count": 2}
    _error(client.get(BASE, {"page_size": 1000}), 422, "invalid_input")


def test_variables_are_public(client):
    enterprise = client.get(f"{BASE}/variables").json()
    assert {v["name"] for v in enterprise} >= {"employees", "size_class", "certificates"}
    size = next(v for v in enterprise if v["name"] == "size_class")
    assert size["type"] == "text" and ["micro", "微型"] in size["choices"] and size["label_en"] == "Size class"
    citizen = client.get(f"{BASE}/variables", {"target": "citizen"}).json()
    assert "age" in {v["name"] for v in citizen}
    _error(client.get(f"{BASE}/variables", {"target": "robot"}), 422, "invalid_target")


def test_one_policy_is_public_once_published_and_counts_the_view(client):
    published = f.policy("hr")
    body = client.get(f"{BASE}/{published.pk}").json()
    assert body["code"] == published.code and body["handling_days"] == 15 and body["view_count"] == 0
    published.refresh_from_db()
    assert published.view_count == 1


def test_a_draft_is_404_for_the_public_and_visible_to_its_editors(client):
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    _error(client.get(f"{BASE}/{draft.pk}"), 404, "not_found")
    _error(client.get(f"{BASE}/{draft.pk}", **f.auth(client, f.steward("civil"))), 404, "not_found")
    assert client.get(f"{BASE}/{draft.pk}", **f.auth(client, f.steward("hr"))).json()["status"] == "draft"
    _error(client.get(f"{BASE}/999999"), 404, "not_found")


def test_a_recipient_viewing_marks_the_delivery_viewed(client):
    from django.utils import timezone

    published = f.policy("hr")
    firm = f.enterprise()
    Delivery.objects.create(policy=published, user=firm.user, subject=firm.uscc, rule_version=1,
                            notified_at=timezone.now())
    assert client.get(f"{BASE}/{published.pk}", **f.auth(client, firm.user)).status_code == 200
    assert Delivery.objects.get().status == Delivery.Status.VIEWED


# --- drafting -----------------------------------------------------------------------------------------------------


def test_draft_change_rule_publish_withdraw(client):
    headers = f.auth(client, f.steward("hr"))
    created = f.post(client, BASE, f.policy_data(), **headers)
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["status"] == "draft" and policy["department"] == "hr" and policy["rule_version"] is None
    url = f"{BASE}/{policy['id']}"
    changed = f.patch(client, url, {"title": "新标题", "handling_days": 10}, **headers)
    assert changed.status_code == 200 and changed.json()["title"] == "新标题" and changed.json()["handling_days"] == 10
    _error(f.post(client, f"{url}/publish", **headers), 409, "rule_required")
    rule = f.post(client, f"{url}/rule", {"logic": f.SMALL_FIRM_RULE, "description": "小微"}, **headers)
    assert rule.status_code == 201 and rule.json() == {"version": 1, "logic": f.SMALL_FIRM_RULE, "description": "小微"}
    published = f.post(client, f"{url}/publish", **headers)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert published.json()["rule_version"] == 1 and published.json()["published_at"]
    _error(f.patch(client, url, {"title": "x"}, **headers), 409, "illegal_transition")
    _error(f.post(client, f"{url}/withdraw", {"reason": " "}, **headers), 422, "reason_required")
    _error(f.post(client, f"{url}/withdraw", {}, **headers), 422, "invalid_input")
    withdrawn = f.post(client, f"{url}/withdraw", {"reason": "到期"}, **headers)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    _error(client.get(url), 404, "not_found")


def test_drafting_errors(client):
    headers = f.auth(client, f.steward("hr"))
    error = _error(f.post(client, BASE, f.policy_data(theme="weather", valid_until="2000-01-01"), **headers),
                   422, "invalid_policy")
    assert {e["field"] for e in error["details"]["errors"]} == {"theme", "valid_until"}
    _error(f.post(client, BASE, {"title": "缺字段"}, **headers), 422, "invalid_input")
    _error(f.post(client, BASE, f.policy_data()), 401, "not_authenticated")
    _error(f.post(client, BASE, f.policy_data(), **f.auth(client, f.clerk("hr"))), 403, "permission_denied")
    _error(f.post(client, BASE, f.policy_data(), **f.auth(client, f.citizen().user)), 403, "permission_denied")
    published = f.policy("hr")
    _error(f.patch(client, f"{BASE}/{published.pk}", {"title": "x"}, **f.auth(client, f.steward("civil"))),
           403, "permission_denied")
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    _error(f.post(client, f"{BASE}/{draft.pk}/publish", **f.auth(client, f.steward("civil"))), 404, "not_found")


def test_bureau_admin_drafts_for_a_department(client):
    f.steward("civil")
    body = f.post(client, BASE, f.policy_data(department="civil"), **f.auth(client, f.bureau_admin())).json()
    assert body["department"] == "civil"


# --- rules --------------------------------------------------------------------------------------------------------


def test_rule_errors_list_every_problem(client):
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    headers = f.auth(client, f.steward("hr"))
    logic = {"and": [{">": [{"var": "headcount"}, 1]}, {"==": [{"var": "employees"}, "ten"]}]}
    error = _error(f.post(client, f"{BASE}/{draft.pk}/rule", {"logic": logic}, **headers), 422, "invalid_rule")
    assert [p["code"] for p in error["details"]["problems"]] == ["unknown_variable", "type_mismatch"]
    error = _error(f.post(client, f"{BASE}/{draft.pk}/rule", {"logic": {"if": [True, 1, 0]}}, **headers),
                   422, "invalid_rule")
    assert error["details"]["problems"][0]["code"] == "unsupported_operator"
    assert not EligibilityRule.objects.exists()
    _error(f.post(client, f"{BASE}/{draft.pk}/rule", {"logic": f.SMALL_FIRM_RULE}), 401, "not_authenticated")


def test_rule_test(client, data_dir):  # noqa: F811
    published = f.policy("hr")
    headers = {**f.auth(client, f.steward("hr")), "HTTP_ACCEPT_LANGUAGE": "en"}
    body = f.post(client, f"{BASE}/{published.pk}/rule/test",
                  {"logic": f.SMALL_FIRM_RULE, "sample": {"size_class": "micro", "insured_count": 3}}, **headers).json()
    assert body["passed"] is False and body["problems"] == [] and body["snapshot"] is None
    assert [r["passed"] for r in body["reasons"]] == [True, False, False]
    default = f.post(client, f"{BASE}/{published.pk}/rule/test", {"logic": f.SMALL_FIRM_RULE}, **headers).json()
    assert default["passed"] is True
    bad = f.post(client, f"{BASE}/{published.pk}/rule/test", {"logic": {"nope": 1}}, **headers).json()
    assert bad["problems"][0]["code"] == "unknown_operator"
    _error(f.post(client, f"{BASE}/{published.pk}/rule/test", {"logic": f.SMALL_FIRM_RULE},
                  **f.auth(client, f.steward("civil"))), 403, "permission_denied")


# --- matching -----------------------------------------------------------------------------------------------------


def test_match_route(client, data_dir, django_capture_on_commit_callbacks):  # noqa: F811
    published = f.policy("hr")
    f.enterprise()
    headers = f.auth(client, f.steward("hr"))
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"{BASE}/{published.pk}/match", content_type="application/json",
                              **headers)  # no body: deliver by default
    assert started.status_code == 202, started.content
    job = client.get(started.json()["url"], **headers).json()
    assert job["status"] == "succeeded" and job["result"]["policies"][published.code]["delivered"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        quiet = f.post(client, f"{BASE}/{published.pk}/match", {"deliver": False}, **headers)
    assert client.get(quiet.json()["url"], **headers).json()["result"]["policies"][published.code]["delivered"] == 0
    _error(f.post(client, f"{BASE}/{published.pk}/match", **f.auth(client, f.steward("civil"))),
           403, "permission_denied")
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    _error(f.post(client, f"{BASE}/{draft.pk}/match", **headers), 409, "policy_not_in_force")


def test_my_policies(client):
    jobs = f.policy("hr")
    f.policy("hr", rule={">=": [{"var": "employees"}, 300]})
    firm = f.enterprise()
    headers = f.auth(client, firm.user)
    body = client.get("/api/v1/me/policies", **headers).json()
    assert body["count"] == 1
    (item,) = body["items"]
    assert item["policy"]["code"] == jobs.code and item["matched"] is True and item["delivery"] is None
    assert item["rule_version"] == 1 and all(r["passed"] for r in item["reasons"])
    everything = client.get("/api/v1/me/policies", {"all": "true"}, **headers).json()
    assert [i["matched"] for i in everything["items"]] == [True, False]
    _error(client.get("/api/v1/me/policies", **f.auth(client, f.steward())), 403, "permission_denied")
    _error(client.get("/api/v1/me/policies"), 401, "not_authenticated")


# --- handling and rating -------------------------------------------------------------------------------------------


def test_apply_route(client):
    today = datetime.date.today()
    policy = f.policy("hr", mode="apply", apply_until=today + datetime.timedelta(days=5))
    firm = f.enterprise()
    created = f.post(client, f"{BASE}/{policy.pk}/apply", **f.auth(client, firm.user))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["url"] == f"/me/applications/{body['application']}/"
    assert Application.objects.get().number == body["application"]
    big = f.enterprise(employees=900, insured_count=850)
    error = _error(f.post(client, f"{BASE}/{policy.pk}/apply", **f.auth(client, big.user)), 409, "not_eligible")
    assert error["details"]["reasons"][0]["passed"] is False
    _error(f.post(client, f"{BASE}/{policy.pk}/apply", **f.auth(client, f.citizen().user)), 409, "not_applicable")
    _error(f.post(client, f"{BASE}/{policy.pk}/apply"), 401, "not_authenticated")


def test_rating_route(client):
    from django.utils import timezone

    policy = f.policy("hr")
    firm = f.enterprise()
    Delivery.objects.create(policy=policy, user=firm.user, subject=firm.uscc, rule_version=1,
                            notified_at=timezone.now())
    headers = f.auth(client, firm.user)
    _error(f.post(client, f"{BASE}/{policy.pk}/rating", {"score": 9}, **headers), 422, "invalid_score")
    rated = f.post(client, f"{BASE}/{policy.pk}/rating", {"score": 4, "comment": "好"}, **headers)
    assert rated.status_code == 201 and rated.json()["score"] == 4 and rated.json()["created_at"]
    _error(f.post(client, f"{BASE}/{policy.pk}/rating", {"score": 5}, **headers), 409, "already_rated")
    _error(f.post(client, f"{BASE}/{policy.pk}/rating", {"score": 5}, **f.auth(client, f.enterprise().user)),
           404, "not_found")
    assert PolicyRating.objects.count() == 1


# --- supervision ---------------------------------------------------------------------------------------------------


def test_supervision_routes(client):
    from django.utils import timezone

    policy = f.policy("hr", mode="auto_grant")
    firm = f.enterprise()
    item = Delivery.objects.create(policy=policy, user=firm.user, subject=firm.uscc, rule_version=1,
                                   notified_at=timezone.now(), status=Delivery.Status.GRANTED)
    PolicyRating.objects.create(delivery=item, score=5, comment="到账快")
    from decimal import Decimal

    from tongban.policies.models import BenefitGrant

    BenefitGrant.objects.create(policy=policy, delivery=item, subject=firm.uscc, amount=Decimal("5000.00"),
                                rule_version=1, granted_at=timezone.now())
    steward = f.auth(client, f.steward("hr"))
    board = client.get(f"{BASE}/supervision", **steward).json()
    assert board["totals"]["amount"] == "5000.00" and board["totals"]["granted"] == 1
    (row,) = board["policies"]
    assert row["code"] == policy.code and row["amount"] == "5000.00" and row["rating_average"] == 5
    one = client.get(f"{BASE}/{policy.pk}/supervision", **steward).json()
    assert one["notified"] == 1 and one["comments"][0]["comment"] == "到账快"
    assert client.get(f"{BASE}/supervision", **f.auth(client, f.steward("civil"))).json()["policies"] == []
    _error(client.get(f"{BASE}/{policy.pk}/supervision", **f.auth(client, f.steward("civil"))), 404, "not_found")
    _error(client.get(f"{BASE}/supervision", **f.auth(client, firm.user)), 403, "permission_denied")
    _error(client.get(f"{BASE}/supervision"), 401, "not_authenticated")
    urged = f.post(client, f"{BASE}/{policy.pk}/urge", {"note": "请核对"}, **f.auth(client, f.bureau_admin()))
    assert urged.status_code == 200 and urged.json() == {"notified": 1}
    _error(f.post(client, f"{BASE}/{policy.pk}/urge", {"note": "请核对"}, **steward), 403, "permission_denied")
    _error(f.post(client, f"{BASE}/{policy.pk}/urge", {}, **f.auth(client, f.cdo())), 422, "invalid_input")
