"""秒批 + 免证办 in a real browser, on a phone-sized screen: a citizen whose marriage record is in the
shared data and whose marriage certificate is in the wallet applies for an instant-approval item
without typing anything, is approved at once and finds the new certificate in the wallet."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from tests.credentials.conftest import cred_env  # noqa: F401 - the fixture, shared with tests/credentials
from tests.credentials.factories import marriage_type, official
from tests.exchange import factories_mydata as mine
from tests.exchange.factories import person_resource, person_row
from tests.identity.factories import PASSWORD, make_citizen_user, make_department
from tests.onestop.factories import make_certificate_type, service_item
from tests.onestop.factories_apps import grant
from tongban.credentials import services as credentials
from tongban.onestop.models import Application

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cred_env")]

PHONE = {"width": 390, "height": 844}


def fits_the_screen(page) -> bool:
    """No horizontal overflow of the page at the phone's width."""
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def test_citizen_is_approved_at_once_and_finds_the_certificate_in_the_wallet(page, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size(PHONE)

    civil = person_resource("civil")
    me = make_citizen_user("e2e-instant", "赵六")
    mine.records(civil, [person_row(1, id_number=me.citizen.id_number, name="赵六", marital_status="20")])
    marriage_type(make_department("civil"))
    with transaction.atomic():
        credentials.issue_credential(official("civil-clerk", make_department("civil")), "marriage",
                                     me.citizen.id_number, {"spouse_name": "钱七"})
    make_certificate_type("individual_licence", "market", name="个体工商户营业执照")
    item = service_item(
        "market", name="个体工商户设立登记（秒批）", certificate_type="individual_licence",
        form_schema=[{"key": "name", "label": "经营者姓名", "label_en": "Operator", "type": "text",
                      "required": True, "prefill": {"resource": civil.code, "item": "name"}}],
        materials=[{"source": "certificate", "name": "结婚证", "certificate_type": "marriage"},
                   {"source": "shared_data", "name": "婚姻登记记录", "resource_code": civil.code,
                    "resource_items": ["marital_status"]}],
        instant_rule={"and": [{"==": [{"var": f"data.{civil.code}.marital_status"}, "20"]},
                              {"!!": {"var": "wallet.marriage"}}]})

    grant("market", civil.code, ["name", "marital_status"])  # market may prefill from civil's resource

    page.goto(f"/accounts/login/?next=/services/{item.code}/")
    page.get_by_label("用户名").fill("e2e-instant")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"**/services/{item.code}/")
    page.get_by_test_id("apply-button").click()

    # The form: everything comes from government records; nothing to type.
    page.wait_for_url(re.compile(r".*/me/applications/[^/]+/form/$"))
    number = page.get_by_test_id("application-number").inner_text().strip()
    assert page.get_by_test_id("prefilled-value").inner_text() == "赵六"
    assert page.get_by_test_id("prefilled-badge").is_visible()
    assert page.get_by_test_id("editable-field").count() == 0
    assert fits_the_screen(page)
    page.get_by_test_id("save-continue").click()

    # Materials: the certificate from the wallet, the record from shared data; no upload.
    page.wait_for_url(f"**/me/applications/{number}/materials/")
    materials = page.get_by_test_id("material")
    assert [m.get_attribute("data-state") for m in materials.all()] == ["wallet", "shared"]
    assert "结婚证" in materials.first.get_by_test_id("material-source").inner_text()
    assert page.get_by_test_id("file-input").count() == 0
    assert fits_the_screen(page)
    page.get_by_test_id("to-check").click()

    page.wait_for_url(f"**/me/applications/{number}/check/")
    assert "赵六" in page.get_by_test_id("answers").inner_text()
    assert fits_the_screen(page)
    page.get_by_test_id("submit-application").click()

    # Approved at once, with the number and the certificate.
    page.wait_for_url(f"**/me/applications/{number}/done/")
    assert page.get_by_test_id("confirmation").get_attribute("data-status") == "completed"
    assert page.get_by_test_id("instant-approved").is_visible()
    assert page.get_by_test_id("application-number").inner_text().strip() == number
    assert fits_the_screen(page)
    application = Application.objects.get(number=number)
    assert application.status == "completed" and application.credential_id and application.reused_count == 2
    page.get_by_test_id("credential-link").click()
    page.wait_for_url("**/me/credentials/**")
    card = page.locator(f"#credential-{application.credential_id}")
    assert card.is_visible() and "个体工商户营业执照" in card.inner_text()

    # My applications: the completed one, its timeline, a link to rate it.
    page.goto("/me/applications/")
    row = page.get_by_test_id("application-row")
    assert row.count() == 1 and row.get_by_test_id("status-badge").get_attribute("data-status") == "completed"
    assert fits_the_screen(page)
    row.get_by_role("link", name="个体工商户设立登记（秒批）").click()
    page.wait_for_url(f"**/me/applications/{number}/")
    statuses = [s.get_attribute("data-status") for s in page.get_by_test_id("timeline-step").all()]
    assert statuses == ["draft", "submitted", "approved", "completed"]
    assert page.get_by_test_id("rate-link").is_visible()
    assert fits_the_screen(page)
    assert errors == []
