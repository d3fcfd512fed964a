"""record(), the integrator, checkpoints and keys, on the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import gc
import json
import random
import stat
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction

from tongban.core.errors import InvalidInput
from tongban.ledger import integrator, keystore, merkle, notes, services, storage
from tongban.ledger.canonical import canonical_json
from tongban.ledger.models import Checkpoint, LedgerEvent, LedgerSubject, TreeNode, TreeState
from tongban.ledger.verify import verify_ledger

from .helpers import grow, record_many

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger_keystore")]

ID_NUMBER = "11010519491231002X"  # GB 11643's own example
USCC = "91350100M000100Y43"


def _leaves(profile=merkle.SHA256) -> list[bytes]:
    return [merkle.leaf_hash(profile, bytes(e)) for e in
            LedgerEvent.objects.filter(index__isnull=False).order_by("index").values_list("entry", flat=True)]


# --- record ------------------------------------------------------------------------------------


def test_record_stores_canonical_entry_and_hashes_identifiers():
    with transaction.atomic():
        event = services.record(actor="market-steward", action="exchange.query", subject="resource:MKT-0001",
                                payload={"purpose": "资格核验", "items": ["name", "status"]}, department="market",
                                subject_ids=[ID_NUMBER, USCC, ID_NUMBER.lower()])
    assert event.index is None  # numbered by the integrator, not here
    entry = bytes(event.entry)
    content = json.loads(entry)
    assert canonical_json(content) == entry
    assert content == {
        "v": 1, "action": "exchange.query", "actor": "market-steward", "department": "market",
        "subject": "resource:MKT-0001", "payload": {"purpose": "资格核验", "items": ["name", "status"]},
        "subjects": sorted({services.subject_hash(ID_NUMBER), services.subject_hash(USCC)}),
        "time": services.format_time(event.recorded_at),
    }
    assert ID_NUMBER.encode() not in entry and USCC.encode() not in entry
    assert sorted(LedgerSubject.objects.filter(event=event).values_list("hash", flat=True)) == content["subjects"]


def test_find_my_entries_by_identifier_in_any_spelling():
    with transaction.atomic():
        mine = services.record(actor="health-approver", action="exchange.query", subject_ids=[ID_NUMBER])
        services.record(actor="health-approver", action="exchange.query", subject_ids=[USCC])
    full_width = "１１０１０５１９４９１２３１００２ｘ"
    assert list(services.entries_for_subject(full_width)) == [mine]
    assert list(services.entries_for_subject(" 11010519491231002x ")) == [mine]


@pytest.mark.parametrize("where", ["payload", "nested", "subject", "actor"])
def test_record_refuses_identifiers_in_clear(where):
    fields = {"actor": "clerk", "action": "onestop.accepted", "subject": "application:1", "payload": {}}
    if where == "payload":
        fields["payload"] = {"applicant": ID_NUMBER}
    elif where == "nested":
        fields["payload"] = {"rows": [{"note": f"企业 {USCC} 已核验"}]}
    elif where == "subject":
        fields["subject"] = f"citizen:{ID_NUMBER}"
    else:
        fields["actor"] = ID_NUMBER
    with pytest.raises(InvalidInput) as caught:
        services.record(**fields)
    assert caught.value.code == "identifier_in_clear"
    assert not LedgerEvent.objects.exists()


def test_record_checks_its_arguments():
    with pytest.raises(TypeError):
        services.record(actor="a", action="x.y", subject_ids=ID_NUMBER)  # a string, not a list
    with pytest.raises(ValueError):
        services.record(actor="", action="x.y")
    with pytest.raises(ValueError):
        services.record(actor="a", action="Not An Action")
    with pytest.raises(ValueError):
        services.record(actor="a", action="x.y", payload={"nan": float("nan")})
    # 18-character tokens that fail both check rules are not identifiers.
    services.record(actor="a", action="x.y", payload={"order": "110105194912310021", "hex": "ab" * 32})


def test_record_in_rolled_back_transaction_leaves_nothing(django_capture_on_commit_callbacks):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(Boom):
            with transaction.atomic():
                services.record(actor="a", action="identity.login_succeeded", subject_ids=[ID_NUMBER])
                raise Boom
    assert not LedgerEvent.objects.exists()
    assert not LedgerSubject.objects.exists()
    assert callbacks == []  # no integration is triggered for an event that never committed


def test_commit_triggers_one_integration(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_many(5)
    assert len(callbacks) == 1
    assert services.tree_size() == 5
    assert services.latest_checkpoint().size == 5


def test_integration_trigger_never_fails_the_committed_request(django_capture_on_commit_callbacks, monkeypatch,
                                                                caplog):
    def broken(using):
        raise RuntimeError("disk full")

    monkeypatch.setattr(integrator, "integrate_after_commit", broken)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record_many(1)
    assert len(callbacks) == 1
    assert LedgerEvent.objects.count() == 1  # recorded; the worker integrates it later
    assert "the worker will retry" in caplog.text


def test_sqlite_coalesces_integrations_after_commits(settings, monkeypatch):
    """What the on-commit callback runs, after two commits in quick succession."""
    settings.TONGBAN_LEDGER_COALESCE_MS = 60_000
    monkeypatch.setattr(integrator, "_last_after_commit", {})
    record_many(2)
    assert integrator.integrate_after_commit().size == 2
    record_many(3, start=2)
    second = integrator.integrate_after_commit()
    if connection.vendor == "sqlite":  # within the window: left to the next commit or the worker
        assert second is None and services.tree_size() == 2
        assert services.integrate().size == 5
    else:  # the advisory lock blocks no business write: every commit integrates
        assert second.size == 5


def test_trigger_can_be_switched_off(settings, django_capture_on_commit_callbacks):
    settings.TONGBAN_LEDGER_INTEGRATE_ON_COMMIT = False
    with django_capture_on_commit_callbacks() as callbacks:
        record_many(2)
    assert callbacks == []


# --- integrator ----------------------------------------------------------------------------------


def test_integrate_gives_contiguous_indexes_in_commit_order():
    events = record_many(10)
    result = services.integrate()
    assert (result.integrated, result.size, result.skipped) == (10, 10, False)
    indexes = [LedgerEvent.objects.get(pk=e.pk).index for e in events]
    assert indexes == list(range(10))
    more = record_many(3, start=10)
    services.integrate()
    assert [LedgerEvent.objects.get(pk=e.pk).index for e in more] == [10, 11, 12]


def test_integrate_twice_adds_nothing_twice():
    record_many(9)
    services.integrate()
    nodes, checkpoints = TreeNode.objects.count(), Checkpoint.objects.count()
    assert services.integrate() == integrator.IntegrationResult(0, 9)
    assert (TreeNode.objects.count(), Checkpoint.objects.count()) == (nodes, checkpoints)
    assert nodes == 9 + 4 + 2 + 1  # every perfect subtree of a 9-leaf tree


def test_follow_freezes_what_it_loaded_after_its_first_round(monkeypatch):
    """The worker's start-up heap leaves the collector's reach once it has run a round (a full
    collection inside a SQLite write turn would hold up every consuming request)."""
    monkeypatch.setattr(integrator, "close_old_connections", lambda: None)  # the test's transaction stays
    frozen_during: list[int] = []

    def stop_after_two() -> bool:
        frozen_during.append(gc.get_freeze_count())
        return len(frozen_during) > 2

    gc.unfreeze()
    try:
        integrator.follow(interval=0.01, should_stop=stop_after_two)
        frozen_after = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert frozen_during[0] == 0  # nothing frozen before the first round
    assert frozen_after > 10_000 and frozen_during[1] > 10_000


def test_batches_each_commit_a_checkpoint():
    record_many(23)
    assert services.integrate(batch_size=5).size == 23
    assert list(Checkpoint.objects.order_by("size").values_list("size", flat=True)) == [5, 10, 15, 20, 23]
    assert verify_ledger().ok


def test_first_integration_of_empty_ledger_signs_size_zero():
    assert services.integrate() == integrator.IntegrationResult(0, 0)
    checkpoint = services.latest_checkpoint()
    assert checkpoint.size == 0 and bytes(checkpoint.root) == merkle.empty_root(merkle.SHA256)
    assert services.integrate().integrated == 0
    assert Checkpoint.objects.count() == 1
    record_many(3)
    assert services.integrate().size == 3
    assert verify_ledger().ok  # the size-0 checkpoint is consistent with everything after it


def test_roots_match_an_independent_computation_as_the_tree_grows():
    rng = random.Random(4)
    sizes = grow([1, 1, 2, 3, 5, 8, 13, 1, rng.randint(1, 40), rng.randint(1, 40), 64])
    leaves = _leaves()
    for checkpoint in Checkpoint.objects.all():
        assert bytes(checkpoint.root) == merkle.root_from_leaves(leaves[: checkpoint.size])
    state = TreeState.objects.get()
    assert state.size == sizes[-1] == len(leaves)
    assert bytes(state.root) == merkle.root_from_leaves(leaves)
    # Every stored node is the MTH of the leaves it covers.
    for node in TreeNode.objects.all():
        lo = node.node_index << node.level
        assert bytes(node.hash) == merkle.root_from_leaves(leaves[lo: lo + (1 << node.level)]), str(node)


def test_checkpoint_is_a_signed_c2sp_note_for_the_node(settings):
    record_many(3)
    services.integrate()
    checkpoint = services.latest_checkpoint()
    verifier = notes.parse_verifier_key(services.verifier_key())
    opened = notes.open_checkpoint(checkpoint.note, [verifier], settings.TONGBAN_NODE_NAME)
    assert (opened.size, opened.root) == (3, bytes(checkpoint.root))
    assert checkpoint.note.startswith(f"{settings.TONGBAN_NODE_NAME}\n3\n")
    assert verifier.name == settings.TONGBAN_NODE_NAME


@pytest.mark.parametrize("crash_at", ["claim", "nodes", "after_nodes", "checkpoint"])
def test_crash_midway_leaves_state_unchanged_and_next_run_completes(monkeypatch, crash_at):
    record_many(6)
    services.integrate()
    record_many(7, start=6)
    before = (TreeState.objects.get().size, bytes(TreeState.objects.get().root),
              TreeNode.objects.count(), Checkpoint.objects.count())

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):
        raise Crash

    real_claim, real_insert = storage.claim_pending, storage.insert_nodes
    if crash_at == "claim":  # after the indexes were assigned
        monkeypatch.setattr(storage, "claim_pending", lambda *a, **k: (real_claim(*a, **k), crash()))
    elif crash_at == "nodes":
        monkeypatch.setattr(storage, "insert_nodes", crash)
    elif crash_at == "after_nodes":
        monkeypatch.setattr(storage, "insert_nodes", lambda *a, **k: (real_insert(*a, **k), crash()))
    else:
        monkeypatch.setattr(integrator, "_write_checkpoint", crash)
    with pytest.raises(Crash):
        services.integrate()
    after = (TreeState.objects.get().size, bytes(TreeState.objects.get().root),
             TreeNode.objects.count(), Checkpoint.objects.count())
    assert after == before
    assert LedgerEvent.objects.filter(index__isnull=True).count() == 7  # numbering rolled back too

    monkeypatch.undo()
    assert services.integrate().size == 13
    assert sorted(LedgerEvent.objects.values_list("index", flat=True)) == list(range(13))
    assert verify_ledger().ok


def test_profile_cannot_change_under_an_existing_ledger(settings):
    record_many(2)
    services.integrate()
    pytest.importorskip("tongsuopy")
    settings.TONGBAN_CRYPTO_PROFILE = "national"
    record_many(1, start=2)
    with pytest.raises(ImproperlyConfigured):
        services.integrate()
    report = verify_ledger()
    assert not report.ok and "profile" in str(report.problem)


def test_unknown_profile_is_a_configuration_error(settings):
    settings.TONGBAN_CRYPTO_PROFILE = "quantum"
    with pytest.raises(ImproperlyConfigured):
        keystore.current_profile()


# --- keys ----------------------------------------------------------------------------------------


def test_keys_are_created_once_private_and_reused(ledger_keystore):
    record_many(1, start=0)
    services.integrate()
    key_file = ledger_keystore / "ledger-ed25519.pem"
    secret_file = ledger_keystore / keystore.SUBJECT_SECRET_FILE
    services.subject_hash(ID_NUMBER)
    for path in (key_file, secret_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    first = services.verifier_key()
    keystore._load_signer.cache_clear()
    assert services.verifier_key() == first  # read back, not regenerated
    assert not list(ledger_keystore.glob(".tmp-*"))


# --- national profile ----------------------------------------------------------------------------


def test_national_profile_end_to_end(national, settings):
    record_many(11)
    services.integrate(batch_size=4)
    key = services.verifier_key()
    verifier = notes.parse_verifier_key(key)
    assert isinstance(verifier, notes.SM2Verifier)
    assert (national / "ledger-sm2.pem").exists()
    leaves = _leaves(merkle.SM3)
    for checkpoint in Checkpoint.objects.all():
        opened = notes.open_checkpoint(checkpoint.note, [verifier], settings.TONGBAN_NODE_NAME)
        assert opened.root == bytes(checkpoint.root) == merkle.root_from_leaves(leaves[: opened.size],
                                                                                 profile=merkle.SM3)
    assert merkle.root_from_leaves(leaves, profile=merkle.SM3) != merkle.root_from_leaves(leaves)
    proof = services.inclusion(5)
    assert merkle.verify_inclusion(merkle.SM3, leaves[5], 5, 11, proof.proof, proof.root)
    consistency = services.consistency(4, 11)
    assert merkle.verify_consistency(merkle.SM3, 4, 11, consistency.proof, consistency.first_root,
                                     consistency.second_root)
    assert verify_ledger().ok


# --- single writer -------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_trigger_skips_while_another_integrator_holds_the_lock():
    import psycopg

    record_many(3)
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [integrator.ADVISORY_LOCK_KEY])
        result = services.integrate(wait=False)
        other.execute("SELECT pg_advisory_unlock(%s)", [integrator.ADVISORY_LOCK_KEY])
    assert result.skipped and result.integrated == 0
    assert services.integrate().size == 3


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the SQLite test database is in memory: one connection, nothing to race")
@pytest.mark.django_db(transaction=True)
def test_concurrent_integrators_never_duplicate_or_skip_an_index():
    errors: list[BaseException] = []
    done = threading.Event()

    def integrate_until_done(wait: bool) -> None:
        try:
            while not done.is_set():
                services.integrate(batch_size=7, wait=wait)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=integrate_until_done, args=(wait,)) for wait in (True, True, False, False)]
    for worker in workers:
        worker.start()
    for batch in range(20):
        record_many(5, start=batch * 5)
    done.set()
    for worker in workers:
        worker.join()
    services.integrate()
    assert errors == []
    assert sorted(LedgerEvent.objects.values_list("index", flat=True)) == list(range(100))
    assert verify_ledger().ok
