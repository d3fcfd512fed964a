"""The identity pages: register, log in (lockout, TOTP), my account, two-factor enrolment,
system tokens and the administration of officials — through the test client, on a real DB."""

from __future__ import annotations

import base64
import datetime
import logging

import pytest
from axes.models import AccessAttempt
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.identity.factories import (
    PASSWORD,
    make_citizen_user,
    make_department,
    make_official,
    make_region,
)
from tongban.identity import events
from tongban.identity.generators import make_id_number, make_uscc
from tongban.identity.models import AccessToken, Citizen, Enterprise, RoleAssignment, User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-Horse-77"


def _code(device: TOTPDevice) -> str:
    """The code the user's authenticator app shows now."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return f"{value:0{device.digits}d}"


def _wrong_code(device: TOTPDevice) -> str:
    right = int(_code(device))
    return f"{(right + 1) % 10 ** device.digits:0{device.digits}d}"


def _login(client, username, password=PASSWORD, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password, **extra})


def _logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def _html(response) -> str:
    return response.content.decode()


@pytest.fixture
def id_number():
    make_region("330106")
    return make_id_number("330106", datetime.date(1990, 5, 17), 123)


@pytest.fixture
def mfa_on(settings):
    settings.TONGBAN_MFA_REQUIRED = True
    settings.TONGBAN_MFA_ROLES = ("bureau_admin", "cdo")


@pytest.fixture
def mfa_off(settings):
    settings.TONGBAN_MFA_REQUIRED = False


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="tongban.security")
    return caplog


def _events(caplog, action):
    return [r for r in caplog.records if r.name == "tongban.security" and r.getMessage().startswith(action)]


# --- Register ---------------------------------------------------------------------------------------


def _citizen_form(id_number, **overrides):
    return {"kind": "citizen", "username": "zhangsan", "id_number": id_number, "name": "张三",
            "phone": "13800000000", "password": PASSWORD, "password_confirm": PASSWORD, **overrides}


def test_register_citizen_logs_in_and_lands_on_my_account(client, id_number):
    response = client.post("/accounts/register/", _citizen_form(id_number))

    assert response.status_code == 302 and response.url == "/me/"
    user = User.objects.get(username="zhangsan")
    assert user.kind == User.Kind.CITIZEN and user.citizen.id_number == id_number
    assert _logged_in_user_id(client) == str(user.pk)
    page = _html(client.get("/me/"))
    assert "330***********" + id_number[-4:] in page
    assert id_number not in page  # the full number is never on the page


def test_register_citizen_with_a_bad_check_digit_says_so_at_the_field(client, id_number):
    wrong = id_number[:17] + ("0" if id_number[17] != "0" else "1")
    response = client.post("/accounts/register/", _citizen_form(wrong))

    assert response.status_code == 200
    page = _html(response)
    assert 'role="alert"' in page
    # The precise message, next to the ID number field, which is marked invalid.
    assert f'<p class="field-error" id="id_id_number_error">身份证号码校验位错误：应为 {id_number[17]}</p>' in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="id_id_number_helptext id_id_number_error"' in page
    assert not User.objects.filter(username="zhangsan").exists()
    assert not Citizen.objects.exists()
    assert _logged_in_user_id(client) is None


def test_register_errors_are_in_english_when_english_is_chosen(client, id_number):
    client.cookies["tongban_language"] = "en"
    response = client.post("/accounts/register/", _citizen_form(id_number[:17] + "Y"))
    page = _html(response)
    assert "Please correct the following" in page
    assert "ID number character 18 must be a digit or X" in page


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"password_confirm": "Something-Else-1"}, "password_confirm", "两次输入的密码不一致"),
    ({"password": "abc", "password_confirm": "abc"}, "password", "密码强度不足"),
    ({"phone": "12345"}, "phone", "手机号码须为 11 位数字"),
    ({"username": "a"}, "username", "用户名须为 3–40 个字母"),
])
def test_register_shows_each_problem_at_its_field(client, id_number, overrides, field, message):
    response = client.post("/accounts/register/", _citizen_form(id_number, **overrides))
    page = _html(response)
    error_start = page.index(f'id="id_{field}_error"')
    assert message in page[error_start:error_start + 400]
    assert not User.objects.exists()


def test_register_with_a_taken_username(client, id_number):
    make_citizen_user("zhangsan")
    page = _html(client.post("/accounts/register/", _citizen_form(id_number)))
    assert 'id="id_username_error">该用户名已被使用' in page
    assert Citizen.objects.filter(id_number=id_number).count() == 0


def test_register_enterprise(client):
    region = make_region()
    uscc = make_uscc(region.code, 4242)
    form = {"kind": "enterprise", "username": "huachuang", "uscc": uscc, "name": "杭州华创科技有限公司",
            "legal_representative": "李四", "password": PASSWORD, "password_confirm": PASSWORD}
    bad = client.post("/accounts/register/?kind=enterprise", {**form, "uscc": uscc[:17] + "0" if uscc[17] != "0"
                                                               else uscc[:17] + "1"})
    assert 'id="id_uscc_error">统一社会信用代码' in _html(bad)
    assert not Enterprise.objects.exists()

    response = client.post("/accounts/register/?kind=enterprise", form)
    assert response.status_code == 302
    enterprise = Enterprise.objects.get(uscc=uscc)
    assert enterprise.user.username == "huachuang" and enterprise.legal_representative == "李四"
    assert uscc[:2] + "************" + uscc[-4:] in _html(client.get("/me/"))


def test_register_page_has_both_account_types_and_labelled_fields(client):
    page = _html(client.get("/accounts/register/"))
    assert 'href="?kind=citizen"' in page and 'href="?kind=enterprise"' in page
    assert '<label for="id_id_number">公民身份号码</label>' in page
    page = _html(client.get("/accounts/register/?kind=enterprise"))
    assert '<label for="id_uscc">统一社会信用代码</label>' in page


# --- Log in and lockout ---------------------------------------------------------------------------


def test_login_and_logout(client, security_log):
    user = make_citizen_user("citizen")
    response = _login(client, "citizen")
    assert response.status_code == 302 and response.url == "/"
    assert _logged_in_user_id(client) == str(user.pk)
    assert any("'channel': 'web'" in r.getMessage() for r in _events(security_log, events.LOGIN_SUCCEEDED))
    # The header links the username to the account page.
    assert '<a href="/me/" class="who"' in _html(client.get("/"))

    client.post("/accounts/logout/")
    assert _logged_in_user_id(client) is None
    page = _html(client.get("/"))
    assert 'href="/accounts/register/"' in page and "注册" in page


def test_login_goes_to_next_but_only_on_this_site(client):
    make_citizen_user("citizen")
    assert _login(client, "citizen", next="/me/").url == "/me/"
    client.post("/accounts/logout/")
    assert _login(client, "citizen", next="https://evil.example/").url == "/"


def test_wrong_password_is_shown_and_recorded(client, security_log):
    make_citizen_user("citizen")
    response = _login(client, "citizen", "not-the-password")
    assert response.status_code == 200
    assert 'role="alert"' in _html(response) and "用户名或密码错误" in _html(response)
    assert _logged_in_user_id(client) is None
    assert AccessAttempt.objects.get(username="citizen").failures_since_start == 1
    assert _events(security_log, events.LOGIN_FAILED)


def test_lockout_after_five_failures(client, settings, security_log):
    assert settings.AXES_FAILURE_LIMIT == 5
    make_citizen_user("citizen")
    for _ in range(4):
        assert _login(client, "citizen", "not-the-password").status_code == 200

    fifth = _login(client, "citizen", "not-the-password")
    assert fifth.status_code == 429
    page = _html(fifth)
    assert "登录已暂时锁定" in page and "15 分钟" in page and 'role="alert"' in page
    assert '<main id="main"' in page  # a whole page of the site, not a bare message
    assert _events(security_log, events.LOCKED_OUT)

    # Locked: even the right password is refused now.
    sixth = _login(client, "citizen")
    assert sixth.status_code == 429
    assert _logged_in_user_id(client) is None


def test_lockout_page_in_english(client):
    make_citizen_user("citizen")
    client.cookies["tongban_language"] = "en"
    for _ in range(5):
        response = _login(client, "citizen", "not-the-password")
    assert response.status_code == 429
    page = _html(response)
    assert "Login temporarily locked" in page and "paused for 15 minutes" in page


def test_login_page_in_english(client):
    client.cookies["tongban_language"] = "en"
    page = _html(client.get("/accounts/login/"))
    assert "<h1 id=\"login-title\">Log in</h1>" in page and '<label for="id_username">Username</label>' in page


# --- Two-factor authentication --------------------------------------------------------------------


@pytest.fixture
def bureau_admin(mfa_on):
    return make_official("chief", make_department("bureau", is_bureau=True), ["bureau_admin"])


@pytest.fixture
def device(bureau_admin):
    return TOTPDevice.objects.create(user=bureau_admin, name="authenticator", confirmed=True)


def test_mfa_login_asks_for_the_code_before_logging_in(client, device, security_log):
    response = _login(client, "chief", next="/me/tokens/")
    assert response.status_code == 302 and response.url == "/accounts/login/verify/"
    assert _logged_in_user_id(client) is None  # not logged in between the two steps
    assert client.get("/me/").status_code == 302

    page = _html(client.get("/accounts/login/verify/"))
    assert '<label for="id_code">' in page and 'autocomplete="one-time-code"' in page

    response = client.post("/accounts/login/verify/", {"code": _code(device)})
    assert response.status_code == 302 and response.url == "/me/tokens/"
    assert _logged_in_user_id(client) == str(device.user_id)
    assert client.session["otp_device_id"] == device.persistent_id  # request.user.is_verified()
    assert client.get("/me/tokens/").status_code == 200
    assert "identity_pending_login" not in client.session
    assert _events(security_log, events.LOGIN_SUCCEEDED)


def test_a_wrong_code_is_refused_and_counts_as_a_failed_login(client, device, security_log):
    _login(client, "chief")
    response = client.post("/accounts/login/verify/", {"code": _wrong_code(device)})
    assert response.status_code == 200
    assert 'id="id_code_error"' in _html(response) and 'role="alert"' in _html(response)
    assert _logged_in_user_id(client) is None
    assert AccessAttempt.objects.get(username="chief").failures_since_start == 1
    assert any("'reason': 'otp'" in r.getMessage() for r in _events(security_log, events.LOGIN_FAILED))

    # Code failures and password failures add up to the same lockout.
    for _ in range(3):
        _login(client, "chief", "not-the-password")
    locked = client.post("/accounts/login/verify/", {"code": _wrong_code(device)})
    assert locked.status_code == 429
    assert client.post("/accounts/login/verify/", {"code": _code(device)}).status_code == 302  # back to login
    assert _logged_in_user_id(client) is None


def test_code_step_without_a_password_step_goes_back_to_login(client, device):
    response = client.post("/accounts/login/verify/", {"code": "123456"})
    assert response.status_code == 302 and response.url == "/accounts/login/"


def test_unenrolled_admin_must_enrol_before_anything_else(client, bureau_admin, security_log):
    response = _login(client, "chief")
    assert response.status_code == 302 and response.url.startswith("/me/two-factor/")
    assert _logged_in_user_id(client) == str(bureau_admin.pk)  # logged in, but not verified

    tokens_page = client.get("/me/tokens/")
    assert tokens_page.status_code == 302 and tokens_page.url == "/me/two-factor/?next=%2Fme%2Ftokens%2F"
    assert client.get("/me/").url.startswith("/me/two-factor/")
    assert client.get("/workbench/officials/").url.startswith("/me/two-factor/")

    page = client.get("/me/two-factor/?next=/me/tokens/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=bureau_admin, confirmed=False)
    html = _html(page)
    assert "<svg" in html and 'role="img"' in html
    secret = base64.b32encode(device.bin_key).decode()
    assert html.count(secret[:4] + " " + secret[4:8]) == 1  # the key, for typing in by hand
    assert page["Cache-Control"].find("no-store") >= 0

    wrong = client.post("/me/two-factor/", {"action": "confirm", "code": _wrong_code(device)})
    assert wrong.status_code == 200 and "动态验证码不正确" in _html(wrong)

    done = client.post("/me/two-factor/", {"action": "confirm", "code": _code(device), "next": "/me/tokens/"})
    assert done.status_code == 302 and done.url == "/me/tokens/"
    assert TOTPDevice.objects.get(user=bureau_admin).confirmed
    assert client.get("/me/tokens/").status_code == 200  # this session is now verified
    assert _events(security_log, events.MFA_ENROLLED)


def test_session_without_the_code_is_sent_back_to_log_in(client, device):
    # Logged in some other way (e.g. before enrolling elsewhere): the pages ask for a real login.
    client.force_login(device.user)
    response = client.get("/me/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert _logged_in_user_id(client) is None


def test_enrolled_admin_can_replace_the_authenticator(client, device):
    _login(client, "chief")
    client.post("/accounts/login/verify/", {"code": _code(device)})
    page = _html(client.get("/me/two-factor/"))
    assert "已启用" in page and 'data-testid="totp-secret"' not in page  # status only, no new secret
    client.post("/me/two-factor/", {"action": "start"})
    new = TOTPDevice.objects.get(user=device.user, confirmed=False)
    assert 'data-testid="totp-secret"' in _html(client.get("/me/two-factor/"))
    # Until the new one is confirmed, the old one stays; confirming replaces it.
    assert TOTPDevice.objects.filter(user=device.user, confirmed=True).get() == device
    client.post("/me/two-factor/", {"action": "confirm", "code": _code(new)})
    assert list(TOTPDevice.objects.filter(user=device.user).values_list("pk", flat=True)) == [new.pk]


def test_cancelling_a_replacement_keeps_the_current_authenticator(client, device):
    _login(client, "chief")
    client.post("/accounts/login/verify/", {"code": _code(device)})
    client.post("/me/two-factor/", {"action": "start"})
    assert TOTPDevice.objects.filter(user=device.user).count() == 2
    client.post("/me/two-factor/", {"action": "cancel"})
    assert list(TOTPDevice.objects.filter(user=device.user)) == [device]


def test_two_factor_page_for_a_citizen(client):
    client.force_login(make_citizen_user())
    page = _html(client.get("/me/two-factor/"))
    assert "您的账号无需启用双因素认证" in page
    assert not TOTPDevice.objects.exists()


# --- My account -----------------------------------------------------------------------------------


def test_my_account_requires_login(client):
    response = client.get("/me/")
    assert response.status_code == 302 and response.url == "/accounts/login/?next=/me/"


def test_my_account_shows_the_official_profile(client, mfa_off):
    market = make_department("market", name="市场监督管理局")
    client.force_login(make_official("steward", market, ["steward"]))
    page = _html(client.get("/me/"))
    assert "市场监督管理局" in page and "数据管理员" in page and 'href="/me/tokens/"' in page
    assert 'aria-current="page"' in page  # "My space" in the main navigation


def test_change_password(client):
    user = make_citizen_user()
    client.force_login(user)
    wrong = client.post("/me/password/", {"old_password": "nope", "new_password": NEW_PASSWORD,
                                          "new_password_confirm": NEW_PASSWORD})
    assert 'id="id_old_password_error">原密码错误' in _html(wrong)

    response = client.post("/me/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD,
                                              "new_password_confirm": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get("/me/").status_code == 200  # still logged in


# --- System tokens ---------------------------------------------------------------------------------


def test_steward_creates_sees_once_and_revokes_a_token(client, security_log):
    client.force_login(make_official("steward", make_department("market"), ["steward"]))
    page = _html(client.get("/me/tokens/"))
    assert 'value="catalog:read"' in page and "读取数据目录" in page

    response = client.post("/me/tokens/", {"name": "企业登记系统", "scopes": ["catalog:read", "exchange:query"],
                                           "expires_in_days": "30"})
    assert response.status_code == 200
    key = response.context["issued"].key
    html = _html(response)
    assert key in html and "不会再次显示" in html
    assert "no-store" in response["Cache-Control"]
    token = AccessToken.objects.get(name="企业登记系统")
    assert token.scopes == ["catalog:read", "exchange:query"] and token.department.code == "market"

    listing = _html(client.get("/me/tokens/"))
    assert key not in listing and token.prefix in listing

    revoked = client.post(f"/me/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "已吊销" in _html(client.get("/me/tokens/"))
    assert _events(security_log, events.TOKEN_REVOKED)


def test_token_form_errors(client):
    client.force_login(make_official("steward", make_department("market"), ["steward"]))
    response = client.post("/me/tokens/", {"name": "", "expires_in_days": "999"})
    html = _html(response)
    assert response.status_code == 200
    for field in ("name", "scopes", "expires_in_days"):
        assert f'id="id_{field}_error"' in html
    assert not AccessToken.objects.exists()


def test_approver_gets_403_on_the_token_page(client):
    market = make_department("market")
    client.force_login(make_official("approver", market, ["approver"]))
    response = client.get("/me/tokens/")
    assert response.status_code == 403
    assert "无权执行此操作" in _html(response) and 'role="alert"' in _html(response)
    assert client.post("/me/tokens/", {"name": "x", "scopes": ["catalog:read"],
                                       "expires_in_days": "30"}).status_code == 403
    assert not AccessToken.objects.exists()


def test_steward_cannot_revoke_another_departments_token(client):
    health_steward = make_official("health-steward", make_department("health"), ["steward"])
    client.force_login(health_steward)
    client.post("/me/tokens/", {"name": "卫健系统", "scopes": ["catalog:read"], "expires_in_days": "30"})
    token = AccessToken.objects.get()
    client.force_login(make_official("market-steward", make_department("market"), ["steward"]))
    assert client.post(f"/me/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Officials -------------------------------------------------------------------------------------


def _official_form(**overrides):
    return {"username": "new-clerk", "full_name": "王窗", "phone": "", "roles": ["clerk"],
            "password": PASSWORD, "password_confirm": PASSWORD, **overrides}


def test_dept_admin_manages_officials_of_their_own_department_only(client):
    market, health = make_department("market", name="市场监督管理局"), make_department("health")
    make_official("market-steward", market, ["steward"])
    make_official("health-steward", health, ["steward"])
    client.force_login(make_official("market-admin", market, ["dept_admin"]))

    page = _html(client.get("/workbench/officials/"))
    assert "market-steward" in page and "health-steward" not in page
    assert 'id="department-select"' not in page  # no department selector for a department admin
    assert 'value="bureau_admin"' not in page  # platform roles are the bureau's to grant

    refused = client.post("/workbench/officials/", _official_form(department="health"))
    assert refused.status_code == 403
    assert "只能管理本部门人员" in _html(refused)
    assert not User.objects.filter(username="new-clerk").exists()
    assert client.get("/workbench/officials/?department=health").status_code == 403

    created = client.post("/workbench/officials/", _official_form(department="market"))
    assert created.status_code == 302
    clerk = User.objects.get(username="new-clerk")
    assert clerk.department == market and clerk.kind == User.Kind.OFFICIAL
    assert list(clerk.role_assignments.values_list("role", flat=True)) == ["clerk"]


def test_create_official_form_errors(client):
    market = make_department("market")
    make_official("taken", market)
    client.force_login(make_official("market-admin", market, ["dept_admin"]))
    page = _html(client.post("/workbench/officials/", _official_form(username="taken")))
    assert 'id="id_username_error">该用户名已被使用' in page
    page = _html(client.post("/workbench/officials/", _official_form(roles=["bureau_admin"])))
    assert 'id="id_roles_error"' in page
    assert not User.objects.filter(full_name="王窗").exists()


def test_dept_admin_edits_roles(client):
    market, health = make_department("market"), make_department("health")
    steward = make_official("market-steward", market, ["steward"])
    make_official("health-steward", health, ["steward"])
    client.force_login(make_official("market-admin", market, ["dept_admin"]))

    page = _html(client.get("/workbench/officials/market-steward/roles/"))
    assert 'value="steward" id="id_roles_' in page and "checked" in page
    response = client.post("/workbench/officials/market-steward/roles/", {"roles": ["steward", "approver"]})
    assert response.status_code == 302
    assert sorted(steward.role_assignments.values_list("role", flat=True)) == ["approver", "steward"]

    # Another department's official: not found, not even confirmed to exist.
    assert client.get("/workbench/officials/health-steward/roles/").status_code == 404
    assert client.post("/workbench/officials/health-steward/roles/", {"roles": []}).status_code == 404
    assert RoleAssignment.objects.filter(user__username="health-steward").count() == 1


def test_bureau_admin_picks_any_department(client, mfa_off):
    bureau, health = make_department("bureau", is_bureau=True), make_department("health", name="卫生健康委员会")
    make_official("health-steward", health, ["steward"])
    client.force_login(make_official("chief", bureau, ["bureau_admin"]))

    page = _html(client.get("/workbench/officials/?department=health"))
    assert 'id="department-select"' in page and "health-steward" in page and "卫生健康委员会" in page
    response = client.post("/workbench/officials/", _official_form(department="health", roles=["steward"]))
    assert response.status_code == 302 and response.url == "/workbench/officials/?department=health"
    assert User.objects.get(username="new-clerk").department == health


def test_officials_page_is_403_for_other_roles(client):
    client.force_login(make_official("steward", make_department("market"), ["steward"]))
    assert client.get("/workbench/officials/").status_code == 403
    client.force_login(make_citizen_user())
    assert client.get("/workbench/officials/").status_code == 403


# --- back office --------------------------------------------------------------------------------


def test_admin_has_no_password_only_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_admin_refuses_bureau_admin_session_without_second_factor(client, settings):
    from tests.identity.factories import make_department, make_official

    settings.TONGBAN_MFA_REQUIRED = True
    boss = make_official("boss", make_department("bureau", is_bureau=True), ["bureau_admin"])
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)  # a password-only session
    response = client.get("/admin/")
    assert response.status_code == 302
    assert client.get("/admin/login/")["Location"] == "/me/two-factor/"


def test_admin_admits_staff_without_mfa_requirement(client, settings):
    from tests.identity.factories import make_department, make_official

    settings.TONGBAN_MFA_REQUIRED = True
    steward = make_official("steward", make_department("market"), ["steward"])
    client.force_login(steward)
    assert client.get("/admin/").status_code == 200


def test_admin_login_refuses_citizen_with_a_page(client):
    from tests.identity.factories import make_citizen_user

    client.force_login(make_citizen_user())
    response = client.get("/admin/login/")
    assert response.status_code == 403
