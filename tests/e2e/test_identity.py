"""Registering in a real browser: the form, its error summary, and the account page it leads to."""

from __future__ import annotations

import datetime

import pytest

from tests.identity.factories import PASSWORD, make_region
from tongban.identity.generators import make_id_number
from tongban.identity.validators import mask_id_number

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_register_a_citizen_and_land_on_my_account(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    make_region("330106")
    number = make_id_number("330106", datetime.date(1988, 3, 9), 457)

    page.goto("/")
    page.get_by_role("link", name="注册", exact=True).click()
    assert page.get_by_role("heading", level=1).inner_text() == "注册"
    page.get_by_label("用户名").fill("liming")
    page.get_by_label("公民身份号码").fill(number[:17] + ("0" if number[17] != "0" else "1"))
    page.get_by_label("姓名").fill("李明")
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.get_by_label("确认密码").fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()

    # A wrong check character: the summary is announced and focused, the field says what is wrong.
    summary = page.get_by_role("alert")
    assert "校验位错误" in summary.inner_text()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    id_field = page.get_by_label("公民身份号码")
    assert id_field.get_attribute("aria-invalid") == "true"
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "id_id_number"

    id_field.fill(number)
    page.get_by_label("密码", exact=True).fill(PASSWORD)  # passwords are not sent back to the page
    page.get_by_label("确认密码").fill(PASSWORD)
    page.get_by_role("button", name="注册", exact=True).click()

    page.wait_for_url("**/me/")
    assert page.get_by_role("heading", level=1).inner_text() == "我的账号"
    assert page.get_by_test_id("profile-id-number").inner_text() == mask_id_number(number)
    assert number not in page.content()
    # The header now names the account and links to this page.
    assert page.get_by_test_id("account-link").get_attribute("href") == "/me/"
    assert errors == []
