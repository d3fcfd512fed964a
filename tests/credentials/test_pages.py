"""The wallet and the verifier page."""

from __future__ import annotations

import pytest

from tests.credentials.factories import marriage_type, official
from tests.identity.factories import make_citizen_user, make_department
from tongban.credentials import services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]


@pytest.fixture
def issued():
    civil = make_department("civil")
    marriage_type(civil)
    clerk = official("civil-clerk", civil)
    me, other = make_citizen_user("holder", "李四"), make_citizen_user("other", "王五")
    mine = services.issue_credential(clerk, "marriage", me.citizen.id_number, {"spouse_name": "甲"})
    theirs = services.issue_credential(clerk, "marriage", other.citizen.id_number, {"spouse_name": "乙"})
    return me, mine, theirs


def test_wallet_shows_my_credentials_and_qr(client, issued):
    me, mine, theirs = issued
    client.force_login(me)
    page = client.get("/me/credentials/").content.decode()
    assert "结婚证" in page and "甲" in page and "乙" not in page
    page = client.get(f"/me/credentials/?show={mine.pk}").content.decode()
    assert "<svg" in page
    download = client.get(f"/me/credentials/{mine.pk}.jwt")
    assert download.status_code == 200 and download.content.decode() == mine.vc_jwt
    assert "attachment" in download["Content-Disposition"]
    assert client.get(f"/me/credentials/{theirs.pk}.jwt").status_code == 404


def test_wallet_needs_login(client):
    assert client.get("/me/credentials/").status_code == 302


def test_verifier_page_shows_each_check(client, issued):
    _, mine, _ = issued
    assert client.get("/credentials/verify/").status_code == 200
    page = client.post("/credentials/verify/", {"credential": mine.qr_text}).content.decode()
    assert "not_revoked" in page and "signature" in page
    bad = client.post("/credentials/verify/", {"credential": "TB1:!!!"}).content.decode()
    assert "failed" in bad or "未通过" in bad


def test_use_in_an_application(client, issued):
    me, mine, theirs = issued
    client.force_login(me)
    assert f"/me/credentials/{mine.pk}/present/" in client.get("/me/credentials/").content.decode()
    form = client.get(f"/me/credentials/{mine.pk}/present/")
    assert form.status_code == 200 and 'name="item"' in form.content.decode()
    page = client.post(f"/me/credentials/{mine.pk}/present/", {"item": "MZ-0001", "purpose": "婚姻登记"}).content.decode()
    assert "<svg" in page and "onestop:MZ-0001" in page
    token = page.split("<textarea readonly rows=\"5\">", 1)[1].split("</textarea>", 1)[0]
    assert services.redeem_presentation(token, audience="onestop:MZ-0001").pk == mine.pk
    bad = client.post(f"/me/credentials/{mine.pk}/present/", {"item": "a b", "purpose": "x"}).content.decode()
    assert "role=\"alert\"" in bad
    assert client.get(f"/me/credentials/{theirs.pk}/present/").status_code == 404
