"""The consume API over HTTP: /api/v1/exchange/resources/{code}/records/{subject}, lookup, verify,
changes, the webhook endpoint; status codes, envelopes and headers."""

from __future__ import annotations

import socket

import pytest

from tests.exchange.factories import system_token
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    revoke,
)
from tongban.exchange.models import Access, Grant
from tongban.exchange.services import webhooks
from tongban.identity import tokens

pytestmark = pytest.mark.django_db

BASE = "/api/v1/exchange"


def auth(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_query_over_http(client):
    env = consumer_env(items=["name", "phone", "sex"], clear=["sex"])
    response = client.get(f"{BASE}/resources/{env.code}/records/{id_number(1)}", **auth(env.token))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == {"resource": env.code, "grant": env.grant.pk,
                    "record": {"name": "张*", "sex": "1", "phone": "138****0001"}, "masked": ["name", "phone"]}
    assert Access.objects.count() == 1


def test_query_errors_keep_the_envelope(client):
    env = consumer_env()
    assert client.get(f"{BASE}/resources/{env.code}/records/{id_number(1)}").status_code == 401
    assert client.get(f"{BASE}/resources/{env.code}/records/{id_number(1)}", **auth("tbs_nope")).status_code == 401
    missing = client.get(f"{BASE}/resources/{env.code}/records/{id_number(99)}", **auth(env.token))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "record_not_found"
    bad = client.get(f"{BASE}/resources/{env.code}/records/12345", **auth(env.token))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_id_number"
    other = client.get(f"{BASE}/resources/{env.code}/records/{id_number(1)}",
                       **auth(system_token("market", "exchange:query")))
    assert other.status_code == 403 and other.json()["error"]["code"] == "no_grant"
    assert other.json()["error"]["messages"]["en"] and other.json()["error"]["messages"]["zh-hans"]


def test_revoked_grant_is_403_on_the_next_request(client):
    env = consumer_env()
    url = f"{BASE}/resources/{env.code}/records/{id_number(1)}"
    assert client.get(url, **auth(env.token)).status_code == 200
    assert client.get(url, **auth(env.token)).status_code == 200
    revoke(env.grant)
    response = client.get(url, **auth(env.token))
    assert response.status_code == 403 and response.json()["error"]["code"] == "grant_revoked"


def test_revoked_token_is_401_on_the_next_request(client):
    env = consumer_env()
    url = f"{BASE}/resources/{env.code}/records/{id_number(1)}"
    assert client.get(url, **auth(env.token)).status_code == 200
    assert client.get(url, **auth(env.token)).status_code == 200  # token cached now
    from django.db import transaction

    from tests.exchange.factories import official

    actor = tokens.cached_actor_for_bearer(env.token)
    with transaction.atomic():
        tokens.revoke_token(official("health", "steward"), actor.token_id)
    assert client.get(url, **auth(env.token)).status_code == 401
    assert client.get(url, **auth(env.token)).status_code == 401


def test_rate_limited_answers_429_with_retry_after(client):
    env = consumer_env(rate=2)
    url = f"{BASE}/resources/{env.code}/records/{id_number(1)}"
    statuses = [client.get(url, **auth(env.token)).status_code for _ in range(2)]
    limited = client.get(url, **auth(env.token))
    if statuses != [200, 200]:  # the two requests straddled a minute boundary: try once more
        limited = client.get(url, **auth(env.token))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert Access.objects.count() == 2


def test_lookup_over_http(client):
    env = consumer_env(items=["name"], clear=["name"])
    response = client.post(f"{BASE}/resources/{env.code}/lookup", {"subjects": [id_number(1), id_number(50)]},
                           content_type="application/json", **auth(env.token))
    assert response.status_code == 200
    assert [(r["found"], r["record"]) for r in response.json()["results"]] == [(True, {"name": "张1"}), (False, None)]
    too_many = client.post(f"{BASE}/resources/{env.code}/lookup", {"subjects": [id_number(1)] * 1001},
                           content_type="application/json", **auth(env.token))
    assert too_many.status_code == 422 and too_many.json()["error"]["code"] == "too_many_subjects"
    bad = client.post(f"{BASE}/resources/{env.code}/lookup", {"subjects": ["x", id_number(1)]},
                      content_type="application/json", **auth(env.token))
    assert bad.status_code == 422 and bad.json()["error"]["details"]["invalid"][0]["index"] == 0


def test_verify_over_http(client):
    env = consumer_env()
    response = client.post(f"{BASE}/resources/{env.code}/verify",
                           {"subject": id_number(2), "claims": {"name": "张2", "phone": "13800000009"}},
                           content_type="application/json", **auth(env.token))
    assert response.status_code == 200
    assert response.json()["results"] == {"name": "match", "phone": "no_match"}
    assert "13800000002" not in response.content.decode()
    not_granted = client.post(f"{BASE}/resources/{env.code}/verify",
                              {"subject": id_number(2), "claims": {"nonexistent": "1"}},
                              content_type="application/json", **auth(env.token))
    assert not_granted.status_code == 422 and not_granted.json()["error"]["code"] == "claims_not_granted"


def test_changes_over_http(client):
    env = consumer_env(records=3, items=["name"])
    page = client.get(f"{BASE}/resources/{env.code}/changes?since=1&limit=1", **auth(env.token)).json()
    assert [c["seq"] for c in page["changes"]] == [2] and page["next"] == 2 and page["has_more"] is True
    assert page["changes"][0]["record"] == {"name": "张*"}
    bad = client.get(f"{BASE}/resources/{env.code}/changes?since=-3", **auth(env.token))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_since"
    scope_missing = client.get(f"{BASE}/resources/{env.code}/changes?since=0",
                               **auth(system_token("health", "exchange:query")))
    assert scope_missing.status_code == 403


def test_wrong_mode_is_403_over_http(client):
    env = consumer_env(modes=["query"])
    response = client.post(f"{BASE}/resources/{env.code}/verify", {"subject": id_number(1), "claims": {"name": "x"}},
                           content_type="application/json", **auth(env.token))
    assert response.status_code == 403 and response.json()["error"]["code"] == "mode_not_granted"


def test_webhook_endpoint_set_and_clear(client, monkeypatch):
    env = consumer_env(records=2)
    # consumer.example resolves to a public address (no DNS in the test; refusals: test_review_fixes.py)
    monkeypatch.setattr(webhooks, "_getaddrinfo", lambda host, port, **kw: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))])
    url = f"{BASE}/grants/{env.grant.pk}/webhook"
    response = client.post(url, {"url": "https://consumer.example/hook"}, content_type="application/json",
                           **auth(env.token))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"] == "https://consumer.example/hook" and len(body["secret"]) == 64 and body["cursor"] == 2
    grant = Grant.objects.get(pk=env.grant.pk)
    assert grant.webhook_secret == body["secret"] and grant.webhook_cursor == 2
    bad = client.post(url, {"url": "ftp://consumer.example/hook"}, content_type="application/json", **auth(env.token))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_webhook_url"
    other = client.post(url, {"url": "https://x.example/"}, content_type="application/json",
                        **auth(system_token("market", "exchange:subscribe")))
    assert other.status_code == 404
    cleared = client.post(url, {"url": None}, content_type="application/json", **auth(env.token))
    assert cleared.status_code == 200 and cleared.json()["secret"] is None
    assert Grant.objects.get(pk=env.grant.pk).webhook_url == ""
