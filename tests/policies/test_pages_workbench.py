"""The officials' policy pages: the list, the policy form (service problems on their fields,
nothing saved), publish / withdraw, the rule editor with its HTMX test fragment, running a match
and its job page, supervision for a department and for the bureau (with urging)."""

from __future__ import annotations

import json
import re

import pytest

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - the fixture
from tongban.core.models import Job, Notification
from tongban.policies.models import EligibilityRule, MatchRun, Policy

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def body(response) -> str:
    return response.content.decode()


def field_errors(page: str) -> set[str]:
    return set(re.findall(r'data-testid="field-error" data-field="([^"]+)"', page))


def form(**over) -> dict:
    data = {key: value for key, value in f.policy_data().items()}
    data.update(over)
    return data


# --- access ------------------------------------------------------------------------------------------------------


def test_list_shows_the_department_policies_and_oversight_all(client):
    mine = f.policy("hr", title="本部门政策")
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    theirs = f.policy("science", title="他部门政策")
    client.force_login(f.steward("hr"))
    text = body(client.get("/workbench/policies/"))
    assert f'data-code="{mine.code}"' in text and f'data-code="{draft.code}"' in text
    assert f'data-code="{theirs.code}"' not in text and 'data-testid="new-policy"' in text
    assert re.search(rf'data-code="{mine.code}".*?v1</td>', text, re.S)
    client.force_login(f.bureau_admin())
    text = body(client.get("/workbench/policies/"))
    assert f'data-code="{theirs.code}"' in text and f'data-code="{draft.code}"' in text


def test_wrong_role_is_refused(client):
    policy = f.policy("hr")
    assert client.get("/workbench/policies/").status_code == 302  # to the login
    client.force_login(f.enterprise().user)
    for url in ("/workbench/policies/", "/workbench/policies/new/", f"/workbench/policies/{policy.pk}/",
                "/workbench/policies/supervision/"):
        assert client.get(url).status_code == 403, url
    clerk = f.clerk("hr")
    client.force_login(clerk)
    text = body(client.get("/workbench/policies/"))
    assert 'data-testid="new-policy"' not in text
    assert client.get("/workbench/policies/new/").status_code == 403
    assert client.post("/workbench/policies/new/", form()).status_code == 403
    assert client.get(f"/workbench/policies/{policy.pk}/rule/").status_code == 403
    assert client.get("/workbench/policies/supervision/").status_code == 403
    assert Policy.objects.count() == 1


def test_another_departments_draft_is_not_found(client):
    draft = f.policy("science", status=Policy.Status.DRAFT)
    published = f.policy("science")
    client.force_login(f.steward("hr"))
    for url in ("", "edit/", "rule/"):
        assert client.get(f"/workbench/policies/{draft.pk}/{url}").status_code == 404, url
    assert client.post(f"/workbench/policies/{draft.pk}/publish/").status_code == 404
    assert client.post(f"/workbench/policies/{draft.pk}/rule/test/", {"logic": "{}"}, **HTMX).status_code == 404
    assert client.get(f"/workbench/policies/{published.pk}/").status_code == 403
    assert client.get(f"/workbench/policies/{published.pk}/rule/").status_code == 403
    draft.refresh_from_db()
    assert draft.status == Policy.Status.DRAFT


# --- the policy form ---------------------------------------------------------------------------------------------


