"""Ledger API (DESIGN.md §7): proofs verify with the crypto core, errors use the envelope."""

from __future__ import annotations

import base64
import itertools

import pytest
from django.test import RequestFactory

from tongban.ledger import api as ledger_api
from tongban.ledger import merkle, notes, services
from tongban.ledger.models import Checkpoint, LedgerEvent

from .helpers import grow, record_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_keystore")]

ACTOR_MIDDLEWARE = "tests.ledger.actor_middleware.TestActorMiddleware"


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert {"message", "details", "messages"} <= set(error)
    return error


def _verifier(client) -> notes.Verifier:
    response = client.get("/api/v1/ledger/key")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return notes.parse_verifier_key(response.content.decode().strip())


def _leaf(index: int) -> bytes:
    return merkle.leaf_hash(merkle.SHA256, bytes(LedgerEvent.objects.get(index=index).entry))


@pytest.fixture
def ledger():
    """A 37-entry log grown in uneven batches, so proofs cross ragged right edges."""
    return grow([1, 4, 7, 16, 9])


def test_checkpoint_is_text_and_verifies_with_the_served_key(client, settings, ledger):
    response = client.get("/api/v1/ledger/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    checkpoint = notes.open_checkpoint(response.content, [_verifier(client)], settings.TONGBAN_NODE_NAME)
    assert checkpoint.size == 37
    assert checkpoint.root == merkle.root_from_leaves([_leaf(i) for i in range(37)])


def test_key_has_the_c2sp_verifier_key_form(client, settings):
    key = client.get("/api/v1/ledger/key").content.decode()
    assert key.endswith("\n")
    name, key_id, blob = key.strip().split("+", 2)
    assert name == settings.TONGBAN_NODE_NAME
    assert len(key_id) == 8 and int(key_id, 16) >= 0
    assert b64(blob)[:1] == notes.ED25519_TYPE and len(b64(blob)) == 33


def test_no_checkpoint_yet_is_404_in_envelope(client):
    _error(client.get("/api/v1/ledger/checkpoint"), 404, "no_checkpoint")


def test_every_inclusion_proof_verifies_against_every_checkpoint(client, ledger):
    checkpoints = {c.size: bytes(c.root) for c in Checkpoint.objects.all()}
    assert sorted(checkpoints) == ledger
    for size, index in itertools.product(ledger, range(37)):
        if index >= size:
            continue
        response = client.get(f"/api/v1/ledger/entries/{index}", {"tree_size": size})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["index"] == index and body["tree_size"] == size
        leaf = b64(body["leaf_hash"])
        assert leaf == _leaf(index)  # the published leaf is the hash of the stored entry
        assert b64(body["root"]) == checkpoints[size]
        assert merkle.verify_inclusion(merkle.SHA256, leaf, index, size, [b64(h) for h in body["inclusion_proof"]],
                                       checkpoints[size])
        assert body["checkpoint"] == Checkpoint.objects.get(size=size).note


def test_entry_defaults_to_the_latest_checkpoint(client, ledger):
    body = client.get("/api/v1/ledger/entries/3").json()
    assert body["tree_size"] == 37


def test_proof_against_an_unpublished_size_has_a_root_but_no_checkpoint(client, ledger):
    body = client.get("/api/v1/ledger/entries/2", {"tree_size": 3}).json()
    assert body["checkpoint"] is None
    root = merkle.root_from_leaves([_leaf(i) for i in range(3)])
    assert b64(body["root"]) == root
    assert merkle.verify_inclusion(merkle.SHA256, _leaf(2), 2, 3, [b64(h) for h in body["inclusion_proof"]], root)


def test_every_consistency_proof_verifies(client, ledger):
    roots = {0: merkle.empty_root(merkle.SHA256), **{c.size: bytes(c.root) for c in Checkpoint.objects.all()}}
    for first, second in itertools.combinations_with_replacement([0, *ledger], 2):
        body = client.get("/api/v1/ledger/consistency", {"first": first, "second": second}).json()
        assert (body["first"], body["second"]) == (first, second)
        assert b64(body["first_root"]) == roots[first] and b64(body["second_root"]) == roots[second]
        assert merkle.verify_consistency(merkle.SHA256, first, second, [b64(h) for h in body["proof"]],
                                         roots[first], roots[second]), (first, second)
    assert client.get("/api/v1/ledger/consistency", {"first": 5}).json()["second"] == 37


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/api/v1/ledger/entries/37", 404, "entry_not_found"),
    ("/api/v1/ledger/entries/999999999999", 404, "entry_not_found"),
    ("/api/v1/ledger/entries/-1", 422, "invalid_input"),
    ("/api/v1/ledger/entries/abc", 422, "invalid_input"),
    ("/api/v1/ledger/entries/5?tree_size=5", 422, "invalid_tree_size"),
    ("/api/v1/ledger/entries/5?tree_size=38", 422, "invalid_tree_size"),
    ("/api/v1/ledger/entries/5?tree_size=many", 422, "invalid_input"),
    ("/api/v1/ledger/consistency?first=9&second=5", 422, "invalid_tree_size"),
    ("/api/v1/ledger/consistency?first=1&second=38", 422, "invalid_tree_size"),
    ("/api/v1/ledger/consistency?first=-1", 422, "invalid_tree_size"),
    ("/api/v1/ledger/consistency", 422, "invalid_input"),
    ("/api/v1/ledger/entries?limit=1001", 422, "invalid_input"),
])
def test_bad_requests_answer_in_the_envelope(client, ledger, path, status, code):
    _error(client.get(path), status, code)


