"""Cockpit pages of data quality (each chart with its table) and ``tongban oversight quality``."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.catalog.factories import bureau
from tests.exchange.factories import id_number, official, person_resource, person_row, steward
from tests.identity.factories import make_citizen_user
from tests.oversight.test_quality_services import craft, load
from tongban.identity.models import User
from tongban.oversight.models import QualityScore
from tongban.oversight.services import quality

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def login(client, actor) -> None:
    client.force_login(User.objects.get(username=actor.username))


@pytest.fixture
def scene():
    civil = person_resource("civil")
    health = person_resource("health", name="居民健康档案")
    load(civil, [person_row(1), person_row(2)])
    craft(civil, id_number(3), person_row(3, name=""))
    load(health, [person_row(1)])
    quality.compute_all()
    return {"civil": civil, "health": health}


def chart_option(body: str, element_id: str) -> dict:
    assert f'data-chart="{element_id}"' in body
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body, re.S)
    return json.loads(found.group(1))


def test_ranking_page_has_chart_table_and_filter(client, scene):
    login(client, bureau())
    response = client.get("/cockpit/quality/")
    assert response.status_code == 200
    body = response.content.decode()
    option = chart_option(body, "quality-ranking-chart")
    assert sorted(option["xAxis"]["data"]) == sorted([scene["civil"].code, scene["health"].code])
    assert 'data-testid="quality-ranking"' in body and 'class="table-scroll"' in body
    assert f'data-testid="quality-row-{scene["civil"].code}"' in body
    assert 'data-testid="quality-filter"' in body and 'data-testid="quality-recompute"' in body
    assert 'aria-current="page"' in body  # the cockpit navigation marks this page

    filtered = client.get("/cockpit/quality/?department=health").content.decode()
    assert f'quality-row-{scene["health"].code}' in filtered and f'quality-row-{scene["civil"].code}' not in filtered


def test_a_department_sees_its_own_ranking_and_no_recompute(client, scene):
    login(client, steward("civil"))
    body = client.get("/cockpit/quality/").content.decode()
    assert f'quality-row-{scene["civil"].code}' in body and f'quality-row-{scene["health"].code}' not in body
    assert 'data-testid="quality-filter"' not in body and 'data-testid="quality-recompute"' not in body
    assert client.get("/cockpit/quality/?department=health").status_code == 403
    assert client.get(f"/cockpit/quality/{scene['health'].code}/").status_code == 404


def test_resource_page_has_trend_chart_table_and_worst_rows(client, scene):
    code = scene["civil"].code
    quality.compute_resource(code)
    login(client, steward("civil"))
    response = client.get(f"/cockpit/quality/{code}/")
    assert response.status_code == 200
    body = response.content.decode()
    option = chart_option(body, "quality-trend-chart")
    assert len(option["xAxis"]["data"]) == 2 and len(option["series"]) == 6
    assert 'data-testid="quality-history"' in body and 'data-testid="quality-dimensions"' in body
    assert 'data-testid="quality-issues"' in body and id_number(3) in body
    assert 'data-testid="quality-items"' in body

    login(client, official("civil", "clerk"))
    clerk = client.get(f"/cockpit/quality/{code}/").content.decode()
    assert 'data-testid="quality-history"' in clerk and 'data-testid="quality-issues"' not in clerk
    assert id_number(3) not in clerk


def test_citizen_is_refused_and_anonymous_sent_to_login(client, scene):
    assert client.get("/cockpit/quality/").status_code == 302
    client.force_login(make_citizen_user("quality-page-citizen"))
    assert client.get("/cockpit/quality/").status_code == 403
    assert client.get(f"/cockpit/quality/{scene['civil'].code}/").status_code == 403


def test_manager_recomputes_from_the_page(client, scene, django_capture_on_commit_callbacks):
    code = scene["civil"].code
    login(client, official("bureau", "auditor", is_bureau=True))
    assert client.post("/cockpit/quality/recompute/", {"resource": code}).status_code == 403
    login(client, bureau())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/cockpit/quality/recompute/", {"resource": code})
    assert response.status_code == 302 and response["Location"] == f"/cockpit/quality/{code}/"
    assert QualityScore.objects.filter(resource_code=code).count() == 2


def test_command_recomputes_with_a_table(scene):
    out = io.StringIO()
    call_command("oversight", "quality", stdout=out)
    text = out.getvalue()
    assert scene["civil"].code in text and scene["health"].code in text
    assert QualityScore.objects.count() == 4
    one = io.StringIO()
    call_command("oversight", "quality", "--resource", scene["civil"].code, stdout=one)
    assert QualityScore.objects.filter(resource_code=scene["civil"].code).count() == 3
    with pytest.raises(CommandError):
        call_command("oversight", "quality", "--resource", "nowhere-00001", stdout=io.StringIO())
