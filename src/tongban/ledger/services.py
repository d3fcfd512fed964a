"""Ledger use cases: ``record`` (the one call every app makes), reading entries and proofs.

``record`` runs inside the caller's transaction and never opens its own: the event commits
with the business change it describes, or not at all. Committed events are numbered and
integrated by ``tongban.ledger.integrator`` — triggered after the commit, and by the
``tongban ledger integrate --follow`` worker.

The ledger imports no other app: actors and departments are plain strings, authorization for
the full entry is a role name on whatever actor object the caller hands in.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet

from tongban.core.errors import InvalidInput, NotFound
from tongban.ledger import integrator, keystore, proofs, storage
from tongban.ledger.canonical import canonical_json, keyed_subject_hash
from tongban.ledger.integrator import IntegrationResult, follow, integrate, register_source
from tongban.ledger.merkle import consistency_proof as _consistency_proof
from tongban.ledger.merkle import consistency_proof_node_ids, root_node_ids
from tongban.ledger.merkle import root_at as _root_at
from tongban.ledger.models import Checkpoint, LedgerEvent, LedgerSubject, TreeState
from tongban.ledger.privacy import find_identifier
from tongban.ledger.proofs import node_key

logger = logging.getLogger("tongban.ledger")

ENTRY_FORMAT = 1  # "v" in every entry, so a later format can be told apart
MAX_ENTRY_BYTES = 64 * 1024
AUDITOR_ROLE = "auditor"
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")  # "<app>.<verb>", e.g. "exchange.query"
_SUBJECT_HASH = re.compile(r"[0-9a-f]{64}")

__all__ = [
    "IntegrationResult", "follow", "integrate", "record", "record_many", "build_event", "subject_hash",
    "entries_for_subject", "register_source",
    "tree_size", "latest_checkpoint", "checkpoint_at", "verifier_key", "hash_name", "entry_content", "get_entry",
    "list_entries", "inclusion", "inclusion_proof", "consistency", "may_see_full_entry",
]


# --- recording ------------------------------------------------------------------------------


def record(*, actor: str, action: str, subject: str = "", payload: dict[str, Any] | None = None,
           department: str | None = None, subject_ids: Iterable[str] = (), subject_hashes: Iterable[str] = (),
           using: str = DEFAULT_DB_ALIAS) -> LedgerEvent:
    """Records one consequential act in the caller's transaction.

    ``actor``: username or ``system:<token prefix>``; ``action``: ``<app>.<verb>``;
    ``subject``: a non-personal label (``resource:MKT-0001``); ``payload``: JSON-able details;
    ``department``: the acting department's code; ``subject_ids``: ID numbers / USCCs the act
    concerns — stored only as keyed hashes, so the person can find the entry and nobody else
    can read the number. Identifiers in clear anywhere else are refused (422).
    ``subject_hashes``: keyed hashes already computed with ``subject_hash`` (e.g. by a caller
    that queued the act and records it later), added to those of ``subject_ids``.
    """
    event, hashes = build_event(actor=actor, action=action, subject=subject, payload=payload,
                                department=department, subject_ids=subject_ids, subject_hashes=subject_hashes)
    event.save(using=using, force_insert=True)
    if hashes:
        LedgerSubject.objects.using(using).bulk_create([LedgerSubject(event=event, hash=h) for h in hashes])
    _schedule_integration(using)
    return event


def record_many(built: list[tuple[LedgerEvent, list[str]]], *, schedule_integration: bool = True,
                using: str = DEFAULT_DB_ALIAS) -> list[LedgerEvent]:
    """Stores many events made by ``build_event`` in the caller's transaction; returns them with
    their ids (in list order).

    For callers that record acts in batches (the exchange seals its per-access queue this way):
    a few multi-row INSERTs, no per-object ORM work, since on SQLite this runs while holding the
    database's write lock. ``schedule_integration=False`` for a caller that integrates itself
    right after (a ledger source drained by ``integrate``).
    """
    if not built:
        return []
    connection = connections[using]
    adapt = connection.ops.adapt_datetimefield_value
    events = [event for event, _hashes in built]
    with connection.cursor() as cursor:
        for start in range(0, len(events), _ROWS_PER_INSERT):
            chunk = events[start:start + _ROWS_PER_INSERT]
            placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for event in chunk:
                params += [adapt(event.recorded_at), event.action, event.actor, event.department, event.subject,
                           bytes(event.entry)]
            cursor.execute(
                "INSERT INTO ledger_event (recorded_at, action, actor, department, subject, entry) "  # noqa: S608
                f"VALUES {placeholders} RETURNING id", params)
            # Rows come back in VALUES order on SQLite and PostgreSQL (Django's bulk_create
            # relies on the same).
            for event, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                event.pk = pk
                event._state.adding, event._state.db = False, using
        subjects = [(event.pk, h) for event, hashes in built for h in hashes]
        for start in range(0, len(subjects), _ROWS_PER_INSERT):  # multi-row: one round trip per chunk
            chunk = subjects[start:start + _ROWS_PER_INSERT]
            cursor.execute("INSERT INTO ledger_subject (event_id, hash) VALUES "  # noqa: S608 - placeholders only
                           + ", ".join(["(%s, %s)"] * len(chunk)), [value for row in chunk for value in row])
    if schedule_integration:
        _schedule_integration(using)
    return events


_ROWS_PER_INSERT = 500


def build_event(*, actor: str, action: str, subject: str = "", payload: dict[str, Any] | None = None,
                department: str | None = None, subject_ids: Iterable[str] = (),
                subject_hashes: Iterable[str] = ()) -> tuple[LedgerEvent, list[str]]:
    """The unsaved event ``record`` stores, and its subject hashes (validation included)."""
    if isinstance(subject_ids, str) or isinstance(subject_hashes, str):
        raise TypeError("subject_ids and subject_hashes take lists, not one string")
    _check_fields(actor=actor, action=action, subject=subject, department=department)
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        raise TypeError("payload must be a dict")
    if find_identifier(actor, subject, department, payload) is not None:
        raise InvalidInput(
            "存证内容不得包含明文身份证号码或统一社会信用代码，请通过 subject_ids 传入",
            "Ledger entries must not hold ID numbers or credit codes in clear; pass them as subject_ids",
            code="identifier_in_clear",
        )
    given = set(subject_hashes)
    if any(not isinstance(h, str) or not _SUBJECT_HASH.fullmatch(h) for h in given):
        raise ValueError("subject_hashes must be hex keyed hashes made by subject_hash()")
    hashes = sorted(given.union(subject_hash(identifier) for identifier in subject_ids))
    recorded_at = datetime.datetime.now(datetime.UTC)
    entry = canonical_json({
        "v": ENTRY_FORMAT, "action": action, "actor": actor, "department": department,
        "subject": subject, "subjects": hashes, "payload": payload, "time": format_time(recorded_at),
    })
    if len(entry) > MAX_ENTRY_BYTES:
        raise ValueError(f"ledger entry is {len(entry)} bytes; the limit is {MAX_ENTRY_BYTES}")
    event = LedgerEvent(recorded_at=recorded_at, action=action, actor=actor, department=department or "",
                        subject=subject, entry=entry)
    return event, hashes


def format_time(moment: datetime.datetime) -> str:
    """UTC, microseconds, ``Z``: one spelling per instant, since the leaf hash covers it."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_fields(*, actor: str, action: str, subject: str, department: str | None) -> None:
    if not isinstance(actor, str) or not 0 < len(actor) <= 150:
        raise ValueError("actor must be a non-empty string of at most 150 characters")
    if not isinstance(action, str) or len(action) > 100 or not _ACTION.fullmatch(action):
        raise ValueError(f"action {action!r} must look like '<app>.<verb>' (lowercase)")
    if not isinstance(subject, str) or len(subject) > 200:
        raise ValueError("subject must be a string of at most 200 characters")
    if department is not None and (not isinstance(department, str) or not 0 < len(department) <= 64):
        raise ValueError("department must be None or a code of at most 64 characters")


