"""``tongban ledger integrate|verify|audit``: tampering is caught and named by its index."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tongban.ledger import merkle, notes, services
from tongban.ledger.audit import AuditError, audit
from tongban.ledger.canonical import canonical_json
from tongban.ledger.models import Checkpoint, LedgerEvent, LedgerSubject, TreeNode, TreeState
from tongban.ledger.proofs import node_key
from tongban.ledger.verify import verify_ledger

from .helpers import grow, record_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_keystore")]

TONGBAN = str(Path(sys.executable).with_name("tongban"))


def verify_fails() -> str:
    with pytest.raises(CommandError) as caught:
        call_command("ledger", "verify", stdout=io.StringIO())
    assert caught.value.returncode == 1
    return str(caught.value)


def _edit(index: int, change) -> None:
    event = LedgerEvent.objects.get(index=index)
    content = json.loads(bytes(event.entry))
    change(content)
    LedgerEvent.objects.filter(pk=event.pk).update(entry=canonical_json(content))


@pytest.fixture
def ledger():
    """13 entries integrated in three batches: checkpoints at 4, 9 and 13."""
    return grow([4, 5, 4])


def test_integrate_and_verify_a_good_ledger(ledger):
    record_many(3, start=13)
    out = io.StringIO()
    call_command("ledger", "integrate", stdout=out)
    assert "integrated 3 entries; tree size 16" in out.getvalue()
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "ledger OK" in out.getvalue() and "16 entries" in out.getvalue() and "4 checkpoints" in out.getvalue()


def test_verify_an_empty_ledger():
    call_command("ledger", "verify", stdout=io.StringIO())
    services.integrate()
    call_command("ledger", "verify", stdout=io.StringIO())


def test_pending_entries_are_not_tampering(ledger):
    record_many(2, start=13)
    report = verify_ledger()
    assert report.ok and report.pending == 2 and report.entries == 13


# --- the five tampering cases of the issue, and their relatives ---------------------------------


def test_edited_payload(ledger):
    _edit(5, lambda content: content["payload"].update(n=500))
    message = verify_fails()
    assert "index 5:" in message and "does not hash to the stored leaf" in message


def test_edited_bytes_that_are_not_canonical(ledger):
    event = LedgerEvent.objects.get(index=7)
    LedgerEvent.objects.filter(pk=event.pk).update(entry=bytes(event.entry).replace(b'{"', b'{ "', 1))
    assert "index 7: the stored entry is not canonical JSON" in verify_fails()


def test_deleted_entry(ledger):
    LedgerEvent.objects.filter(index=6).delete()
    assert "index 6: entry missing" in verify_fails()


def test_deleted_last_entry(ledger):
    LedgerEvent.objects.filter(index=12).delete()
    assert "index 12: entry missing" in verify_fails()


def test_two_swapped_entries(ledger):
    a, b = LedgerEvent.objects.get(index=3), LedgerEvent.objects.get(index=8)
    LedgerEvent.objects.filter(pk=a.pk).update(index=-1)
    LedgerEvent.objects.filter(pk=b.pk).update(index=3)
    LedgerEvent.objects.filter(pk=a.pk).update(index=8)
    message = verify_fails()
    assert "index 3:" in message and "does not hash to the stored leaf" in message


def test_inserted_entry(ledger):
    for event in LedgerEvent.objects.filter(index__gte=4).order_by("-index"):  # shift up, top first
        LedgerEvent.objects.filter(pk=event.pk).update(index=event.index + 1)
    model = LedgerEvent.objects.get(index=3)
    forged = json.loads(bytes(model.entry))
    forged["payload"] = {"n": "inserted"}
    LedgerEvent.objects.create(index=4, recorded_at=model.recorded_at, action=model.action, actor=model.actor,
                               department=model.department, subject=model.subject, entry=canonical_json(forged))
    message = verify_fails()
    assert "index 4:" in message and "does not hash to the stored leaf" in message


def test_entry_inserted_past_the_end(ledger):
    model = LedgerEvent.objects.get(index=12)
    LedgerEvent.objects.create(index=13, recorded_at=model.recorded_at, action=model.action, actor=model.actor,
                               department=model.department, subject=model.subject, entry=bytes(model.entry))
    assert "index 13: entry beyond the tree size 13" in verify_fails()


def test_forged_checkpoint_signature(ledger):
    checkpoint = Checkpoint.objects.get(size=9)
    text, signature = checkpoint.note.split("\n\n")
    name, blob = signature.split(" ")[1:]
    raw = bytearray(notes._b64decode(blob.strip()))
    raw[-1] ^= 1
    forged = f"{text}\n\n— {name} {notes._b64encode(bytes(raw))}\n"
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note=forged)
    message = verify_fails()
    assert "checkpoint of size 9:" in message and "does not verify" in message


def test_checkpoint_signed_by_another_key(ledger, settings):
    checkpoint = Checkpoint.objects.get(size=4)
    impostor = notes.Ed25519Signer(settings.TONGBAN_NODE_NAME, notes.generate_ed25519())
    forged = notes.sign_note(checkpoint.note.split("\n\n")[0] + "\n", [impostor])
    Checkpoint.objects.filter(pk=checkpoint.pk).update(note=forged)
    assert "checkpoint of size 4:" in verify_fails()


def test_checkpoint_root_replaced(ledger):
    checkpoint = Checkpoint.objects.get(size=13)
    Checkpoint.objects.filter(pk=checkpoint.pk).update(root=b"\x01" * 32)
    assert "checkpoint of size 13: the signed note does not match" in verify_fails()


def test_history_rewritten_with_every_node_recomputed(ledger):
    """An insider edits entry 5 and rebuilds the tree: only the signed checkpoints can tell."""
    _edit(5, lambda content: content["payload"].update(n=500))
    leaves = [merkle.leaf_hash(merkle.SHA256, bytes(e)) for e in
              LedgerEvent.objects.order_by("index").values_list("entry", flat=True)]
    TreeNode.objects.all().delete()
    result = merkle.CompactRange().append(leaves)
    TreeNode.objects.bulk_create([TreeNode(key=node_key(level, index), hash=h) for (level, index), h in result.nodes()])
    TreeState.objects.update(root=result.root())
    message = verify_fails()
    assert "checkpoint of size 9: the signed root does not match the entries" in message


def test_edited_column(ledger):
    LedgerEvent.objects.filter(index=2).update(department="bureau")
    assert "index 2: columns disagree with the entry: department" in verify_fails()


def test_edited_subject_hash(ledger):
    event = services.record(actor="x", action="exchange.query", subject_ids=["11010519491231002X"])
    services.integrate()
    LedgerSubject.objects.filter(event=event).update(hash="0" * 64)
    assert f"index {LedgerEvent.objects.get(pk=event.pk).index}: columns disagree with the entry: subjects" \
        in verify_fails()


def test_edited_interior_node(ledger):
    TreeNode.objects.filter(key=node_key(1, 2)).update(hash=b"\x02" * 32)
    assert "index 4: stored tree node (1, 2) over entries 4–5 is wrong" in verify_fails()


def test_extra_node(ledger):
    TreeNode.objects.create(key=node_key(0, 13), hash=b"\x03" * 32)
    assert "index 13:" in verify_fails()


def test_first_bad_index_wins(ledger):
    _edit(9, lambda content: content.update(subject="resource:forged"))
    LedgerEvent.objects.filter(index=2).delete()
    assert "index 2: entry missing" in verify_fails()


def test_verify_national_profile_detects_tampering(national):
    grow([3, 4])
    call_command("ledger", "verify", stdout=io.StringIO())
    _edit(1, lambda content: content["payload"].update(n=-1))
    assert "index 1:" in verify_fails()


# --- audit from outside ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_audit_over_http_with_only_the_public_key(live_server, tmp_path):
    grow([5, 6])
    state = tmp_path / "audit.json"
    lines: list[str] = []
    result = audit(live_server.url, state_file=state, say=lines.append, seed=1)
    assert result.size == 11 and result.consistent_with is None
    assert any("trust on first use" in line for line in lines)
    assert json.loads(state.read_text())["size"] == 11

    grow([9])  # the log grows; the next audit checks it only grew
    out = io.StringIO()
    call_command("ledger", "audit", "--url", live_server.url, "--key", services.verifier_key(),
                 "--state", str(state), stdout=out)
    assert "consistent with the checkpoint of size 11" in out.getvalue()
    assert "trust on first use" not in out.getvalue()
    assert "ledger audit OK: size 20" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_audit_detects_rewritten_history(live_server, tmp_path):
    grow([4, 4])
    state = tmp_path / "audit.json"
    audit(live_server.url, key=services.verifier_key(), state_file=state, say=lambda line: None)
    # The node rewrites its log from scratch (same key), even making it longer.
    LedgerEvent.objects.all().delete()
    TreeNode.objects.all().delete()
    Checkpoint.objects.all().delete()
    TreeState.objects.all().delete()
    record_many(12, action="test.rewritten")
    services.integrate()
    with pytest.raises(CommandError) as caught:
        call_command("ledger", "audit", "--url", live_server.url, "--key", services.verifier_key(),
                     "--state", str(state), stdout=io.StringIO())
    assert caught.value.returncode == 1
    assert "not consistent with the checkpoint of size 8" in str(caught.value)


@pytest.mark.django_db(transaction=True)
def test_audit_rejects_a_checkpoint_from_another_key(live_server, settings):
    grow([3])
    other = notes.Ed25519Signer(settings.TONGBAN_NODE_NAME, notes.generate_ed25519()).verifier().verifier_key()
    with pytest.raises(AuditError, match="does not verify"):
        audit(live_server.url, key=other, say=lambda line: None)


@pytest.mark.django_db(transaction=True)
def test_audit_detects_a_published_leaf_that_was_changed(live_server):
    grow([6])
    TreeNode.objects.filter(key=node_key(0, 2)).update(hash=b"\x04" * 32)
    with pytest.raises(AuditError, match="do not hash to the signed root"):
        audit(live_server.url, key=services.verifier_key(), say=lambda line: None)


@pytest.mark.django_db(transaction=True)
def test_audit_national_profile(live_server, national):
    grow([2, 5])
    assert audit(live_server.url, say=lambda line: None).size == 7


# --- one writer across processes (SQLite file, as in production) -----------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL is covered by the threaded test")
def test_integrators_in_separate_processes_on_one_sqlite_file(tmp_path):
    env = {**os.environ, "TONGBAN_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tongban.site.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run([TONGBAN, "migrate", "-v0"], env=env, check=True, timeout=120)
    recorder = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from tongban.ledger import services\n"
        "for batch in range(60):\n"
        "    with transaction.atomic():\n"  # each commit also tries to integrate, without waiting
        "        for i in range(3):\n"
        "            services.record(actor='proc', action='test.recorded', payload={'b': batch, 'i': i})\n"
    )
    workers = [subprocess.Popen([TONGBAN, "ledger", "integrate", "--follow", "--interval", "0.05",
                                 "--batch-size", "4"], env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    try:
        subprocess.run([sys.executable, "-c", recorder], env=env, check=True, timeout=120)
        time.sleep(0.5)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    subprocess.run([TONGBAN, "ledger", "integrate"], env=env, check=True, timeout=60, stdout=subprocess.DEVNULL)
    verified = subprocess.run([TONGBAN, "ledger", "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    assert "180 entries" in verified.stdout and "0 pending" in verified.stdout