def test_pending_entry_is_not_served(client, ledger):
    record_many(1, start=37)  # committed, not integrated yet
    _error(client.get("/api/v1/ledger/entries/37"), 404, "entry_not_found")


def test_public_fields_only_for_anonymous(client, ledger):
    body = client.get("/api/v1/ledger/entries/4").json()
    event = LedgerEvent.objects.get(index=4)
    assert set(body) == {"index", "leaf_hash", "action", "department", "time", "subject", "tree_size", "root",
                         "inclusion_proof", "checkpoint"}
    assert (body["action"], body["department"], body["subject"]) == (event.action, "health", event.subject)
    listed = client.get("/api/v1/ledger/entries", {"start": 4, "limit": 1}).json()["items"][0]
    assert set(listed) == {"index", "leaf_hash", "action", "department", "time", "subject"}
    assert "user-" not in client.get("/api/v1/ledger/entries").content.decode()  # no actors


@pytest.mark.parametrize(("roles", "full"), [("auditor", True), ("steward,approver", False), ("", False)])
def test_full_entry_for_the_auditor_role(client, settings, ledger, roles, full):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, ACTOR_MIDDLEWARE]
    body = client.get("/api/v1/ledger/entries/4", HTTP_X_TEST_ROLES=roles).json()
    assert ("payload" in body) is full
    if full:
        event = LedgerEvent.objects.get(index=4)
        assert body["payload"] == {"n": 4, "note": "数据共享"}
        assert body["actor"] == event.actor and body["subject_hashes"] == []
        # The auditor can recompute the leaf hash from what they were given.
        assert merkle.leaf_hash(merkle.SHA256, body["entry"].encode()) == b64(body["leaf_hash"])


def test_may_see_payload_reads_the_actor_roles():
    request = RequestFactory().get("/api/v1/ledger/entries/0")
    assert ledger_api._may_see_payload(request) is False
    request.actor = type("Actor", (), {"roles": frozenset({"auditor"})})()
    assert ledger_api._may_see_payload(request) is True


def test_entries_list_pages_in_index_order(client, ledger):
    body = client.get("/api/v1/ledger/entries", {"start": 30, "limit": 100}).json()
    assert body["count"] == 37
    assert [item["index"] for item in body["items"]] == list(range(30, 37))
    assert [b64(item["leaf_hash"]) for item in body["items"]] == [_leaf(i) for i in range(30, 37)]
    assert client.get("/api/v1/ledger/entries", {"start": 99}).json()["items"] == []


def test_health_reports_the_ledger_size(client, ledger):
    assert client.get("/api/v1/health").json()["ledger"] == {"size": 37}


def test_openapi_documents_the_ledger(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/ledger/checkpoint", "/api/v1/ledger/key", "/api/v1/ledger/entries/{index}",
                 "/api/v1/ledger/consistency", "/api/v1/ledger/entries"):
        assert path in paths
        assert "security" not in paths[path]["get"] or paths[path]["get"]["security"] == []


def test_national_profile_over_the_api(client, settings, national):
    grow([3, 5])
    verifier = _verifier(client)
    assert isinstance(verifier, notes.SM2Verifier)
    checkpoint = notes.open_checkpoint(client.get("/api/v1/ledger/checkpoint").content, [verifier],
                                       settings.TONGBAN_NODE_NAME)
    body = client.get("/api/v1/ledger/entries/6").json()
    leaf = merkle.leaf_hash(merkle.SM3, bytes(LedgerEvent.objects.get(index=6).entry))
    assert merkle.verify_inclusion(merkle.SM3, leaf, 6, 8, [b64(h) for h in body["inclusion_proof"]], checkpoint.root)
    consistency = client.get("/api/v1/ledger/consistency", {"first": 3, "second": 8}).json()
    assert merkle.verify_consistency(merkle.SM3, 3, 8, [b64(h) for h in consistency["proof"]],
                                     b64(consistency["first_root"]), checkpoint.root)
    assert services.tree_size() == 8