def test_new_policy_form_shows_every_problem_on_its_field_and_saves_nothing(client):
    client.force_login(f.steward("hr"))
    page = client.get("/workbench/policies/new/")
    assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in body(page)
    empty = client.post("/workbench/policies/new/", {})
    assert empty.status_code == 422
    assert {"title", "document_number", "summary", "target", "theme", "mode", "valid_from"} <= field_errors(body(empty))
    bad = client.post("/workbench/policies/new/", form(valid_from="2026-13-40", benefit_amount="-5",
                                                       benefit_formula="{not json", mode="apply"))
    text = body(bad)
    assert bad.status_code == 422 and 'data-testid="form-errors"' in text
    assert field_errors(text) == {"benefit_formula"}  # unreadable JSON is caught before the service
    bad = client.post("/workbench/policies/new/", form(valid_from="2026-13-40", benefit_amount="-5", mode="apply"))
    assert field_errors(body(bad)) == {"valid_from", "benefit_amount", "service_item"}
    assert "日期格式应为 YYYY-MM-DD" in body(bad) and "小微企业稳岗补贴" in body(bad)  # the input is kept
    assert not Policy.objects.exists()

    saved = client.post("/workbench/policies/new/", form())
    policy = Policy.objects.get()
    assert saved.status_code == 302 and saved["Location"] == f"/workbench/policies/{policy.pk}/rule/"
    assert policy.status == Policy.Status.DRAFT and policy.department.code == "hr"


def test_edit_a_draft_and_not_a_published_policy(client):
    client.force_login(f.steward("hr"))
    draft = f.policy("hr", status=Policy.Status.DRAFT, title="旧标题")
    page = body(client.get(f"/workbench/policies/{draft.pk}/edit/"))
    assert 'value="旧标题"' in page and draft.valid_from.isoformat() in page
    values = {**form(), "title": ""}
    failed = client.post(f"/workbench/policies/{draft.pk}/edit/", values)
    assert failed.status_code == 422 and field_errors(body(failed)) == {"title"}
    draft.refresh_from_db()
    assert draft.title == "旧标题"
    done = client.post(f"/workbench/policies/{draft.pk}/edit/", {**form(), "title": "新标题"})
    assert done.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "新标题"
    published = f.policy("hr")
    assert client.get(f"/workbench/policies/{published.pk}/edit/").status_code == 409


def test_publish_needs_a_rule_then_withdraw_needs_a_reason(client):
    client.force_login(f.steward("hr"))
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    assert client.get(f"/workbench/policies/{draft.pk}/publish/").status_code == 405
    refused = client.post(f"/workbench/policies/{draft.pk}/publish/", follow=True)
    assert "请先设置享受条件" in body(refused)
    draft.refresh_from_db()
    assert draft.status == Policy.Status.DRAFT
    EligibilityRule.objects.create(policy=draft, version=1, logic=f.SMALL_FIRM_RULE, created_by="t")
    client.post(f"/workbench/policies/{draft.pk}/publish/")
    draft.refresh_from_db()
    assert draft.status == Policy.Status.PUBLISHED
    page = body(client.get(f"/workbench/policies/{draft.pk}/"))
    assert 'data-testid="withdraw-form"' in page and 'data-testid="run-matching"' in page
    client.post(f"/workbench/policies/{draft.pk}/withdraw/", {"reason": " "})
    draft.refresh_from_db()
    assert draft.status == Policy.Status.PUBLISHED
    client.post(f"/workbench/policies/{draft.pk}/withdraw/", {"reason": "政策到期"})
    draft.refresh_from_db()
    assert draft.status == Policy.Status.WITHDRAWN


# --- the rule editor ---------------------------------------------------------------------------------------------


def test_rule_editor_shows_the_rule_the_variables_and_a_sample(client):
    policy = f.policy("hr")
    client.force_login(f.steward("hr"))
    text = body(client.get(f"/workbench/policies/{policy.pk}/rule/"))
    names = re.findall(r'data-testid="variable" data-name="([^"]+)"', text)
    assert "size_class" in names and "insured_count" in names and "age" not in names
    assert "统计上大中小微型企业划分办法" in text  # the variable's note
    assert "&quot;size_class&quot;" in text  # the current rule, pretty-printed in the textarea
    assert "&quot;industry&quot;: &quot;I6513&quot;" in text  # the sample profile
    assert f'hx-post="/workbench/policies/{policy.pk}/rule/test/"' in text