def subject_hash(identifier: str) -> str:
    """The keyed hash under which entries about this ID number or USCC are filed."""
    return keyed_subject_hash(keystore.subject_secret(), identifier)


def entries_for_subject(identifier: str, using: str = DEFAULT_DB_ALIAS) -> QuerySet[LedgerEvent]:
    """Entries concerning this person or enterprise ("find my entries"), newest first."""
    return LedgerEvent.objects.using(using).filter(subject_hashes__hash=subject_hash(identifier))


_AFTER_COMMIT: dict[str, Any] = {}


def _schedule_integration(using: str) -> None:
    """After the recording transaction commits, try to integrate (once per transaction).

    Not waiting: if another integrator holds the lock it will take these events too, and the
    worker catches whatever a skipped attempt leaves behind (see
    ``integrator.integrate_after_commit``).
    """
    if not getattr(settings, "TONGBAN_LEDGER_INTEGRATE_ON_COMMIT", True):
        return
    callback = _AFTER_COMMIT.get(using)
    if callback is None:
        def callback() -> None:
            try:
                integrator.integrate_after_commit(using)
            except Exception:  # noqa: BLE001 - the business transaction has committed; never fail it
                logger.exception("ledger integration after commit failed; the worker will retry")

        _AFTER_COMMIT[using] = callback
    # One callback per transaction is enough; a rolled-back savepoint drops it, and then
    # the next record() in the transaction registers it again.
    if any(entry[1] is callback for entry in connections[using].run_on_commit):
        return
    transaction.on_commit(callback, using=using)


