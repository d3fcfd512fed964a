"""政策通 in a real browser, on a phone-sized screen: an official of the issuing department drafts a
policy, writes its eligibility rule in the editor, tests it (HTMX, nothing stored), saves it,
publishes the policy and runs matching, and the job page shows success (a job still running is
polled until it ends); the supervision page draws its funnel chart. Then the matched enterprise finds the policy in "policies for me", with
the reason for every condition."""

from __future__ import annotations

import datetime
import json
import re
import uuid

import pytest

from tests.identity.factories import PASSWORD
from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - the fixture
from tongban.core.models import Job
from tongban.policies.models import Delivery, EligibilityRule, Policy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("data_dir")]

PHONE = {"width": 390, "height": 844}
RULE = {"and": [{"in": [{"var": "size_class"}, ["micro", "small"]]}, {">=": [{"var": "insured_count"}, 10]}]}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def log_in(page, username: str, next_url: str) -> None:
    page.context.clear_cookies()
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{next_url}")


def test_official_writes_a_rule_publishes_and_matches_then_the_enterprise_sees_it(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size(PHONE)
    official = f.steward("hr")
    firm = f.enterprise("杭州小微科技有限公司", employees=30, insured_count=28)
    f.enterprise("杭州大型制造有限公司", employees=800, insured_count=760)

    # Draft the policy.
    log_in(page, official.username, "/workbench/policies/")
    page.get_by_test_id("new-policy").click()
    page.wait_for_url("**/workbench/policies/new/")
    page.locator("#id_title").fill("小微企业稳岗补贴")
    page.locator("#id_document_number").fill("浙人社发〔2026〕7号")
    page.locator("#id_target").select_option("enterprise")
    page.locator("#id_theme").select_option("employment")
    page.locator("#id_mode").select_option("notify")
    page.locator("#id_summary").fill("对不裁员或少裁员的小微企业返还失业保险费。")
    page.locator("#id_valid_from").fill((datetime.date.today() - datetime.timedelta(days=1)).isoformat())
    assert fits_the_screen(page)
    page.get_by_test_id("save-policy").click()
    page.wait_for_url(re.compile(r".*/workbench/policies/\d+/rule/$"))
    policy = Policy.objects.get(title="小微企业稳岗补贴")

    # Write the rule, test it on the sample (the page stays; nothing is stored), save it.
    assert page.get_by_test_id("variable").count() == 16 and fits_the_screen(page)
    page.locator("#id_logic").fill(json.dumps({"and": [{"in": [{"var": "size_class"}, ["micro", "small"]]},
                                                       {">=": [{"var": "insured_count"}, 50]}]}))
    page.get_by_test_id("test-rule").click()
    result = page.get_by_test_id("test-result")
    result.wait_for()
    assert result.get_attribute("data-outcome") == "failed"  # the sample has 32 insured
    assert [r.get_attribute("data-passed") for r in result.get_by_test_id("reason").all()] == ["true", "false"]
    page.locator("#id_logic").fill(json.dumps(RULE))
    page.get_by_test_id("test-rule").click()
    page.locator('[data-testid="test-result"][data-outcome="passed"]').wait_for()
    assert page.url.endswith(f"/workbench/policies/{policy.pk}/rule/")
    assert not EligibilityRule.objects.filter(policy=policy).exists()
    page.locator("#id_description").fill("小微企业，参保 10 人以上")
    page.get_by_test_id("save-rule").click()
    page.wait_for_url(f"**/workbench/policies/{policy.pk}/")
    assert page.get_by_test_id("current-rule").get_attribute("data-version") == "1"

    # Publish, then run matching and wait for the job page to report success.
    page.get_by_test_id("publish").click()
    page.locator('[data-testid="policy-status"][data-status="published"]').wait_for()
    assert fits_the_screen(page)
    page.get_by_test_id("run-matching").click()
    page.wait_for_url(re.compile(r".*/workbench/policies/jobs/[0-9a-f-]+/$"))
    page.locator('[data-testid="job-status"][data-status="succeeded"]').wait_for()
    row = page.locator(f'[data-testid="job-result"][data-code="{policy.code}"]')
    assert row.get_by_test_id("result-matched").inner_text() == "1"
    assert row.get_by_test_id("result-delivered").inner_text() == "1"
    assert fits_the_screen(page)

    # A job still running: its page polls its status every second until the job ends.
    running = Job.objects.create(id=uuid.uuid4(), kind="policies.match", status=Job.Status.RUNNING,
                                 created_by=official.username, done=30, total=100)
    page.goto(f"/workbench/policies/jobs/{running.pk}/")
    assert page.get_by_test_id("job-percent").inner_text() == "30%"
    Job.objects.filter(pk=running.pk).update(
        status=Job.Status.SUCCEEDED, done=100,
        result={"policies": {policy.code: {"run": 0, "matched": 7, "delivered": 5, "granted": 0}}})
    page.locator('[data-testid="job-status"][data-status="succeeded"]').wait_for(timeout=10_000)
    assert page.get_by_test_id("result-matched").inner_text() == "7"

    # Supervision: the funnel chart is drawn (ECharts, served by us) beside its table.
    page.goto("/workbench/policies/supervision/")
    page.locator("#funnel-chart svg").wait_for()
    assert page.get_by_test_id("total-matched").inner_text() == "1" and fits_the_screen(page)

    # The enterprise finds the policy, with the reason for every condition.
    log_in(page, firm.user.username, "/me/policies/")
    card = page.locator(f'[data-testid="matched-policy"][data-code="{policy.code}"]')
    assert "小微企业稳岗补贴" in card.inner_text()
    assert [r.get_attribute("data-passed") for r in card.get_by_test_id("reason").all()] == ["true", "true"]
    assert card.get_by_test_id("delivery").get_attribute("data-status") == "notified"
    assert page.get_by_test_id("other-policy").count() == 0 and fits_the_screen(page)
    card.get_by_role("link", name="小微企业稳岗补贴").click()
    page.wait_for_url(f"**/policies/{policy.pk}/")
    assert page.get_by_test_id("verdict").get_attribute("data-matched") == "true"
    assert Delivery.objects.get(policy=policy).status == Delivery.Status.VIEWED
    assert fits_the_screen(page)
    assert errors == []
