"""Flow 1 "Share" in a real browser, across three departments' staff:

the civil-affairs steward uploads a CSV of records of a published (conditional) person resource;
a health-commission clerk requests two items of it (query) with purpose, legal basis and
duration and sees the request pending with its due date; the civil-affairs approver opens it
from the request list and approves it with a reason; the clerk, signed in again, runs a query on
the try page and sees only the granted items, the name masked to its surname. Exactly one access
row is written for that query."""

from __future__ import annotations

import re

import pytest

from tests.exchange.factories import official, person_resource, person_row, steward
from tests.exchange.test_records_io import CHINESE, csv_bytes
from tests.identity.factories import PASSWORD, make_department
from tongban.core.workdays import add_working_days
from tongban.exchange.models import Access, AccessRequest, Grant, Record
from tongban.exchange.services.requests import ANSWER_WORKING_DAYS, today

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PURPOSE = "出生医学证明办理中核查父母婚姻状况"
LEGAL_BASIS = "《中华人民共和国母婴保健法》第二十三条；《浙江省公共数据条例》第二十四条"


@pytest.fixture
def sign_in(browser, live_server):
    """``sign_in(username, next_url)``: a new browser context (its own session) signed in as
    ``username`` and landed on ``next_url``; JavaScript errors of every page go to ``.errors``."""
    contexts = []

    def _sign_in(username: str, next_url: str):
        context = browser.new_context(base_url=live_server.url, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: _sign_in.errors.append(f"{page.url}: {exc}"))
        page.goto(f"/accounts/login/?next={next_url}")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(f"**{next_url}")
        return page

    _sign_in.errors = []
    yield _sign_in
    for context in contexts:
        context.close()


def test_consumer_requests_provider_approves_consumer_queries_masked(sign_in, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    make_department("civil", name="浙江省民政厅")
    make_department("health", name="浙江省卫生健康委员会")
    resource = person_resource("civil", sharing="conditional")
    civil_steward = steward("civil")
    approver = official("civil", "approver")
    clerk = official("health", "clerk")
    subject = person_row(1, name="王小明", marital_status="20")
    rows = [subject, person_row(2, name="李红"), person_row(3, name="陈建国", marital_status="10")]

    # 1. The civil-affairs steward loads three records through the upload page.
    records_url = f"/workbench/exchange/records/{resource.code}/"
    steward_page = sign_in(civil_steward.username, records_url)
    steward_page.get_by_label("数据文件（CSV）").set_input_files(
        files=[{"name": "婚姻登记.csv", "mimeType": "text/csv", "buffer": csv_bytes(CHINESE, rows, bom=True)}])
    steward_page.get_by_role("button", name="归集", exact=True).click()
    steward_page.get_by_test_id("record-summary").wait_for()
    assert steward_page.get_by_test_id("record-count").inner_text().strip() == "3"
    assert Record.objects.filter(resource_code=resource.code).count() == 3

    # 2. A health-commission clerk asks for name and marital status, to query.
    new_url = f"/workbench/exchange/requests/new?resource={resource.code}"
    clerk_page = sign_in(clerk.username, new_url)
    clerk_page.set_viewport_size({"width": 390, "height": 844})
    assert clerk_page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1"), \
        "the request form overflows horizontally at 390 px"
    form = clerk_page.get_by_test_id("request-form")
    form.locator("input[name=items][value=name]").check()
    form.locator("input[name=items][value=marital_status]").check()
    assert form.locator("input[name=modes][value=query]").is_checked()  # the default for a shared resource
    form.get_by_label("用途", exact=True).fill(PURPOSE)
    form.get_by_label("依据", exact=True).fill(LEGAL_BASIS)
    form.get_by_label("申请期限（天）").fill("180")
    clerk_page.get_by_test_id("submit-request").click()
    clerk_page.wait_for_url(re.compile(r"/workbench/exchange/requests/\d+/$"))
    request = AccessRequest.objects.get(resource_code=resource.code)
    assert clerk_page.url.endswith(f"/workbench/exchange/requests/{request.pk}/")
    assert (request.items, request.modes, request.duration_days) == (["name", "marital_status"], ["query"], 180)
    due = add_working_days(today(), ANSWER_WORKING_DAYS).isoformat()
    assert clerk_page.get_by_test_id("request-status").get_attribute("data-status") == "pending"
    assert clerk_page.get_by_test_id("due-on").inner_text().strip() == due
    assert f"提供部门将于 {due} 前答复" in clerk_page.content()
    assert clerk_page.get_by_test_id("decide-form").count() == 0  # the consumer cannot decide its own request

    # 3. The civil-affairs approver opens it from the request list and approves it.
    approver_page = sign_in(approver.username, "/workbench/exchange/requests/")
    row = approver_page.get_by_test_id(f"request-row-{request.pk}")
    assert "浙江省卫生健康委员会" in row.inner_text()
    row.get_by_role("link", name=str(request.pk), exact=True).click()
    approver_page.wait_for_url(f"**/workbench/exchange/requests/{request.pk}/")
    decide = approver_page.get_by_test_id("decide-form")
    decide.get_by_label("理由", exact=True).fill("依法履职需要，符合共享条件，同意。")
    approver_page.get_by_test_id("approve").click()
    approver_page.get_by_test_id("grant-state").wait_for()
    assert approver_page.get_by_test_id("request-status").get_attribute("data-status") == "approved"
    assert approver_page.get_by_test_id("grant-state").get_attribute("data-state") == "active"
    grant = Grant.objects.get(request_id=request.pk)

    # 4. The clerk signs in again and queries the subject under the grant.
    try_page = sign_in(clerk.username, "/workbench/exchange/try/")
    try_page.get_by_test_id("try-grant").select_option(str(grant.pk))
    try_page.get_by_test_id("try-grant-form").locator("button[type=submit]").click()  # 选择 (Choose)
    try_page.get_by_test_id("try-form").wait_for()
    try_page.get_by_test_id("try-mode-query").check()
    try_page.get_by_test_id("try-subject").fill(subject["id_number"])
    try_page.get_by_test_id("try-run").click()
    result = try_page.get_by_test_id("try-result")
    result.wait_for()
    assert result.get_attribute("data-mode") == "query"
    assert try_page.get_by_test_id("try-error").count() == 0
    shown = sorted(key.removeprefix("try-row-") for key in
                   result.locator("[data-testid^=try-row-]").evaluate_all("rows => rows.map(r => r.dataset.testid)"))
    assert shown == ["marital_status", "name"]  # only the granted items
    name = try_page.get_by_test_id("try-value-name").inner_text()
    assert name.startswith("王**") and "小明" not in name
    assert try_page.get_by_test_id("try-masked-name").is_visible()
    assert try_page.get_by_test_id("try-value-marital_status").inner_text().strip() == "20"  # cleared by default
    assert try_page.get_by_test_id("try-masked-marital_status").count() == 0
    text = result.inner_text()
    for hidden in ("王小明", subject["id_number"], subject["phone"], "文三路"):
        assert hidden not in text

    # 5. Exactly one access was written, for that query.
    accesses = list(Access.objects.all())
    assert len(accesses) == 1
    access = accesses[0]
    assert (access.grant_id, access.mode, access.consumer_code, access.resource_code, access.found) == \
        (grant.pk, "query", "health", resource.code, 1)
    assert sorted(access.items) == ["marital_status", "name"]
    assert access.actor == clerk.username and access.subject_count == 1 and access.subject_hash
    assert sign_in.errors == []
