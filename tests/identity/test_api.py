"""Identity API: tokens, lockout, TOTP, registration, system tokens, officials."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.identity.factories import (
    PASSWORD,
    make_citizen,
    make_citizen_user,
    make_department,
    make_official,
)
from tongban.identity.generators import make_id_number, make_uscc
from tongban.identity.models import AccessToken, Citizen, Enterprise, User
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


def post(client, path, body, token=None, **extra):
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(f"/api/v1{path}", data=json.dumps(body), content_type="application/json", **extra)


def get(client, path, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(f"/api/v1{path}", **extra)


def login(client, username, password=PASSWORD, **more):
    response = post(client, "/auth/token", {"username": username, "password": password, **more})
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def error_code(response):
    return response.json()["error"]["code"]


# --- user tokens -------------------------------------------------------------------------------------

def test_token_then_me_for_citizen(client):
    user = make_citizen_user("zhangsan")
    body = post(client, "/auth/token", {"username": "zhangsan", "password": PASSWORD}).json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 3600
    me = get(client, "/me", body["access_token"]).json()
    assert me["username"] == "zhangsan"
    assert me["kind"] == "citizen"
    assert me["id_number"] == Citizen.objects.get(user=user).id_number
    # Only the hash is stored.
    assert not AccessToken.objects.filter(key_hash=body["access_token"]).exists()


def test_me_for_official_names_department_and_roles(client):
    make_official("m-steward", make_department("market"), ["steward"])
    me = get(client, "/me", login(client, "m-steward")).json()
    assert me["kind"] == "official" and me["department"] == "market" and me["roles"] == ["steward"]


def test_wrong_password_is_401(client):
    make_citizen_user("zhangsan")
    response = post(client, "/auth/token", {"username": "zhangsan", "password": "wrong"})
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"


def test_locked_after_five_failures_even_with_right_password(client):
    make_citizen_user("zhangsan")
    for _ in range(4):
        assert post(client, "/auth/token", {"username": "zhangsan", "password": "wrong"}).status_code == 401
    fifth = post(client, "/auth/token", {"username": "zhangsan", "password": "wrong"})
    assert fifth.status_code == 429 and error_code(fifth) == "account_locked"
    right = post(client, "/auth/token", {"username": "zhangsan", "password": PASSWORD})
    assert right.status_code == 429 and error_code(right) == "account_locked"
    # In the ledger, the typed username is filed only under its keyed hash.
    locked = LedgerEvent.objects.filter(action="identity.locked_out")
    assert locked.count() == 2  # the fifth failure, and the right password tried while locked
    assert all(e.actor == "anonymous" and "zhangsan" not in bytes(e.entry).decode() for e in locked)
    assert list(ledger.entries_for_subject("zhangsan").filter(action="identity.login_failed")) != []


def test_expired_user_token_is_401(client):
    make_citizen_user("zhangsan")
    token = login(client, "zhangsan")
    AccessToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    response = get(client, "/me", token)
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_logout_revokes_the_token(client):
    make_citizen_user("zhangsan")
    token = login(client, "zhangsan")
    assert post(client, "/auth/logout", {}, token).status_code == 204
    assert get(client, "/me", token).status_code == 401


def test_deactivated_user_token_stops_working(client):
    user = make_citizen_user("zhangsan")
    token = login(client, "zhangsan")
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert get(client, "/me", token).status_code == 401


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic abc", "Bearer " + "x" * 500])
def test_garbage_credentials_are_401(client, header):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


# --- TOTP ----------------------------------------------------------------------------------------------

def _code(device: TOTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def mfa_on(settings):
    settings.TONGBAN_MFA_REQUIRED = True


def test_bureau_admin_without_device_must_enrol(client, mfa_on):
    make_official("boss", make_department("bureau", is_bureau=True), ["bureau_admin", "cdo"])
    response = post(client, "/auth/token", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 403 and error_code(response) == "mfa_enrolment_required"


def test_bureau_admin_needs_right_otp(client, mfa_on):
    boss = make_official("boss", make_department("bureau", is_bureau=True), ["cdo"])
    device = TOTPDevice.objects.create(user=boss, name="app", confirmed=True)
    missing = post(client, "/auth/token", {"username": "boss", "password": PASSWORD})
    assert missing.status_code == 401 and error_code(missing) == "otp_required"
    wrong = post(client, "/auth/token", {"username": "boss", "password": PASSWORD, "otp": _code(device, offset=5)})
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_otp"
    throttled = post(client, "/auth/token", {"username": "boss", "password": PASSWORD, "otp": _code(device)})
    assert throttled.status_code == 401  # django-otp throttles a device right after a wrong code
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert login(client, "boss", otp=_code(device))


def test_wrong_otps_count_toward_lockout(client, mfa_on):
    boss = make_official("boss", make_department("bureau", is_bureau=True), ["cdo"])
    device = TOTPDevice.objects.create(user=boss, name="app", confirmed=True)
    for _ in range(5):
        post(client, "/auth/token", {"username": "boss", "password": PASSWORD, "otp": _code(device, offset=7)})
    response = post(client, "/auth/token", {"username": "boss", "password": PASSWORD, "otp": _code(device)})
    assert response.status_code == 429


def test_mfa_not_required_for_other_roles_or_when_switched_off(client, settings):
    make_official("m-steward", make_department("market"), ["steward"])
    settings.TONGBAN_MFA_REQUIRED = True
    assert login(client, "m-steward")
    settings.TONGBAN_MFA_REQUIRED = False
    make_official("boss", make_department("bureau", is_bureau=True), ["bureau_admin"])
    assert login(client, "boss")


# --- registration ----------------------------------------------------------------------------------

def _citizen_body(**changes):
    body = {"username": "lisi", "id_number": make_id_number("330106", datetime.date(1988, 8, 8), 35),
            "name": "李四", "phone": "13800000000", "password": "Strong-Pass-2026"}
    body.update(changes)
    return body


def test_register_citizen_then_log_in(client):
    response = post(client, "/identity/citizens", _citizen_body())
    assert response.status_code == 201
    assert response.json() == {"username": "lisi", "kind": "citizen"}
    citizen = Citizen.objects.get(user__username="lisi")
    assert citizen.sex == "male" and citizen.birth_date == datetime.date(1988, 8, 8)
    assert User.objects.get(username="lisi").password.startswith("md5$")  # hashed, never clear
    registered = LedgerEvent.objects.get(action="identity.account_registered")
    assert registered.actor == "lisi"
    assert login(client, "lisi", "Strong-Pass-2026")


def test_register_citizen_bad_checksum_is_422_and_creates_nothing(client):
    number = _citizen_body()["id_number"]
    bad = number[:17] + ("0" if number[17] != "0" else "1")
    response = post(client, "/identity/citizens", _citizen_body(id_number=bad))
    assert response.status_code == 422
    assert error_code(response) == "invalid_id_number"
    assert response.json()["error"]["details"]["reason"] == "checksum"
    assert not User.objects.filter(username="lisi").exists()


def test_register_weak_password_lists_rules(client):
    response = post(client, "/identity/citizens", _citizen_body(password="12345678"))
    assert response.status_code == 422 and error_code(response) == "weak_password"
    assert "password_too_short" in response.json()["error"]["details"]["rules"]
    assert not Citizen.objects.exists()


def test_register_taken_username_or_id_is_409(client):
    assert post(client, "/identity/citizens", _citizen_body()).status_code == 201
    again = post(client, "/identity/citizens", _citizen_body(username="other"))
    assert again.status_code == 409 and error_code(again) == "id_number_registered"
    taken = post(client, "/identity/citizens",
                 _citizen_body(id_number=make_id_number("330106", datetime.date(1990, 1, 1), 1)))
    assert taken.status_code == 409 and error_code(taken) == "username_taken"


def test_register_binds_known_person_only_when_name_matches(client):
    known = make_citizen("王五")
    mismatch = post(client, "/identity/citizens", _citizen_body(id_number=known.id_number, name="冒名"))
    assert mismatch.status_code == 422 and error_code(mismatch) == "identity_mismatch"
    ok = post(client, "/identity/citizens", _citizen_body(id_number=known.id_number, name="王五"))
    assert ok.status_code == 201
    known.refresh_from_db()
    assert known.user.username == "lisi"


def test_register_enterprise_and_bad_uscc(client):
    body = {"username": "acme", "uscc": make_uscc("330106", 4242), "name": "杭州阿克米科技有限公司",
            "password": "Strong-Pass-2026", "legal_representative": "赵六"}
    bad = post(client, "/identity/enterprises", {**body, "uscc": body["uscc"][:17] + "0"
                                                 if body["uscc"][17] != "0" else body["uscc"][:17] + "1"})
    assert bad.status_code == 422 and error_code(bad) == "invalid_uscc"
    response = post(client, "/identity/enterprises", body)
    assert response.status_code == 201
    assert Enterprise.objects.get(user__username="acme").uscc == body["uscc"]
    assert get(client, "/me", login(client, "acme", "Strong-Pass-2026")).json()["uscc"] == body["uscc"]


# --- department system tokens ---------------------------------------------------------------------

@pytest.fixture
def two_departments():
    market, health = make_department("market"), make_department("health")
    make_official("m-steward", market, ["steward"])
    make_official("m-approver", market, ["approver"])
    make_official("h-steward", health, ["steward"])
    return market, health


def _create_system_token(client, user_token, **changes):
    body = {"name": "登记系统", "scopes": ["exchange:query"], "expires_in_days": 30, **changes}
    return post(client, "/identity/tokens", body, user_token)


def test_steward_creates_system_token_shown_once_and_usable(client, two_departments):
    steward = login(client, "m-steward")
    created = _create_system_token(client, steward)
    assert created.status_code == 201
    key = created.json()["access_token"]
    assert key.startswith("tbs_")
    listed = get(client, "/identity/tokens", steward).json()
    assert [t["prefix"] for t in listed] == [created.json()["prefix"]]
    assert "access_token" not in listed[0]
    me = get(client, "/me", key).json()
    assert me["kind"] == "system" and me["department"] == "market" and me["scopes"] == ["exchange:query"]


def test_system_token_cannot_mint_tokens(client, two_departments):
    key = _create_system_token(client, login(client, "m-steward")).json()["access_token"]
    response = _create_system_token(client, key)
    assert response.status_code == 403


def test_wrong_role_cannot_create_system_token(client, two_departments):
    response = _create_system_token(client, login(client, "m-approver"))
    assert response.status_code == 403 and error_code(response) == "permission_denied"


def test_unknown_scope_is_422(client, two_departments):
    response = _create_system_token(client, login(client, "m-steward"), scopes=["exchange:everything"])
    assert response.status_code == 422 and error_code(response) == "invalid_scopes"


def test_department_a_cannot_see_or_revoke_department_b_token(client, two_departments):
    created = _create_system_token(client, login(client, "m-steward")).json()
    health = login(client, "h-steward")
    assert get(client, "/identity/tokens", health).json() == []
    response = post(client, f"/identity/tokens/{created['id']}/revoke", {}, health)
    assert response.status_code == 404
    assert get(client, "/me", created["access_token"]).status_code == 200


def test_revoked_system_token_is_401(client, two_departments):
    steward = login(client, "m-steward")
    created = _create_system_token(client, steward).json()
    assert post(client, f"/identity/tokens/{created['id']}/revoke", {}, steward).json()["revoked"] is True
    assert get(client, "/me", created["access_token"]).status_code == 401


def test_expired_system_token_is_401(client, two_departments):
    created = _create_system_token(client, login(client, "m-steward")).json()
    AccessToken.objects.filter(pk=created["id"]).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert get(client, "/me", created["access_token"]).status_code == 401


# --- officials ----------------------------------------------------------------------------------------

@pytest.fixture
def admins(settings):
    settings.TONGBAN_MFA_REQUIRED = False  # TOTP is tested above; here it would only add steps
    bureau, market, health = make_department("bureau", is_bureau=True), make_department("market"), make_department("health")
    make_official("boss", bureau, ["bureau_admin"])
    make_official("m-admin", market, ["dept_admin"])
    make_official("m-steward", market, ["steward"])
    return bureau, market, health


def _official(**changes):
    return {"username": "new-clerk", "full_name": "新人", "password": "Strong-Pass-2026", "roles": ["clerk"],
            **changes}


def test_bureau_admin_creates_official_in_any_department(client, admins):
    response = post(client, "/identity/officials", _official(department="health"), login(client, "boss"))
    assert response.status_code == 201
    assert response.json()["department"] == "health" and response.json()["roles"] == ["clerk"]


def test_department_admin_limited_to_own_department_and_roles(client, admins):
    admin = login(client, "m-admin")
    assert post(client, "/identity/officials", _official(), admin).json()["department"] == "market"
    other = post(client, "/identity/officials", _official(username="x2", department="health"), admin)
    assert other.status_code == 403
    platform_role = post(client, "/identity/officials", _official(username="x3", roles=["cdo"]), admin)
    assert platform_role.status_code == 403
    changed = client.put("/api/v1/identity/officials/m-steward/roles", data=json.dumps({"roles": ["approver"]}),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {admin}")
    assert changed.status_code == 200 and changed.json()["roles"] == ["approver"]
    event = LedgerEvent.objects.get(action="identity.roles_changed")
    assert (event.actor, event.subject, event.department) == ("m-admin", "m-steward", "market")
    assert json.loads(bytes(event.entry))["payload"] == {"before": ["steward"], "after": ["approver"]}


def test_steward_cannot_manage_officials(client, admins):
    response = post(client, "/identity/officials", _official(), login(client, "m-steward"))
    assert response.status_code == 403


def test_department_admin_cannot_touch_other_departments_official(client, admins):
    make_official("h-clerk", admins[2], ["clerk"])
    response = client.put("/api/v1/identity/officials/h-clerk/roles", data=json.dumps({"roles": ["approver"]}),
                          content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {login(client, 'm-admin')}")
    assert response.status_code == 403
