"""The home page in a real browser: Chinese first, the switch turns it English."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_home_opens_in_chinese_and_switches_to_english(page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/")
    # The browser asks for English, but a Chinese portal opens in Chinese.
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.get_by_role("heading", level=1).inner_text() == "一网通办，只跑一次"
    assert page.get_by_role("navigation", name="主导航").get_by_role("link", name="办事大厅").is_visible()

    page.get_by_test_id("language-en").click()
    page.wait_for_load_state("load")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Get it done online, once"
    assert page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Service hall").is_visible()
    # HTMX is served locally and loaded without error (no CDN on this network).
    assert page.evaluate("typeof window.htmx") == "object"
    assert errors == []

    page.get_by_test_id("language-zh-hans").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "zh-hans"


def test_skip_link_moves_focus_to_main(page):
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
