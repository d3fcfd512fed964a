"""The consumer's "try a query" page: the department's grants, query and verify through the same
services (masked, logged as accesses), and refusals shown on the page."""

from __future__ import annotations

import pytest

from tests.exchange.factories import official
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    revoke,
)
from tongban.exchange.models import Access
from tongban.identity.models import User

pytestmark = pytest.mark.django_db
URL = "/workbench/exchange/try/"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def login(client, actor):
    client.force_login(User.objects.get(username=actor.username))


def test_page_lists_the_departments_grants_and_needs_a_login(client):
    env = consumer_env()
    assert client.get(URL).status_code == 302
    login(client, env.clerk)
    page = client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert f'value="{env.grant.pk}"' in body and 'data-testid="try-form"' in body  # the only grant is chosen
    other = official("market", "clerk")
    login(client, other)
    assert 'data-testid="try-no-grants"' in client.get(URL).content.decode()


def test_query_shows_the_masked_answer_and_is_an_access(client):
    env = consumer_env(items=["name", "phone", "sex"], clear=["sex"])
    login(client, env.clerk)
    response = client.post(URL, {"grant": env.grant.pk, "mode": "query", "subject": id_number(1)})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="try-result"' in body
    assert 'data-testid="try-value-name">张*' in body and "138****0001" in body
    assert 'data-testid="try-masked-phone"' in body and 'data-testid="try-masked-sex"' not in body
    assert "13800000001" not in body
    row = Access.objects.get()
    assert row.mode == "query" and row.actor == env.clerk.username and row.consumer_code == "health"


def test_verify_shows_match_or_no_match_only(client):
    env = consumer_env()
    login(client, env.clerk)
    response = client.post(URL, {"grant": env.grant.pk, "mode": "verify", "subject": id_number(2),
                                 "claim_name": "张2", "claim_phone": "13800000009", "claim_address": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="try-outcome-name" data-outcome="match"' in body
    assert 'data-testid="try-outcome-phone" data-outcome="no_match"' in body
    assert 'data-testid="try-outcome-address"' not in body  # left empty: not claimed
    assert "13800000002" not in body
    assert Access.objects.get().mode == "verify"


def test_refusals_and_missing_records_are_shown_on_the_page(client):
    env = consumer_env()
    login(client, env.clerk)
    missing = client.post(URL, {"grant": env.grant.pk, "mode": "query", "subject": id_number(77)})
    assert missing.status_code == 404 and 'data-code="record_not_found"' in missing.content.decode()
    bad = client.post(URL, {"grant": env.grant.pk, "mode": "query", "subject": "123"})
    assert bad.status_code == 422 and 'data-code="invalid_id_number"' in bad.content.decode()
    auditor = official("health", "auditor")
    login(client, auditor)
    refused = client.post(URL, {"grant": env.grant.pk, "mode": "query", "subject": id_number(1)})
    assert refused.status_code == 403 and 'data-testid="try-not-allowed"' in refused.content.decode()
    revoke(env.grant)
    login(client, env.clerk)
    assert 'data-testid="try-no-grants"' in client.get(URL).content.decode()
