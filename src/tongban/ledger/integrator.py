"""The single sequencer: numbers committed events and integrates them into the tree.

Events are recorded with no index (inside the business transaction that caused them). The
integrator, in ONE transaction per batch:

1. takes the integrator lock — ``pg_try_advisory_xact_lock`` on PostgreSQL; on SQLite the
   database write lock (``BEGIN IMMEDIATE``), so at most one integrator runs anywhere;
2. reads the tree state row (size ``n``) and the frontier nodes of the tree of size ``n``;
3. numbers the oldest pending events ``n, n+1, ...`` and reads their entries (one UPDATE …
   RETURNING), hashes them and stores every completed perfect subtree;
4. updates the state row to the new size and root and stores a signed checkpoint.

A crash anywhere rolls all four back together, so the next run starts from the same state:
no gap, no duplicate (indexes are also UNIQUE in the schema). Indexes are never the
autoincrement id: PostgreSQL sequences skip values on rollback, log indexes must not.

Sources: an app that queues acts durably and records them in batches (the exchange's
per-access log) registers a callable with ``register_source``; ``integrate`` (and so
``follow``) drains every source first, so the queued acts become entries in the same run.
The ledger knows them only as callables: it imports no other app.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, OperationalError, close_old_connections, connections, transaction

from tongban.core.runtime import freeze_survivors
from tongban.core.writeturns import write_turn
from tongban.ledger import keystore, notes, storage
from tongban.ledger.merkle import CompactRange, HashProfile, empty_root, root_node_ids
from tongban.ledger.models import Checkpoint, TreeState

logger = logging.getLogger("tongban.ledger")

ADVISORY_LOCK_KEY = 0x746F6E67_62616E  # "tongban": one integrator per PostgreSQL database
DEFAULT_BATCH_SIZE = 10_000
# When not waiting (after a commit), give a busy SQLite writer this long before skipping.
TRY_LOCK_TIMEOUT_MS = 50
INTEGRATOR_CACHE_KIB = 64 * 1024
INTEGRATOR_WAL_PAGES = 16_384


@dataclass(frozen=True)
class IntegrationResult:
    integrated: int  # entries added by this call
    size: int  # tree size afterwards (as far as this call knows)
    skipped: bool = False  # another integrator (or, on SQLite, writer) held the lock


class LedgerStateError(RuntimeError):
    """The stored tree cannot be extended (missing frontier nodes, wrong profile)."""


# A source turns queued acts into recorded (pending) events: ``source(using) -> events recorded``.
Source = Callable[[str], int]
_SOURCES: list[Source] = []
_draining: set[str] = set()


def register_source(source: Source) -> Source:
    """Have ``integrate`` call ``source(using)`` before integrating (once per callable)."""
    if source not in _SOURCES:
        _SOURCES.append(source)
    return source


def unregister_source(source: Source) -> None:
    if source in _SOURCES:
        _SOURCES.remove(source)


def drain_sources(using: str = DEFAULT_DB_ALIAS) -> int:
    """Calls every registered source; a failing source is logged and the others still run."""
    if using in _draining:  # a source's own commit triggering integration must not recurse
        return 0
    _draining.add(using)
    recorded = 0
    try:
        for source in list(_SOURCES):
            try:
                recorded += source(using) or 0
            except Exception:  # noqa: BLE001 - one broken source must not stop the sequencer
                logger.exception("ledger source %r failed; its acts stay queued", source)
    finally:
        _draining.discard(using)
    return recorded


def integrate(*, batch_size: int = DEFAULT_BATCH_SIZE, wait: bool = True, sources: bool = True,
              using: str = DEFAULT_DB_ALIAS) -> IntegrationResult:
    """Integrates every pending event, ``batch_size`` per transaction.

    ``wait=False`` returns at once (``skipped=True``) when another integrator holds the lock:
    that one will pick our events up, or the ``tongban ledger integrate --follow`` worker will.
    ``sources``: drain the registered sources first (see the module docstring).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if sources and _SOURCES:
        drain_sources(using)
    if not storage.has_pending(using) and not _needs_checkpoint(using):
        return IntegrationResult(0, _stored_size(using))
    total = 0
    while True:
        outcome = _integrate_batch(batch_size, wait=wait, using=using)
        if outcome is None:
            return IntegrationResult(total, _stored_size(using), skipped=True)
        added, size = outcome
        total += added
        if added < batch_size:
            return IntegrationResult(total, size)


