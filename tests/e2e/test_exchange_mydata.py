"""我的数据 in a real browser: a citizen signs in, follows the link from 我的账号 to /me/data/,
sees the record a department holds about them and the department's access, with its ledger proof."""

from __future__ import annotations

import pytest

from tests.exchange import factories_mydata as mine
from tests.exchange.factories import person_resource, person_row
from tests.identity.factories import PASSWORD, make_citizen_user, make_department

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_citizen_sees_own_record_and_who_accessed_it(page, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    civil = person_resource("civil")
    make_department("health", name="浙江省卫生健康委员会")
    me = make_citizen_user("e2e-citizen", "赵六")
    other = make_citizen_user("e2e-other", "钱七")
    mine.records(civil, [person_row(1, id_number=me.citizen.id_number, name="赵六"),
                         person_row(2, id_number=other.citizen.id_number, name="钱七")])
    row = mine.access("health", civil.code, me.citizen.id_number, items=["marital_status"],
                      purpose="出生医学证明核验父母婚姻状况")
    index = mine.seal(row)
    mine.access("hr", civil.code, other.citizen.id_number, purpose="与我无关的访问")

    page.goto("/accounts/login/?next=/me/")
    page.get_by_label("用户名").fill("e2e-citizen")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/me/")
    page.get_by_test_id("my-data-link").click()
    page.wait_for_url("**/me/data/")

    record = page.get_by_test_id("my-record")
    assert record.count() == 1
    assert record.get_attribute("data-resource") == civil.code
    assert me.citizen.id_number in record.inner_text() and "赵六" in record.inner_text()
    assert other.citizen.id_number not in page.content()

    rows = page.get_by_test_id("access-row")
    assert rows.count() == 1
    text = rows.first.inner_text()
    assert "出生医学证明核验父母婚姻状况" in text and mine.department_name("health") in text
    assert "婚姻状况" in text
    proof = rows.first.get_by_test_id("proof-link")
    proof.click()
    page.wait_for_url(f"**/ledger/entries/{index}/")
    assert errors == []
