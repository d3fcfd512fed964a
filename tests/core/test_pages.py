"""The page layout: Chinese first, English on request, accessible, secure headers."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from tongban.core.models import PlatformFlag
from tongban.core.navigation import PORTALS
from tongban.identity.models import User

pytestmark = pytest.mark.django_db


def test_home_is_chinese_even_when_browser_prefers_english(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in html
    assert "办事大厅" in html and "数据目录" in html


def test_language_switch_sets_cookie_and_page_turns_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["tongban_language"].value == "en"
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Service hall" in html and "办事大厅" not in html


def test_every_page_has_landmarks_skip_link_and_language_switch(client):
    html = client.get("/").content.decode()
    for marker in ('<header', '<nav', '<main id="main"', "<footer", 'class="skip-link"', 'data-testid="language-en"'):
        assert marker in html


@pytest.mark.parametrize("portal", PORTALS, ids=lambda p: p.slug)
def test_each_portal_in_navigation_answers(client, portal):
    if portal.slug == "me":  # "My space" is the account page (identity): it asks to log in first
        assert client.get(portal.path).url.startswith("/accounts/login/")
        client.force_login(User.objects.create_user("nav-visitor", kind=User.Kind.CITIZEN))
    if portal.slug == "cockpit":  # the bureau's cockpit: officials only
        from tests.identity.factories import make_department, make_official

        assert client.get(portal.path).url.startswith("/accounts/login/")
        client.force_login(make_official("nav-auditor", make_department("bureau", is_bureau=True), ["auditor"]))
    response = client.get(portal.path)
    assert response.status_code == 200
    assert 'aria-current="page"' in response.content.decode()


def test_security_headers_on_pages(client):
    response = client.get("/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_static_assets_are_local_not_cdn(client):
    html = client.get("/").content.decode()
    assert "/static/vendor/htmx-" in html
    assert "http://" not in html.split("<body")[0] and "https://" not in html.split("<body")[0]
    assert finders.find("vendor/htmx-2.0.11.min.js")
    assert finders.find("vendor/echarts-5.6.0.min.js")


def test_demo_banner_only_with_demo_data(client):
    assert "demo-banner" not in client.get("/").content.decode()
    PlatformFlag.objects.create(key=PlatformFlag.DEMO_DATA, value="1")
    assert "demo-banner" in client.get("/").content.decode()


def test_login_page_has_labelled_fields(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">' in html and '<label for="id_password">' in html
    assert "csrfmiddlewaretoken" in html


def test_home_portal_cards_link_to_their_portals(client):
    html = client.get("/").content.decode()
    cards = html.split('class="portal-grid"')[1]
    for portal in PORTALS:
        assert f'href="{portal.path}"' in cards


def test_language_switch_names_each_language_in_itself(client):
    assert '>English</button>' in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert '>简体中文</button>' in client.get("/").content.decode()


def test_workbench_lists_the_sections_apps_register(client):
    html = client.get("/workbench/").content.decode()
    sections = html.split('data-testid="portal-sections"')[1]
    for path in ("/workbench/catalog/", "/workbench/exchange/", "/workbench/officials/"):
        assert f'href="{path}"' in sections


def test_a_portal_without_sections_says_it_is_being_built(client, monkeypatch):
    """Every portal has its app by now; a portal added before its app shows the placeholder."""
    from tongban.core import views
    from tongban.core.navigation import Portal

    monkeypatch.setattr(views, "PORTALS", (*PORTALS, Portal("future", "/future/", "Future", "Not built yet")))
    from django.test import RequestFactory

    request = RequestFactory().get("/future/")
    request.user = User(username="nobody")
    html = views.portal(request, slug="future").content.decode()
    assert 'data-testid="portal-sections"' not in html
    assert 'role="status"' in html
