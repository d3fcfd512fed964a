"""Public ledger pages: the latest checkpoint and entries; an entry with its checked proof."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model

from tongban.ledger import merkle, services
from tongban.ledger.models import Checkpoint, LedgerEvent, TreeNode
from tongban.ledger.proofs import node_key

from .helpers import grow

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_keystore")]

ACTOR_MIDDLEWARE = "tests.ledger.actor_middleware.TestActorMiddleware"


def test_ledger_page_shows_checkpoint_entries_and_how_to_verify(client, settings):
    grow([3, 4])
    response = client.get("/ledger/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "公开账本" in html and 'lang="zh-hans"' in html
    note = services.latest_checkpoint().note
    assert note.split("\n\n")[0] in html  # the checkpoint body, verbatim
    assert settings.TONGBAN_NODE_NAME in html
    assert services.verifier_key() in html
    assert 'data-testid="ledger-size">7<' in html
    for index in range(7):
        assert f'href="/ledger/entries/{index}/"' in html
    assert "tongban ledger audit --url http://testserver --key" in html
    assert "tongban ledger verify" in html
    assert "/api/v1/ledger/checkpoint" in html
    assert "user-" not in html  # actors are not public


def test_ledger_page_before_any_checkpoint(client):
    response = client.get("/ledger/")
    assert response.status_code == 200
    assert 'data-testid="no-checkpoint"' in response.content.decode()


def test_ledger_page_in_english(client):
    grow([2])
    client.cookies["tongban_language"] = "en"
    html = client.get("/ledger/").content.decode()
    assert "Public ledger" in html and "How to verify" in html


def test_ledger_page_pages_back_through_older_entries(client):
    grow([30])
    first = client.get("/ledger/").content.decode()
    assert 'href="/ledger/entries/29/"' in first and 'href="/ledger/entries/4/"' not in first
    assert "?start=25" in first
    older = client.get("/ledger/?start=25").content.decode()
    assert 'href="/ledger/entries/4/"' in older and 'href="/ledger/entries/5/"' not in older


def test_go_to_entry_number_redirects(client):
    grow([3])
    response = client.get("/ledger/", {"index": "2"})
    assert response.status_code == 302 and response["Location"] == "/ledger/entries/2/"


def test_entry_page_renders_the_proof_and_checks_it(client):
    grow([5, 8])
    response = client.get("/ledger/entries/6/")
    assert response.status_code == 200
    html = response.content.decode()
    proof = services.inclusion(6)
    leaf = merkle.leaf_hash(merkle.SHA256, bytes(LedgerEvent.objects.get(index=6).entry))
    assert merkle.verify_inclusion(merkle.SHA256, leaf, 6, 13, proof.proof, proof.root)
    assert base64.b64encode(leaf).decode() in html
    for sibling in proof.proof:
        assert base64.b64encode(sibling).decode() in html
    assert "✔" in html and 'class="verdict ok"' in html
    assert "已验证" in html
    assert "/api/v1/ledger/entries/6?tree_size=13" in html
    assert "数据共享" not in html  # the payload is for auditors


def test_entry_page_says_so_when_the_proof_does_not_check_out(client):
    grow([4])
    TreeNode.objects.filter(key=node_key(0, 1)).update(hash=b"\x00" * 32)  # entry 0's sibling, tampered
    html = client.get("/ledger/entries/0/").content.decode()
    assert 'class="verdict bad"' in html and "✘" in html


def test_entry_page_shows_the_full_entry_to_auditors(client, settings):
    grow([2])
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, ACTOR_MIDDLEWARE]
    html = client.get("/ledger/entries/1/", HTTP_X_TEST_ROLES="auditor").content.decode()
    assert "数据共享" in html and 'data-testid="entry-json"' in html


def test_entry_page_in_the_national_profile(client, national):
    grow([3])
    html = client.get("/ledger/entries/1/").content.decode()
    assert 'class="verdict ok"' in html
    assert 'data-hash="sm3"' in html  # the browser check stands aside: browsers have no SM3


def test_missing_entry_is_404(client):
    grow([2])
    assert client.get("/ledger/entries/2/").status_code == 404
    assert client.get("/ledger/entries/99/").status_code == 404


def test_footer_links_to_the_ledger(client):
    html = client.get("/").content.decode()
    assert 'href="/ledger/"' in html


def test_admin_shows_the_ledger_read_only(client):
    grow([2])
    admin = get_user_model().objects.create_superuser("root", "root@example.invalid", "Admin-Pass-2026")
    client.force_login(admin)
    event = LedgerEvent.objects.get(index=0)
    for url in ("/admin/ledger/ledgerevent/", f"/admin/ledger/ledgerevent/{event.pk}/change/",
                "/admin/ledger/checkpoint/", "/admin/ledger/treenode/", "/admin/ledger/treestate/"):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/ledger/ledgerevent/add/").status_code == 403
    assert client.post(f"/admin/ledger/ledgerevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/ledger/checkpoint/{Checkpoint.objects.first().pk}/change/",
                       {"note": "forged"}).status_code == 403
