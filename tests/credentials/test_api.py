"""The credentials API: public verify, trust list and status lists; authorized issue/revoke; wallet."""

from __future__ import annotations

import json

import pytest

from tests.credentials.factories import marriage_type
from tests.identity.factories import PASSWORD, make_citizen_user, make_department, make_official
from tongban.credentials.statuslist import StatusList
from tongban.credentials.trustlist import open_trust_list
from tongban.credentials.vc import parse_vc_jwt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def _token(client, username):
    response = client.post("/api/v1/auth/token", data=json.dumps({"username": username, "password": PASSWORD}),
                           content_type="application/json")
    return response.json()["access_token"]


def _post(client, path, body, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(path, data=json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def setup(client):
    civil = make_department("civil")
    marriage_type(civil)
    make_official("civil-clerk", civil, ["clerk"])
    make_official("civil-auditor", civil, ["auditor"])
    make_official("market-clerk", make_department("market"), ["clerk"])
    holder = make_citizen_user("holder", "李四")
    make_citizen_user("someone-else", "王五")
    return {"clerk": _token(client, "civil-clerk"), "holder": holder}


def _issue(client, setup):
    response = _post(client, "/api/v1/credentials/issue", {"type": "marriage", "holder": setup["holder"].citizen.id_number,
                                                            "fields": {"spouse_name": "王五"}}, setup["clerk"])
    assert response.status_code == 201, response.content
    return response.json()


def test_issue_verify_revoke(client, setup):
    issued = _issue(client, setup)
    answer = _post(client, "/api/v1/credentials/verify", {"credential": issued["qr_text"]}).json()
    assert answer["valid"] is True and set(answer["checks"]) >= {"signature", "not_revoked"}
    response = _post(client, f"/api/v1/credentials/{issued['id']}/revoke", {"reason": "错误"}, setup["clerk"])
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    answer = _post(client, "/api/v1/credentials/verify", {"credential": issued["vc_jwt"]}).json()
    assert answer["valid"] is False and answer["checks"]["not_revoked"]["ok"] is False


def test_suspend_and_lift(client, setup):
    issued = _issue(client, setup)
    assert _post(client, f"/api/v1/credentials/{issued['id']}/suspend", {}, setup["clerk"]).json()["status"] == "suspended"
    assert _post(client, f"/api/v1/credentials/{issued['id']}/lift", {}, setup["clerk"]).json()["status"] == "active"
    assert _post(client, f"/api/v1/credentials/{issued['id']}/lift", {}, setup["clerk"]).status_code == 409


def test_wrong_role_403_other_department_404(client, setup):
    body = {"type": "marriage", "holder": setup["holder"].citizen.id_number, "fields": {"spouse_name": "x"}}
    assert _post(client, "/api/v1/credentials/issue", body, _token(client, "civil-auditor")).status_code == 403
    issued = _issue(client, setup)
    response = _post(client, f"/api/v1/credentials/{issued['id']}/revoke", {}, _token(client, "market-clerk"))
    assert response.status_code == 404


def test_invalid_fields_422(client, setup):
    body = {"type": "marriage", "holder": setup["holder"].citizen.id_number, "fields": {}}
    response = _post(client, "/api/v1/credentials/issue", body, setup["clerk"])
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_fields"


def test_public_trust_list_and_status_list(client, setup):
    issued = _issue(client, setup)
    answer = client.get("/api/v1/credentials/trust-list", HTTP_ACCEPT="application/json").json()
    opened = open_trust_list(answer["token"], answer["root_jwk"], region="330000")
    assert opened.issuers
    text = client.get("/api/v1/credentials/trust-list")
    assert text.status_code == 200 and text.content.decode().count(".") == 2
    entry = parse_vc_jwt(issued["vc_jwt"]).credential["credentialStatus"][0]
    path = entry["statusListCredential"].split("tongban.330000", 1)[1]
    response = client.get(path)
    assert response.status_code == 200 and "max-age=300" in response["Cache-Control"]
    status_list = StatusList.from_credential(parse_vc_jwt(response.content.decode()).credential)
    assert len(status_list) >= 131072
    assert client.get("/api/v1/credentials/status/other/1").status_code == 404


def test_oversized_verify(client, setup):
    answer = _post(client, "/api/v1/credentials/verify", {"credential": "A" * 17000}).json()
    assert answer["valid"] is False and answer["checks"]["format"]["code"] == "oversized"
    assert _post(client, "/api/v1/credentials/verify", {"credential": "A" * 70000}).status_code == 422


def test_wallet_lists_only_mine(client, setup):
    _issue(client, setup)
    mine = client.get("/api/v1/me/credentials", HTTP_AUTHORIZATION=f"Bearer {_token(client, 'holder')}").json()
    assert [c["type"] for c in mine] == ["marriage"]
    theirs = client.get("/api/v1/me/credentials", HTTP_AUTHORIZATION=f"Bearer {_token(client, 'someone-else')}")
    assert theirs.json() == []
    assert client.get("/api/v1/me/credentials").status_code == 401
