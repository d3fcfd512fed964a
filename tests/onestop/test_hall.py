"""The service hall and guide pages: public, browsable, with the badges and the apply button."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.onestop import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def hall_items():
    fast = f.service_item("civil", code="330000-civil-H-0001", name="婚姻登记记录证明", instant_rule={"==": [1, 1]},
                          life_events=["marriage"], theme="civil_affairs", promised_days=0, statutory_days=1,
                          materials=[{"name": "身份证明", "source": "upload"}])
    slow = f.service_item("market", code="330000-market-H-0001", name="食品经营许可", visits=1, promised_days=7,
                          applicant_kind="enterprise", co_departments=("health",), life_events=["starting_business"],
                          theme="business_licensing", fees="工本费 10 元")
    return fast, slow


def _card(html: str, code: str) -> str:
    start = html.index(f'data-code="{code}"')
    return html[start:html.index("</li>", start)]


def test_hall_lists_published_items_with_badges(client, hall_items):
    response = client.get("/services/")
    assert response.status_code == 200
    assert reverse("onestop:hall") == "/services/"
    html = response.content.decode()
    for testid in ("hall-search", "life-events", "themes", "departments", "service-cards"):
        assert f'data-testid="{testid}"' in html
    assert html.count('data-testid="service-card"') == 2
    fast = _card(html, "330000-civil-H-0001")
    assert 'data-testid="badge-instant"' in fast and 'data-testid="badge-zero-visit"' in fast
    slow = _card(html, "330000-market-H-0001")
    assert "badge-instant" not in slow and "badge-zero-visit" not in slow
    assert 'href="/services/330000-civil-H-0001/"' in html


@pytest.mark.parametrize(("query", "shown"), [
    ("q=食品", ["330000-market-H-0001"]),
    ("life_event=marriage", ["330000-civil-H-0001"]),
    ("theme=business_licensing", ["330000-market-H-0001"]),
    ("department=health", ["330000-market-H-0001"]),
    ("kind=citizen", ["330000-civil-H-0001"]),
    ("q=火星", []),
])
def test_hall_search_and_browse(client, hall_items, query, shown):
    html = client.get(f"/services/?{query}").content.decode()
    assert [code for code in ("330000-civil-H-0001", "330000-market-H-0001") if f'data-code="{code}"' in html] == shown
    if not shown:
        assert 'data-testid="no-services"' in html


def test_guide_page(client, hall_items):
    response = client.get(reverse("onestop:guide", args=["330000-civil-H-0001"]))
    assert response.status_code == 200
    html = response.content.decode()
    for testid in ("guide-name", "apply-button", "guide-facts", "guide-materials", "guide-conditions",
                   "guide-legal-basis", "guide-complaint", "badge-instant"):
        assert f'data-testid="{testid}"' in html
    assert 'action="/services/330000-civil-H-0001/apply/"' in html and "csrfmiddlewaretoken" in html
    slow = client.get("/services/330000-market-H-0001/").content.decode()
    assert 'data-testid="badge-parallel"' in slow and "工本费 10 元" in slow


def test_guide_page_personalised_for_a_citizen(client, hall_items):
    user, _ = f.citizen_applicant()
    client.force_login(user)
    html = client.get("/services/330000-civil-H-0001/").content.decode()
    assert 'data-testid="guide-personal-summary"' in html and "guide-wrong-kind" not in html
    html = client.get("/services/330000-market-H-0001/").content.decode()  # an item for enterprises
    assert 'data-testid="guide-wrong-kind"' in html


def test_unknown_or_draft_item_is_404_but_its_department_previews_it(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    f.service_item("civil", code="330000-civil-H-0009", status="draft")
    assert client.get("/services/nothing/").status_code == 404
    assert client.get("/services/330000-civil-H-0009/").status_code == 404
    client.force_login(f.steward("civil"))
    html = client.get("/services/330000-civil-H-0009/").content.decode()
    assert 'data-testid="guide-unpublished"' in html and 'data-testid="apply-button"' not in html


def test_hall_in_english(client, hall_items):
    client.cookies["django_language"] = "en"
    assert client.get("/services/", HTTP_ACCEPT_LANGUAGE="en").status_code == 200


def test_back_office_lists_items_read_only(client, settings, hall_items):
    settings.TONGBAN_MFA_REQUIRED = False
    boss = f.bureau_admin()
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    listing = client.get("/admin/onestop/serviceitem/")
    assert listing.status_code == 200 and "330000-civil-H-0001" in listing.content.decode()
    item = hall_items[0]
    assert client.get(f"/admin/onestop/serviceitem/{item.pk}/change/").status_code == 200
    assert client.get("/admin/onestop/serviceitem/add/").status_code == 403
    assert client.get("/admin/onestop/application/").status_code == 200
