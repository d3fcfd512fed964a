"""Public operations see who is calling when a caller identifies themselves: an auditor's real
token shows full ledger entries, anyone else's shows the public fields only."""

from __future__ import annotations

import json

import pytest

from tests.identity.factories import PASSWORD, make_citizen_user, make_department, make_official
from tongban.ledger import integrator
from tongban.ledger import services as ledger

pytestmark = pytest.mark.django_db


def _token(client, username):
    body = json.dumps({"username": username, "password": PASSWORD})
    return client.post("/api/v1/auth/token", data=body, content_type="application/json").json()["access_token"]


@pytest.fixture
def entry(settings):
    settings.TONGBAN_MFA_REQUIRED = False
    bureau = make_department("bureau", is_bureau=True)
    make_official("the-auditor", bureau, ["auditor"])
    make_official("a-steward", make_department("market"), ["steward"])
    make_citizen_user("someone")
    event = ledger.record(actor="a-steward", action="catalog.resource_submitted", subject="resource:market-00001",
                          department="market", payload={"version": 1})
    integrator.integrate()
    event.refresh_from_db()
    return event


@pytest.mark.parametrize(("username", "full"), [("the-auditor", True), ("a-steward", False), ("someone", False),
                                                (None, False)])
def test_full_entry_only_for_an_auditor_token(client, entry, username, full):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {_token(client, username)}"} if username else {}
    body = client.get(f"/api/v1/ledger/entries/{entry.index}", **extra).json()
    assert ("payload" in body) is full
    if full:
        assert body["payload"] == {"version": 1} and body["actor"] == "a-steward"


def test_auditor_session_sees_full_entry(client, entry):
    from tongban.identity.models import User

    client.force_login(User.objects.get(username="the-auditor"))
    assert "payload" in client.get(f"/api/v1/ledger/entries/{entry.index}").json()


def test_bad_token_on_public_route_is_just_anonymous(client, entry):
    body = client.get(f"/api/v1/ledger/entries/{entry.index}", HTTP_AUTHORIZATION="Bearer nonsense")
    assert body.status_code == 200 and "payload" not in body.json()