def test_rule_test_fragment_passes_fails_and_lists_problems_storing_nothing(client):
    policy = f.policy("hr")
    client.force_login(f.steward("hr"))
    url = f"/workbench/policies/{policy.pk}/rule/test/"
    sample = json.dumps({"size_class": "small", "insured_count": 5, "in_arrears": False})
    failed = client.post(url, {"logic": json.dumps(f.SMALL_FIRM_RULE), "sample": sample}, **HTMX)
    text = body(failed)
    assert failed.status_code == 200 and "<html" not in text and 'data-outcome="failed"' in text
    assert re.findall(r'data-passed="(true|false)"', text) == ["true", "false", "true"]
    assert 'data-testid="no-snapshot"' in text
    passed = body(client.post(url, {"logic": json.dumps(f.SMALL_FIRM_RULE), "sample": ""}, **HTMX))
    assert 'data-outcome="passed"' in passed  # the made-up sample qualifies
    unknown = body(client.post(url, {"logic": '{">": [{"var": "turnover"}, 1]}', "sample": ""}, **HTMX))
    assert 'data-outcome="problems"' in unknown and 'data-code="unknown_variable"' in unknown
    broken = body(client.post(url, {"logic": '{"and": [', "sample": ""}, **HTMX))
    assert 'data-code="invalid_json"' in broken and "第 1 行第 10 列" in broken
    bad_sample = body(client.post(url, {"logic": json.dumps(f.SMALL_FIRM_RULE), "sample": "[1]"}, **HTMX))
    assert 'data-outcome="problems"' in bad_sample and "invalid_sample" in bad_sample
    whole = client.post(url, {"logic": json.dumps(f.SMALL_FIRM_RULE), "sample": ""})
    assert "<html" in body(whole) and 'data-testid="rule-form"' in body(whole) and 'data-outcome="passed"' in body(whole)
    assert EligibilityRule.objects.filter(policy=policy).count() == 1


def test_saving_a_rule_refuses_invalid_json_and_problems_then_adds_a_version(client):
    policy = f.policy("hr", status=Policy.Status.DRAFT)
    client.force_login(f.steward("hr"))
    url = f"/workbench/policies/{policy.pk}/rule/"
    broken = client.post(url, {"logic": "{oops", "description": "x"})
    assert broken.status_code == 422 and 'data-code="invalid_json"' in body(broken)
    assert "{oops" in body(broken)  # the text is kept to fix
    wrong = client.post(url, {"logic": '{"==": [{"var": "employees"}, "many"]}'})
    assert wrong.status_code == 422 and 'data-code="type_mismatch"' in body(wrong)
    assert EligibilityRule.objects.filter(policy=policy).count() == 1
    saved = client.post(url, {"logic": '{">=": [{"var": "employees"}, 5]}', "description": "放宽人数"})
    assert saved.status_code == 302 and saved["Location"] == f"/workbench/policies/{policy.pk}/"
    current = EligibilityRule.objects.get(policy=policy, is_current=True)
    assert current.version == 2 and current.description == "放宽人数"
    page = body(client.get(f"/workbench/policies/{policy.pk}/"))
    assert re.findall(r'data-testid="rule-version" data-version="(\d+)"', page) == ["2", "1"]


# --- matching and its job ----------------------------------------------------------------------------------------


