"""Bad input at the pages and what protects them: template injection rendered as text, CSRF on
every page that takes a POST (and on the API under a session), security headers on pages and the
API, session / CSRF cookie flags (Secure under TONGBAN_HTTPS), and no personal data in the logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape

from tests.catalog.factories import bureau, publish
from tests.exchange.factories import id_number, person_resource, person_row, steward
from tests.identity.factories import PASSWORD, make_official
from tests.onestop import factories as of
from tests.onestop import factories_apps as fa
from tests.policies import factories as pf
from tests.site.bad_input_support import bearer, changed, state
from tongban.core.logredact import RedactingFilter
from tongban.identity.models import User

pytestmark = pytest.mark.django_db

INJECTION = "{{ settings.SECRET_KEY }} {% debug %} ${7*7} #{7*7} <script>alert(1)</script> <img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _setup(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path / "media"


# --- template injection --------------------------------------------------------------------------------------------


def _shows_literally(page) -> None:
    html = page.content.decode()
    assert page.status_code == 200
    assert escape(INJECTION) in html, "the text is shown, escaped, exactly as typed"
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert settings.SECRET_KEY not in html


def test_template_syntax_in_names_and_answers_is_rendered_as_text(client):
    resource = publish(steward("civil"), bureau(), name=INJECTION[:200], opening="open", sharing="open_share",
                       sharing_conditions="")
    item = of.service_item("civil", name=INJECTION, summary=INJECTION)
    policy = pf.policy(title=INJECTION, summary=INJECTION)
    _shows_literally(client.get(f"/catalog/{resource.code}/"))
    _shows_literally(client.get(f"/services/{item.code}/"))
    _shows_literally(client.get(f"/policies/{policy.pk}/"))

    # A citizen's own answer, read by the clerk at the window.
    application, _user = fa.submitted(item, form={"reason": INJECTION})
    clerk = of.clerk("civil")
    client.force_login(clerk)
    _shows_literally(client.get(f"/workbench/onestop/window/{application.number}/"))


def test_template_syntax_in_a_search_and_a_login_is_echoed_as_text(client):
    search = client.get("/catalog/", {"q": INJECTION})
    assert search.status_code == 200 and escape(INJECTION) in search.content.decode()
    assert "<script>alert(1)" not in search.content.decode()
    login = client.post("/accounts/login/", {"username": INJECTION[:150], "password": "x"})
    assert login.status_code == 200 and "<script>alert(1)" not in login.content.decode()
    assert escape(INJECTION[:150]) in login.content.decode()
    api = client.get("/api/v1/catalog/resources/" + INJECTION)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


# --- CSRF ---------------------------------------------------------------------------------------------------------


def _page_routes():
    samples = {"int": "1", "slug": "x-1", "str": "x-1", "uuid": str(uuid.UUID(int=1)), "path": "x"}

    def walk(patterns, prefix=""):
        for entry in patterns:
            route = str(entry.pattern)
            if route.startswith("api/"):
                continue
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + route)
            elif isinstance(entry, URLPattern):
                yield prefix + route

    for route in walk(get_resolver().url_patterns):
        path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: samples[m.group(1) or "str"], route)
        path = path.lstrip("^").replace("/?$", "/").replace("$", "").replace("\\", "")
        if re.search(r"[()\[\]?*+]", path):  # another regex route of the admin: skip its generic parts
            continue
        yield "/" + path


PAGE_ROUTES = sorted(set(_page_routes()))


def test_the_route_list_covers_the_forms():
    for path in ("/accounts/login/", "/accounts/logout/", "/accounts/register/", "/me/password/", "/i18n/setlang/",
                 "/workbench/catalog/new/", "/workbench/catalog/import/", "/workbench/exchange/records/x-1/",
                 "/me/applications/x-1/materials/", "/credentials/verify/", "/workbench/policies/new/",
                 "/cockpit/alerts/1/transition/", "/admin/login/"):
        assert path in PAGE_ROUTES, path
    assert len(PAGE_ROUTES) > 100


def test_every_page_refuses_a_post_without_csrf_token():
    official = make_official("csrf-official", of.make_department("civil"),
                             ["steward", "approver", "clerk", "dept_admin"])
    for user in (None, official):
        client = Client(enforce_csrf_checks=True)
        if user is not None:
            client.force_login(user)
        before = state()
        refused = []
        for path in PAGE_ROUTES:
            response = client.post(path, {"username": "x", "password": PASSWORD, "name": "x", "reason": "x"})
            if response.status_code != 403 or b"CSRF" not in response.content:
                refused.append((path, response.status_code))
        assert refused == [], refused
        assert changed(before, state()) == {}


def test_a_post_with_the_token_is_accepted():
    user = make_official("csrf-steward", of.make_department("civil"), ["steward"])
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 403
    login = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD,
                                             "csrfmiddlewaretoken": token})
    assert login.status_code == 302
    token = client.cookies["csrftoken"].value  # rotated at login
    form = client.post("/workbench/catalog/new/", {"csrfmiddlewaretoken": token})
    assert form.status_code == 200 and b'class="field-error"' in form.content  # the form, with its errors


def test_the_api_under_a_session_needs_the_csrf_header():
    from tests.catalog.factories import resource_data

    user = make_official("csrf-api", of.make_department("civil"), ["steward"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    body = json.dumps(resource_data())
    before = state()
    refused = client.post("/api/v1/catalog/resources", data=body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert changed(before, state()) == {}
    accepted = client.post("/api/v1/catalog/resources", data=body, content_type="application/json",
                           HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


# --- security headers and cookie flags ------------------------------------------------------------------------------


HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "Cross-Origin-Opener-Policy": "same-origin",
           "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()"}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/catalog/", "/services/", "/policies/", "/nowhere/",
                                  "/api/v1/health", "/api/v1/catalog/resources", "/api/v1/nowhere",
                                  "/api/v1/me", "/api/v1/docs"])
def test_security_headers_on_pages_and_the_api(client, path):
    response = client.get(path)
    for name, value in HEADERS.items():
        assert response.get(name) == value, (path, name, response.get(name))
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "Strict-Transport-Security" not in response  # only under TONGBAN_HTTPS


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/register/", "/catalog/", "/open-data/",
                                  "/services/", "/policies/", "/credentials/verify/", "/ledger/", "/api/v1/docs"])
def test_pages_satisfy_the_content_security_policy(client, path):
    """script-src 'self': no inline script (JSON data blocks are fine), no on* handler, no javascript: URL."""
    html = client.get(path).content.decode()
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html, re.IGNORECASE)
    assert "javascript:" not in html.lower()


def _https_settings() -> dict:
    """The settings module read fresh with TONGBAN_HTTPS=1 (settings are read once, at start-up)."""
    code = ("import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in ("
            "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', "
            "'CSRF_COOKIE_SAMESITE', 'LANGUAGE_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT', "
            "'SECURE_PROXY_SSL_HEADER')}))")
    env = {**os.environ, "TONGBAN_HTTPS": "1", "DJANGO_SETTINGS_MODULE": "tongban.site.settings"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cookie_flags(client, name: str) -> dict:
    morsel = client.cookies[name]
    return {"httponly": bool(morsel["httponly"]), "secure": bool(morsel["secure"]),
            "samesite": morsel["samesite"]}


@pytest.mark.parametrize("https", [False, True])
def test_session_and_csrf_cookie_flags(settings, https):
    if https:
        values = _https_settings()
        assert values["SECURE_SSL_REDIRECT"] is True and values["SECURE_HSTS_SECONDS"] >= 31536000
        assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
        for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
                     "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "LANGUAGE_COOKIE_SECURE",
                     "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT"):
            setattr(settings, name, values[name])
        settings.SECURE_PROXY_SSL_HEADER = tuple(values["SECURE_PROXY_SSL_HEADER"])
    user = make_official("cookie-official", of.make_department("civil"), ["steward"])
    client = Client(enforce_csrf_checks=True)
    extra = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_REFERER": "https://testserver/accounts/login/",
             "secure": True} if https else {}
    client.get("/accounts/login/", **extra)
    login = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD,
                                             "csrfmiddlewaretoken": client.cookies["csrftoken"].value}, **extra)
    assert login.status_code == 302
    assert _cookie_flags(client, settings.SESSION_COOKIE_NAME) == {"httponly": True, "secure": https, "samesite": "Lax"}
    assert _cookie_flags(client, settings.CSRF_COOKIE_NAME)["secure"] is https
    assert _cookie_flags(client, settings.CSRF_COOKIE_NAME)["samesite"] == "Lax"
    language = client.post("/i18n/setlang/", {"language": "en", "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
                           **extra)
    assert language.status_code == 302
    assert _cookie_flags(client, settings.LANGUAGE_COOKIE_NAME)["secure"] is https
    page = client.get("/", **extra)
    assert ("Strict-Transport-Security" in page) is https
    if https:
        plain = Client().get("/")  # no X-Forwarded-Proto: redirected to HTTPS
        assert plain.status_code == 301 and plain["Location"].startswith("https://")


# --- no personal data in the logs -------------------------------------------------------------------------------------


ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def console_log():
    """What the configured console handler writes (its formatter and its redacting filter), in memory."""
    handlers = [h for h in logging.getLogger().handlers
                if any(isinstance(f, RedactingFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING attaches the redacting filter to the console handler"
    buffer = io.StringIO()
    saved = [(handler, handler.setStream(buffer)) for handler in handlers]
    levels = {name: logging.getLogger(name).level for name in ("", "django.request", "tongban")}
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        for handler, stream in saved:
            handler.setStream(stream)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_logs_hold_no_id_numbers_or_phone_numbers(client, console_log, monkeypatch):
    person = id_number(7)
    phone = "13912345678"
    resource = person_resource("civil")
    keeper = bearer(steward("civil"))
    client.raise_request_exception = False
    # A 404 of a record path, of a page and of the API with an ID number and a phone number in it.
    client.get(f"/api/v1/exchange/resources/{resource.code}/records/{person}", **keeper)
    client.get(f"/api/v1/nowhere/{person}/{phone}")
    client.get(f"/me/data/{person}/{phone}/")
    # Failed logins with a phone number and an ID number as the username (page and API).
    client.post("/accounts/login/", {"username": phone, "password": "wrong-password"})
    client.post("/api/v1/auth/token", data=json.dumps({"username": person, "password": "x"}),
                content_type="application/json")
    # A rejected batch whose rows carry both, and a registration with them.
    client.post(f"/api/v1/exchange/resources/{resource.code}/records", content_type="application/json",
                data=json.dumps({"records": [person_row(7, phone=phone, marital_status="99")]}), **keeper)
    client.post("/api/v1/identity/citizens", content_type="application/json",
                data=json.dumps({"username": phone, "password": PASSWORD, "id_number": person, "name": "张三",
                                 "phone": phone}))
    # A crash (500) whose exception message holds both: the traceback is logged too.
    from tongban.exchange.services import records

    def crash(*_args, **_kwargs):
        raise RuntimeError(f"cannot load {person} / {phone}")

    monkeypatch.setattr(records, "load_records", crash)
    crashed = client.post(f"/api/v1/exchange/resources/{resource.code}/records", content_type="application/json",
                          data=json.dumps({"records": [person_row(7)]}), **keeper)
    assert crashed.status_code == 500
    monkeypatch.setattr(records, "department_overview", crash)
    client.force_login(User.objects.filter(username__startswith="civil-steward").first())
    assert client.get("/workbench/exchange/records/").status_code == 500

    output = console_log.getvalue()
    assert f"{person[:6]}********{person[-4:]}" in output and f"{phone[:3]}****{phone[-4:]}" in output
    assert "Traceback" in output and "RuntimeError: cannot load" in output  # the crash was logged, masked
    assert ID_NUMBER.findall(output) == [] and PHONE.findall(output) == []