# --- reading --------------------------------------------------------------------------------


def tree_size(using: str = DEFAULT_DB_ALIAS) -> int:
    """Entries integrated so far (the size of the latest checkpoint)."""
    return TreeState.objects.using(using).filter(pk=TreeState.SINGLETON).values_list("size", flat=True).first() or 0


def latest_checkpoint(using: str = DEFAULT_DB_ALIAS) -> Checkpoint | None:
    return Checkpoint.objects.using(using).order_by("-size").first()


def checkpoint_at(size: int, using: str = DEFAULT_DB_ALIAS) -> Checkpoint | None:
    return Checkpoint.objects.using(using).filter(size=size).first()


def verifier_key() -> str:
    return keystore.verifier_key()


def hash_name() -> str:
    """``sha256`` or ``sm3``: the tree hash of this node's profile."""
    return keystore.current_profile().hash.name


def may_see_full_entry(actor: object | None) -> bool:
    """Payload and actor are for auditors; everyone sees index, hashes, action, department, time."""
    return AUDITOR_ROLE in (getattr(actor, "roles", None) or ())


def entry_content(event: LedgerEvent) -> dict[str, Any]:
    return json.loads(bytes(event.entry))


def get_entry(index: int, using: str = DEFAULT_DB_ALIAS) -> LedgerEvent:
    """The integrated entry at ``index`` (only the integrator gives indexes, with the tree)."""
    event = LedgerEvent.objects.using(using).filter(index=index).first() if index >= 0 else None
    if event is None:
        raise _no_entry(index)
    return event


def _no_entry(index: int) -> NotFound:
    return NotFound("账本中没有该序号的记录", f"The ledger has no entry {index}", code="entry_not_found",
                    details={"index": index})


