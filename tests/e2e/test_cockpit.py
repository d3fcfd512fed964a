"""The cockpit (驾驶舱) in a real browser, as bureau-admin over the demo province: every page's
charts are drawn by ECharts with data (each chart's option has a non-empty series), each has its
table fallback, no script errors; a screenshot of every page is saved under the test output
folder (``test-results/e2e/``, or ``$TONGBAN_TEST_OUTPUT``) for a person to look at."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from tongban.core.demo import DEMO_PASSWORD as PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTPUT = Path(os.environ.get("TONGBAN_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-results")) / "e2e"
PAGES = ["/cockpit/", "/cockpit/quality/", "/cockpit/assessment/", "/cockpit/sharing/", "/cockpit/services/",
         "/cockpit/alerts/"]

# For each chart holder: drawn, and its option (the JSON script it names) carries data.
CHARTS = """() => Array.from(document.querySelectorAll('[data-chart]')).map((holder) => {
  const source = document.getElementById(holder.getAttribute('data-chart'));
  const option = source ? JSON.parse(source.textContent) : {};
  const series = [].concat(option.series || []);
  const points = series.reduce((n, s) => n + ((s.data || s.links || []).length), 0);
  return {id: holder.getAttribute('data-chart'), rendered: holder.getAttribute('data-rendered') === '1',
          svg: !!holder.querySelector('svg'), points: points};
})"""


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_MFA_REQUIRED = False
    from tongban.credentials import issuer_keys

    issuer_keys._load.cache_clear()
    call_command("demo", stdout=io.StringIO())
    yield
    issuer_keys._load.cache_clear()


def test_bureau_admin_sees_every_cockpit_chart_drawn_with_data(page, demo):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/accounts/login/?next=/cockpit/")
    page.get_by_label("用户名").fill("bureau-admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/cockpit/")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for path in PAGES:
        page.goto(path)
        page.wait_for_function("() => Array.from(document.querySelectorAll('[data-chart]'))"
                               ".every((c) => c.getAttribute('data-rendered') === '1')")
        charts = page.evaluate(CHARTS)
        assert charts, f"{path} has no chart"
        for chart in charts:
            assert chart["rendered"] and chart["svg"], (path, chart)
            assert chart["points"] > 0, (path, chart)  # drawn WITH data
        assert page.locator("table").count() >= len(charts), path  # every chart has its table fallback
        name = path.strip("/").replace("/", "-") or "cockpit"
        page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
        assert (OUTPUT / f"{name}.png").stat().st_size > 10_000
    assert errors == []