def test_run_matching_redirects_to_the_job_page_with_the_results(client, django_capture_on_commit_callbacks):
    policy = f.policy("hr")
    f.enterprise()
    f.enterprise(employees=500)
    steward = f.steward("hr")
    client.force_login(steward)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(f"/workbench/policies/{policy.pk}/match/")
    job = Job.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/workbench/policies/jobs/{job.pk}/"
    page = body(client.get(started["Location"]))
    assert 'data-status="succeeded"' in page and 'hx-trigger' not in page
    assert re.search(rf'data-testid="job-result" data-code="{policy.code}".*?result-matched">1<', page, re.S)
    assert 'result-delivered">1<' in page  # both have accounts; one matched
    fragment = body(client.get(f"/workbench/policies/jobs/{job.pk}/status/"))
    assert "<html" not in fragment and 'data-status="succeeded"' in fragment
    assert MatchRun.objects.get(policy=policy).matched == 1
    detail = body(client.get(f"/workbench/policies/{policy.pk}/"))
    assert 'data-testid="run-matched">1<' in detail

    # With a snapshot, the editor's test says how many it would match.
    tested = body(client.post(f"/workbench/policies/{policy.pk}/rule/test/",
                              {"logic": json.dumps(f.SMALL_FIRM_RULE), "sample": ""}, **HTMX))
    assert 'data-testid="snapshot-count" data-matched="&lt;10" data-rows="2"' in tested

    client.force_login(f.steward("science"))
    assert client.get(f"/workbench/policies/jobs/{job.pk}/").status_code == 404


def test_a_running_job_polls_every_second(client):
    steward = f.steward("hr")
    job = Job.objects.create(id="6d7f5b0e-1c1b-4f55-9d59-6b1c7a0f0a11", kind="policies.match",
                             status=Job.Status.RUNNING, created_by=steward.username, done=40, total=100)
    client.force_login(steward)
    page = body(client.get(f"/workbench/policies/jobs/{job.pk}/"))
    assert f'hx-get="/workbench/policies/jobs/{job.pk}/status/"' in page and 'hx-trigger="every 1s"' in page
    assert 'value="40"' in page and 'data-testid="job-percent">40%' in page
    assert client.get("/workbench/policies/jobs/00000000-0000-4000-8000-000000000000/").status_code == 404


def test_matching_a_draft_is_refused(client):
    draft = f.policy("hr", status=Policy.Status.DRAFT)
    client.force_login(f.steward("hr"))
    done = client.post(f"/workbench/policies/{draft.pk}/match/", follow=True)
    assert "只有已发布且在有效期内的政策可以匹配" in body(done) and not Job.objects.exists()


# --- supervision -------------------------------------------------------------------------------------------------


def test_supervision_for_the_department_and_for_the_bureau(client):
    mine = f.policy("hr", title="本部门政策")
    theirs = f.policy("science", title="他部门政策")
    f.dept_admin("hr")  # an official the urging reaches
    client.force_login(f.steward("hr"))
    page = body(client.get("/workbench/policies/supervision/"))
    assert re.findall(r'data-testid="supervision-row" data-code="([^"]+)"', page) == [mine.code]
    assert 'id="funnel-data"' in page and "vendor/echarts-5.6.0.min.js" in page and 'data-testid="funnel-table"' in page
    one = body(client.get(f"/workbench/policies/{mine.pk}/supervision/"))
    assert 'data-testid="figures"' in one and 'data-testid="urge-form"' not in one
    assert client.get(f"/workbench/policies/{theirs.pk}/supervision/").status_code == 404
    assert client.post(f"/workbench/policies/{mine.pk}/supervision/urge/", {"note": "x"}).status_code == 403

    client.force_login(f.bureau_admin())
    page = body(client.get("/workbench/policies/supervision/"))
    assert set(re.findall(r'data-testid="supervision-row" data-code="([^"]+)"', page)) == {mine.code, theirs.code}
    one = body(client.get(f"/workbench/policies/{mine.pk}/supervision/"))
    assert 'data-testid="urge-form"' in one
    empty = client.post(f"/workbench/policies/{mine.pk}/supervision/urge/", {"note": ""}, follow=True)
    assert "督办须写明事项" in body(empty) and not Notification.objects.filter(category="policy_urge").exists()
    urged = client.post(f"/workbench/policies/{mine.pk}/supervision/urge/", {"note": "请加快办理"})
    assert urged.status_code == 302 and urged["Location"] == f"/workbench/policies/{mine.pk}/supervision/"
    assert Notification.objects.filter(category="policy_urge").count() == 2  # the steward and the administrator
