"""The wallet and the verifier in a real browser: show my QR, then verify its text on the verifier page."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.credentials.conftest import cred_env  # noqa: F401 - the fixture, shared with tests/credentials
from tests.credentials.factories import marriage_type, official
from tests.identity.factories import PASSWORD, make_citizen_user, make_department
from tongban.credentials import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("cred_env")]


def test_wallet_shows_qr_and_verifier_accepts_it(page, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    civil = make_department("civil")
    marriage_type(civil)
    holder = make_citizen_user("wallet-holder", "李四")
    with transaction.atomic():  # the edge holds the transaction, as the pages and the API do
        credential = services.issue_credential(official("civil-clerk", civil), "marriage", holder.citizen.id_number,
                                               {"spouse_name": "王五"})

    page.goto("/accounts/login/?next=/me/credentials/")
    page.get_by_label("用户名").fill("wallet-holder")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/me/credentials/")
    assert page.get_by_role("heading", level=1).inner_text() == "我的证照"
    page.get_by_role("link", name="显示二维码").click()
    assert page.locator("figure.qr svg").is_visible()

    page.goto("/credentials/verify/")
    page.get_by_label("粘贴二维码文本（TB1:…）或 VC-JWT").fill(credential.qr_text)
    page.get_by_role("button", name="核验").click()
    assert page.get_by_role("heading", level=2).inner_text() == "证照有效"
    assert page.locator("tr.ok").count() == 6
    assert errors == []
