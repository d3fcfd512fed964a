"""Deny by default, route by route: every operation of the API is called as nobody, as a
citizen and as a system token with no relevant scope. A new route must either refuse these
callers or be listed here as public / open to them — so nothing becomes public by accident."""

from __future__ import annotations

import json
import re

import pytest

from tests.identity.factories import PASSWORD, make_citizen_user, make_department, make_official
from tongban.site.api import api

pytestmark = pytest.mark.django_db

# Operations that need no caller at all (method, path).
PUBLIC = {
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/identity/citizens"),
    ("POST", "/api/v1/identity/enterprises"),
    # The catalog of open resources is public (the public sees published resources whose open
    # class is open or conditional; a caller who signs in sees more). Data standards are public.
    ("GET", "/api/v1/catalog/resources"),
    ("GET", "/api/v1/catalog/resources/{code}"),
    ("GET", "/api/v1/catalog/export.csv"),
    ("GET", "/api/v1/catalog/data-elements"),
    ("GET", "/api/v1/catalog/data-elements/{identifier}"),
    ("GET", "/api/v1/catalog/code-lists"),
    # Anyone may verify a credential, and fetch the trust list and status lists a verifier needs.
    ("POST", "/api/v1/credentials/verify"),
    ("GET", "/api/v1/credentials/trust-list"),
    ("GET", "/api/v1/credentials/status/{purpose}/{list_id}"),
    # Open data (数据开放): records of 无条件开放 resources, open columns only, for anyone.
    ("GET", "/api/v1/open-data/resources"),
    ("GET", "/api/v1/open-data/resources/{code}/records"),
    # The service hall: every published service item and its guide (一次告知), for anyone;
    # the rating tags a rating form offers.
    ("GET", "/api/v1/onestop/items"),
    ("GET", "/api/v1/onestop/items/{code}"),
    ("GET", "/api/v1/onestop/rating-tags"),
    # The policy library (政策通): published policies, one policy, and the variables rules may read.
    ("GET", "/api/v1/policies"),
    ("GET", "/api/v1/policies/variables"),
    ("GET", "/api/v1/policies/{policy_id}"),
}
# Public operations added by apps that publish to everyone (e.g. the ledger for auditors).
PUBLIC_PREFIXES = ("/api/v1/ledger/",)
# Operations any logged-in caller may use on their own account.
SELF_SERVICE = {
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/me/password"),
    ("GET", "/api/v1/me/credentials"),
    # My data: a citizen's / enterprise's own records and who accessed them (others get 403).
    ("GET", "/api/v1/me/data"),
    ("GET", "/api/v1/me/data-access"),
    # My applications (the one-stop list answers a citizen's own applications when no queue is asked).
    ("GET", "/api/v1/me/applications"),
    ("GET", "/api/v1/onestop/applications"),
    # Policies for me: the policies a citizen / enterprise qualifies for (officials get 403).
    ("GET", "/api/v1/me/policies"),
    ("POST", "/api/v1/auth/logout"),
}


SCHEMA = api.get_openapi_schema()
# A well-formed value for each path parameter, so the call reaches authorization, not validation.
SAMPLE_BY_FORMAT = {"uuid": "00000000-0000-4000-8000-000000000000", "integer": "1", "string": "x"}


def _operations():
    for path, methods in SCHEMA["paths"].items():
        for method in methods:
            yield method.upper(), path


def _concrete(method: str, path: str) -> str:
    samples = {}
    for parameter in SCHEMA["paths"][path][method.lower()].get("parameters", []):
        if parameter.get("in") == "path":
            schema = parameter.get("schema", {})
            samples[parameter["name"]] = SAMPLE_BY_FORMAT.get(schema.get("format"),
                                                              SAMPLE_BY_FORMAT.get(schema.get("type"), "1"))
    return re.sub(r"\{([^}]+)\}", lambda m: samples.get(m.group(1), "1"), path)


def _call(client, method, path, token=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.generic(method, _concrete(method, path), data=json.dumps({}), content_type="application/json", **extra)


def _is_public(method, path):
    return (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES)


OPERATIONS = sorted(set(_operations()))


def test_the_walk_sees_the_routes():
    assert ("GET", "/api/v1/me") in OPERATIONS
    assert len(OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_anonymous_is_refused_unless_public(client, method, path):
    response = _call(client, method, path)
    if _is_public(method, path):
        assert response.status_code != 401
    else:
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.fixture
def citizen_token(client):
    make_citizen_user("matrix-citizen")
    response = client.post("/api/v1/auth/token", data=json.dumps({"username": "matrix-citizen", "password": PASSWORD}),
                           content_type="application/json")
    return response.json()["access_token"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_citizen_is_refused_official_operations(client, citizen_token, method, path):
    if _is_public(method, path) or (method, path) in SELF_SERVICE:
        pytest.skip("open to citizens")
    response = _call(client, method, path, citizen_token)
    # 403 (wrong role) or 404 (someone else's object); 422 only where input is checked first.
    assert response.status_code in {403, 404, 422}, (response.status_code, response.content)
    assert response.status_code != 422 or method in {"POST", "PUT", "PATCH"}


@pytest.fixture
def unscoped_system_token(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    make_official("matrix-steward", make_department("market"), ["steward"])
    user_token = client.post("/api/v1/auth/token",
                             data=json.dumps({"username": "matrix-steward", "password": PASSWORD}),
                             content_type="application/json").json()["access_token"]
    created = client.post("/api/v1/identity/tokens",
                          data=json.dumps({"name": "matrix", "scopes": ["catalog:read"], "expires_in_days": 1}),
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {user_token}")
    return created.json()["access_token"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_system_token_without_scope_is_refused(client, unscoped_system_token, method, path):
    if _is_public(method, path) or (method, path) in SELF_SERVICE:
        pytest.skip("open to any caller")
    response = _call(client, method, path, unscoped_system_token)
    assert response.status_code in {403, 404, 422}, (response.status_code, response.content)
