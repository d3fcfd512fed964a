"""The catalog in a real browser: search for a Chinese word, open a result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.catalog.factories import bureau, enterprise_items, publish, steward

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("TONGBAN_SHOTS", "/tmp/shots"))  # noqa: S108 - screenshots for a human to look at


def test_search_in_chinese_and_open_a_result(page):
    market, reviewer = steward(), bureau()
    publish(market, reviewer, name="杭州市古树名木养护信息", sharing="open_share", opening="open",
            items=enterprise_items(), abstract="杭州市古树名木的编号、树种、树龄、位置和养护责任单位，向社会公开。",
            keywords=["古树名木", "园林"], theme="natural_resources")
    publish(market, reviewer, name="企业登记信息", sharing="open_share", opening="open", items=enterprise_items(),
            abstract="企业登记基本信息。", keywords=["企业"])
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/catalog/")
    assert page.get_by_role("heading", level=1).inner_text() == "数据目录"
    page.get_by_label("搜索资源").fill("古树名木")
    page.get_by_role("button", name="搜索").click()
    results = page.get_by_test_id("results")
    expect(page.locator("#results-heading")).to_contain_text("古树名木")  # HTMX swapped the results in
    expect(results).not_to_contain_text("企业登记信息")
    assert page.url.endswith("q=%E5%8F%A4%E6%A0%91%E5%90%8D%E6%9C%A8")  # hx-push-url: the search is linkable
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "catalog-search.png"), full_page=True)
    results.get_by_role("link", name="杭州市古树名木养护信息").click()
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", level=1).inner_text() == "杭州市古树名木养护信息"
    assert page.get_by_test_id("request-access").is_visible()
    assert page.get_by_test_id("quality").is_visible()
    page.screenshot(path=str(SHOTS / "catalog-detail.png"), full_page=True)
    assert errors == []
