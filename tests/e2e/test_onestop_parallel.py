"""并联审批 in a real browser: a citizen applies (on a phone-sized screen) for an item handled by two
departments; the clerk accepts it at the window; the first department's approval leaves it under
review; only the second one's approval completes it, and the applicant's timeline shows both."""

from __future__ import annotations

import re

import pytest

from tests.identity.factories import PASSWORD, make_department
from tests.onestop.factories import approver, citizen_applicant, clerk, service_item
from tongban.onestop.models import Application, ReviewTask

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def log_in(page, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**{next_url}")


@pytest.fixture
def official_page(browser, live_server):
    """A second browser (its own cookies) for the officials."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def decide(page, task: ReviewTask, username: str, opinion: str) -> None:
    page.context.clear_cookies()
    log_in(page, username, f"/workbench/onestop/tasks/{task.pk}/")
    page.locator("#opinion").fill(opinion)
    with page.expect_navigation():
        page.get_by_test_id("approve").click()
    assert not page.get_by_test_id("form-errors").count()


def test_two_department_application_is_approved_only_after_both_approve(page, official_page, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    official_page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size(PHONE)

    make_department("market", name="市场监督管理局")
    make_department("health", name="卫生健康委员会")
    user, _ = citizen_applicant("孙八", username="e2e-parallel")
    form = [{"key": "shop_name", "label": "店铺名称", "type": "text", "required": True},
            {"key": "area", "label": "经营面积（平方米）", "type": "number", "required": True}]
    item = service_item("market", co_departments=("health",), name="食品经营许可（并联）", promised_days=10,
                        form_schema=form)
    clerk("market", username="e2e-clerk")
    approver("market", username="e2e-market-approver")
    approver("health", username="e2e-health-approver")

    # The citizen fills the form in, checks the answers and submits.
    log_in(page, "e2e-parallel", f"/services/{item.code}/")
    page.get_by_test_id("apply-button").click()
    page.wait_for_url(re.compile(r".*/me/applications/[^/]+/form/$"))
    number = page.get_by_test_id("application-number").inner_text().strip()
    page.get_by_label("店铺名称").fill("孙八小吃店")
    page.get_by_test_id("save-continue").click()  # the area left for later
    page.wait_for_url(f"**/me/applications/{number}/materials/")
    page.get_by_test_id("to-check").click()
    page.wait_for_url(f"**/me/applications/{number}/check/")
    page.get_by_test_id("submit-application").click()
    missing = page.get_by_test_id("missing-item")  # told what is missing, with the way to fix it
    assert missing.count() == 1 and "经营面积" in missing.inner_text()
    assert fits_the_screen(page)
    missing.get_by_role("link").click()
    page.wait_for_url(f"**/me/applications/{number}/form/#field-area")
    assert page.get_by_label("店铺名称").input_value() == "孙八小吃店"  # saved
    page.get_by_label("经营面积（平方米）").fill("36")
    page.get_by_test_id("save-continue").click()
    page.wait_for_url(f"**/me/applications/{number}/materials/")
    page.get_by_test_id("to-check").click()
    page.wait_for_url(f"**/me/applications/{number}/check/")
    assert "孙八小吃店" in page.get_by_test_id("answers").inner_text()
    page.get_by_test_id("submit-application").click()
    page.wait_for_url(f"**/me/applications/{number}/done/")
    assert page.get_by_test_id("confirmation").get_attribute("data-status") == "submitted"
    assert "10" in page.get_by_test_id("promised-days").inner_text()
    assert fits_the_screen(page)

    # The clerk accepts it at the window: one review task per department.
    log_in(official_page, "e2e-clerk", f"/workbench/onestop/window/{number}/")
    official_page.get_by_test_id("accept").click()
    official_page.wait_for_url("**/workbench/onestop/window/")
    tasks = {t.department.code: t for t in ReviewTask.objects.filter(application__number=number)
             .select_related("department")}
    assert set(tasks) == {"market", "health"}

    # The first department approves: still under review.
    decide(official_page, tasks["market"], "e2e-market-approver", "场所布局符合要求")
    page.goto(f"/me/applications/{number}/")
    assert page.get_by_test_id("status-badge").get_attribute("data-status") == "under_review"
    assert sorted(t.get_attribute("data-status") for t in page.get_by_test_id("review-task").all()) \
        == ["approved", "pending"]
    assert Application.objects.get(number=number).status == "under_review"

    # The second one approves: approved and completed.
    decide(official_page, tasks["health"], "e2e-health-approver", "从业人员健康证明齐全")
    page.reload()
    assert page.get_by_test_id("status-badge").get_attribute("data-status") == "completed"
    assert [t.get_attribute("data-status") for t in page.get_by_test_id("review-task").all()] \
        == ["approved", "approved"]
    timeline = page.get_by_test_id("timeline")
    text = timeline.inner_text()
    assert "市场监督管理局" in text and "场所布局符合要求" in text
    assert "卫生健康委员会" in text and "从业人员健康证明齐全" in text
    statuses = [s.get_attribute("data-status") for s in page.get_by_test_id("timeline-step").all()]
    assert statuses == ["draft", "submitted", "accepted", "under_review", "under_review", "under_review",
                        "approved", "completed"]
    assert fits_the_screen(page)
    assert errors == []