def list_entries(start: int = 0, limit: int = 100, *, newest_first: bool = False,
                 using: str = DEFAULT_DB_ALIAS) -> tuple[list[tuple[LedgerEvent, bytes]], int]:
    """Integrated entries with their stored leaf hashes, and the tree size they come from.

    ``newest_first`` pages backwards from the end: ``start`` then counts from the newest.
    """
    size = tree_size(using)
    if newest_first:
        hi = max(size - start, 0)
        lo = max(hi - limit, 0)
    else:
        lo, hi = min(start, size), min(start + limit, size)
    events = list(LedgerEvent.objects.using(using).filter(index__gte=lo, index__lt=hi).order_by("index"))
    leaves = storage.fetch_level(0, lo, hi - 1, using) if hi > lo else {}
    rows = [(event, leaves.get(event.index, b"")) for event in events]
    if newest_first:
        rows.reverse()
    return rows, size


@dataclass(frozen=True)
class Inclusion:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    root: bytes
    checkpoint: str | None  # the signed checkpoint of exactly this size, when one was published


@dataclass(frozen=True)
class Consistency:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


def _invalid_size(message_zh: str, message_en: str, **details: int) -> InvalidInput:
    return InvalidInput(message_zh, message_en, code="invalid_tree_size", details=details)


def inclusion_proof(index: int, size: int, *, with_root: bool = False,
                    using: str = DEFAULT_DB_ALIAS) -> tuple[bytes, list[bytes], bytes | None]:
    """Leaf hash, inclusion path (and root if asked) at ``size``, from ONE node query."""
    profile = keystore.current_profile().hash
    keys = proofs.inclusion_keys(index, size)
    frontier = [node_key(level, i) for level, i in root_node_ids(size)] if with_root else []
    found = storage.fetch_keys([*keys.all(), *frontier], using)
    try:
        proof = proofs.assemble(keys, found, profile)
        leaf = found[keys.leaf]
        root = None
        if with_root:
            root = _root_at(size, lambda ids: {n: found[node_key(*n)] for n in ids}, profile=profile)
    except KeyError:
        raise LookupError(f"a node of the proof for {index} at size {size} is not stored; "
                          "run `tongban ledger verify`") from None
    return leaf, proof, root


def inclusion(index: int, tree_size_: int | None = None, using: str = DEFAULT_DB_ALIAS) -> Inclusion:
    """Entry ``index``'s inclusion proof against the tree of ``tree_size_`` (default: latest)."""
    # A size beyond any database integer (SQLite cannot even bind it) is refused below, unlooked-up.
    looked_up = tree_size_ if tree_size_ is None or abs(tree_size_) < 2**63 else None
    current, signed_root, note = storage.tree_head(looked_up, using)
    if not 0 <= index < current:
        raise _no_entry(index)
    size = current if tree_size_ is None else tree_size_
    if not index < size <= current:
        raise _invalid_size(f"树大小须大于序号且不超过 {current}", f"tree_size must be above the index and at most {current}",
                            index=index, tree_size=size, current_size=current)
    # No checkpoint of exactly that size: the root computed from the stored nodes instead.
    leaf, proof, computed_root = inclusion_proof(index, size, with_root=signed_root is None, using=using)
    return Inclusion(index, size, leaf, proof, signed_root or computed_root or b"", note)


def consistency(first: int, second: int | None = None, using: str = DEFAULT_DB_ALIAS) -> Consistency:
    """Proof that the tree of size ``second`` (default: latest) extends the tree of size ``first``."""
    current = tree_size(using)
    second = current if second is None else second
    if not 0 <= first <= second <= current:
        raise _invalid_size(f"须满足 0 ≤ first ≤ second ≤ {current}", f"Need 0 <= first <= second <= {current}",
                            first=first, second=second, current_size=current)
    profile = keystore.current_profile().hash
    wanted = [*consistency_proof_node_ids(first, second), *root_node_ids(first), *root_node_ids(second)]
    found = storage.fetch_nodes(wanted, using)
    fetch = lambda ids: found  # noqa: E731 - the one query is above
    return Consistency(first, second, _root_at(first, fetch, profile=profile), _root_at(second, fetch, profile=profile),
                       _consistency_proof(first, second, fetch, profile=profile))