_last_after_commit: dict[str, float] = {}


def integrate_after_commit(using: str = DEFAULT_DB_ALIAS) -> IntegrationResult | None:
    """What ``record`` triggers once its transaction has committed: integrate, not waiting.

    On SQLite the integrator's lock is the database write lock that every business
    transaction needs too. Between processes (``tongban serve`` runs sync workers) that is
    fine: with 4 writing processes, integrating after every commit cost ~20 % of the write
    throughput and caused no errors. Between threads of ONE process it is not: a thread
    re-taking the lock right after its commit starves the threads asleep in SQLite's busy
    handler until they fail with "database is locked" (4 threads: ~2,000 entries/s fell to
    20 in some runs). For threaded servers, ``TONGBAN_LEDGER_COALESCE_MS`` (e.g. 200) makes a
    process integrate after a commit at most once per window; a later commit or the
    ``integrate --follow`` worker takes what the window skipped. PostgreSQL's advisory lock
    blocks no business write, so no window applies there.
    """
    if connections[using].vendor == "sqlite":
        window = getattr(settings, "TONGBAN_LEDGER_COALESCE_MS", 0) / 1000
        now = time.monotonic()
        if now - _last_after_commit.get(using, float("-inf")) < window:
            return None
        _last_after_commit[using] = now
    # Not the sources: this runs inside a request that has just committed, and draining a
    # queue of thousands of acts there would stall it; the follow worker drains them.
    return integrate(wait=False, sources=False, using=using)


def follow(*, interval: float = 0.5, batch_size: int = DEFAULT_BATCH_SIZE, using: str = DEFAULT_DB_ALIAS,
           should_stop: Callable[[], bool] = lambda: False,
           report: Callable[[IntegrationResult], None] = lambda result: None) -> None:
    """Integrates forever (the worker): nothing waits longer than ``interval`` plus one batch.

    After its first round the worker freezes what it has loaded (``core.runtime``): a full
    collection over Django and every app took ~70 ms here, and on SQLite one that fell inside a
    write turn held every consuming request up for as long.
    """
    settled = False
    while not should_stop():
        close_old_connections()  # survive database restarts and idle timeouts
        try:
            result = integrate(batch_size=batch_size, wait=True, using=using)
        except OperationalError:
            logger.exception("ledger integration failed; retrying")
            time.sleep(interval)
            continue
        if not settled:
            freeze_survivors()
            settled = True
        if result.integrated:
            report(result)
        else:
            time.sleep(interval)


def _stored_size(using: str) -> int:
    return TreeState.objects.using(using).filter(pk=TreeState.SINGLETON).values_list("size", flat=True).first() or 0


def _needs_checkpoint(using: str) -> bool:
    """True when no checkpoint covers the current size yet (e.g. the very first run)."""
    size = _stored_size(using)
    return not Checkpoint.objects.using(using).filter(size=size).exists()


def _integrate_batch(limit: int, *, wait: bool, using: str) -> tuple[int, int] | None:
    connection = connections[using]
    try:
        with write_turn(connection, wait=wait) as turn, _sqlite_pragmas(connection, wait=wait):
            if not turn:
                return None
            with transaction.atomic(using=using):
                if not _take_lock(connection, wait):
                    return None
                return _integrate_locked(limit, using)
    except OperationalError as exc:
        # SQLite: BEGIN IMMEDIATE timed out because someone else is writing.
        if not wait and connection.vendor == "sqlite" and "locked" in str(exc):
            return None
        raise


@contextlib.contextmanager
def _sqlite_pragmas(connection, *, wait: bool) -> Iterator[None]:
    """SQLite only, for one batch, restored after. Waiting (worker, CLI: big batches): a
    bigger page cache, since a batch rewrites thousands of rows and index entries and the
    default 2 MiB cache thrashes. Not waiting (after a commit: small batches): a short busy
    timeout for ``BEGIN IMMEDIATE``, so a busy database means "skip", not "queue"."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    names = ("busy_timeout", "cache_size", "wal_autocheckpoint")
    saved = {name: raw.execute(f"PRAGMA {name}").fetchone()[0] for name in names}
    if wait:
        raw.execute(f"PRAGMA cache_size = {-INTEGRATOR_CACHE_KIB}")
        raw.execute(f"PRAGMA wal_autocheckpoint = {INTEGRATOR_WAL_PAGES}")
    elif not connection.in_atomic_block:
        raw.execute(f"PRAGMA busy_timeout = {TRY_LOCK_TIMEOUT_MS}")
    try:
        yield
    finally:
        for name, value in saved.items():
            raw.execute(f"PRAGMA {name} = {int(value)}")


def _take_lock(connection, wait: bool) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Transaction-scoped: released by COMMIT or ROLLBACK, including after a crash.
            function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            cursor.execute(f"SELECT {function}(%s)", [ADVISORY_LOCK_KEY])
            return wait or bool(cursor.fetchone()[0])
        # SQLite: the settings begin transactions IMMEDIATE, which already holds the write
        # lock. Writing first keeps that true under DEFERRED too (no read-then-upgrade).
        cursor.execute("UPDATE ledger_state SET size = size WHERE id = %s", [TreeState.SINGLETON])
        return True


def _integrate_locked(limit: int, using: str) -> tuple[int, int]:
    profile = keystore.current_profile()
    state = TreeState.objects.using(using).select_for_update().filter(pk=TreeState.SINGLETON).first()
    if state is None:
        state = TreeState(size=0, root=empty_root(profile.hash), profile=profile.name)
        state.save(using=using, force_insert=True)
    if state.profile != profile.name:
        raise ImproperlyConfigured(
            f"the ledger was created with the {state.profile!r} crypto profile; "
            f"TONGBAN_CRYPTO_PROFILE={profile.name!r} cannot extend it"
        )
    entries = storage.claim_pending(state.size, limit, using)
    if not entries:
        if not Checkpoint.objects.using(using).filter(size=state.size).exists():
            _write_checkpoint(state.size, bytes(state.root), using)
        return 0, state.size
    appended = _compact_range(state, profile.hash, using).append_data(entries)
    storage.insert_nodes(appended.runs, using)
    state.size, state.root = appended.size, appended.root()
    state.save(using=using, update_fields=["size", "root", "updated_at"])
    _write_checkpoint(state.size, state.root, using)
    return len(entries), state.size


def _compact_range(state: TreeState, hash_profile: HashProfile, using: str) -> CompactRange:
    ids = root_node_ids(state.size)
    found = storage.fetch_nodes(ids, using)
    try:
        frontier = tuple(found[node] for node in ids)
    except KeyError as exc:
        raise LedgerStateError(f"frontier node {exc.args[0]} of tree size {state.size} is missing; "
                               "run `tongban ledger verify`") from None
    compact = CompactRange(state.size, frontier, hash_profile)
    if compact.root() != bytes(state.root):
        raise LedgerStateError(f"stored nodes do not give the stored root at size {state.size}; "
                               "run `tongban ledger verify`")
    return compact


def _write_checkpoint(size: int, root: bytes, using: str) -> Checkpoint:
    signer = keystore.signer()
    text = notes.format_checkpoint(keystore.node_name(), size, root)
    return Checkpoint.objects.using(using).create(size=size, root=root, note=notes.sign_note(text, [signer]))

