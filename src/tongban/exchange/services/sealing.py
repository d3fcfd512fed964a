"""Sealing: the per-access log (``Access`` rows) turned into ledger entries, in batches.

Each consuming request writes its ``Access`` row in its own short transaction (see
``access``); recording a ledger entry there too would put the ledger's write on every request.
Instead the rows are a durable queue: ``seal_pending`` takes the oldest pending rows
(``ledger_event_id`` empty), records one ``exchange.access`` entry for each (actor, consumer
department, ``resource:<code>``, payload mode/items/purpose/grant/accessed_at/found/
subject_count/access, the subjects' keyed hashes as the entry's subjects) and marks the rows,
all in ONE transaction per batch. Exactly once, even with two sealers: on PostgreSQL sealers
take turns by a transaction-scoped advisory lock; on SQLite the batch transaction holds the
database write lock (``BEGIN IMMEDIATE``); and the marking UPDATE is conditional on the row
still being pending, rolling the whole batch back if any was not.

An access that concerns more subjects than fit in one entry (the ledger caps entries at 64 KiB;
a 1,000-subject lookup's hashes alone are ~67 KB) is recorded as several entries of at most
``SUBJECTS_PER_ENTRY`` hashes each, marked ``part``/``parts`` and sharing the ``access`` id;
``Access.ledger_event_id`` names the first.

A row that cannot be sealed as it is (e.g. an ID number typed into the purpose, or an actor
name the ledger refuses) is quarantined, not left blocking the queue: it is sealed with the
offending text replaced by ``REDACTED`` and ``"redacted": true`` (and ``redacted_fields``) in
the payload; the warning logged names the access id only.

``register()`` makes the ledger's sequencer (``integrate``, ``tongban ledger integrate
--follow``) drain this queue before each integration; the app config calls it at start-up.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections import defaultdict
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from tongban.core.errors import InvalidInput
from tongban.core.writeturns import write_turn
from tongban.exchange.models import Access, AccessSubject, RateWindow
from tongban.exchange.services import access_queue
from tongban.ledger import privacy as ledger_privacy
from tongban.ledger import services as ledger

logger = logging.getLogger("tongban.exchange")

ACTION = "exchange.access"
BATCH_SIZE = 250  # accesses per transaction: keeps SQLite's write lock short for the hot path
SEAL_LOCK_KEY = 0x746F6E67_7365616C  # "tongseal": one sealer at a time per PostgreSQL database
SUBJECTS_PER_ENTRY = 500
REDACTED = "（已隐去：含个人标识）"
_HASH = re.compile(r"[0-9a-f]{64}")


def seal_pending(limit: int = 5000, using: str = DEFAULT_DB_ALIAS) -> int:
    """Seal up to ``limit`` pending accesses, oldest first; returns how many were sealed.
    (First the SQLite access queue is moved into ``Access``: see ``access_queue``.)"""
    access_queue.drain(using, limit=limit)
    sealed = 0
    while sealed < limit:
        size = min(BATCH_SIZE, limit - sealed)
        done = _seal_batch(size, using)
        sealed += done
        if done < size:  # the backlog is sealed; what arrives meanwhile waits for the next round
            break
    if sealed:
        _forget_old_windows(using)
    return sealed


def pending_count(using: str = DEFAULT_DB_ALIAS) -> int:
    """Accesses not yet in the ledger: unsealed ``Access`` rows and rows still queued."""
    return Access.objects.using(using).filter(ledger_event_id__isnull=True).count() + access_queue.backlog(using)


class _Raced(Exception):
    """Another sealer marked some of the batch first: roll back, read again."""


def _seal_batch(size: int, using: str) -> int:
    if connections[using].vendor == "postgresql":
        # Sealers take turns by a transaction-scoped advisory lock, then read the oldest pending
        # rows. (Claiming rows with FOR UPDATE SKIP LOCKED instead wrote a lock into every
        # access row, a heap write and a WAL record each, only for the marking UPDATE to write
        # the row again.) Nothing on the hot path takes this lock.
        for _attempt in range(3):
            try:
                with transaction.atomic(using=using):
                    with connections[using].cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
                    accesses = _pending(size, using)
                    if accesses:
                        _store(accesses, _build_all(accesses, using), using)
                    return len(accesses)
            except _Raced:  # not expected under the lock; rolled back and retried if it happens
                continue
        return 0
    # SQLite: the write transaction holds the database's single write lock, which every
    # consuming request needs too; so the reading and the building (the CPU-heavy part) happen
    # before it, and the transaction only inserts and marks. A race with another sealer shows
    # as fewer rows marked than read: the batch is rolled back and read again.
    for _attempt in range(3):
        accesses = _pending(size, using)
        if not accesses:
            return 0
        built = _build_all(accesses, using)
        try:
            with write_turn(connections[using]), transaction.atomic(using=using):
                _store(accesses, built, using)
        except _Raced:
            continue
        return len(accesses)
    return 0


class _Pending(NamedTuple):
    """A pending access as sealing reads it (plain values: model instances cost more to build
    than the rest of an entry, and the sequencer builds one per access)."""

    pk: int
    at: datetime.datetime
    grant_id: int | None
    resource_code: str
    consumer_code: str
    actor: str
    mode: str
    items: list
    purpose: str
    subject_hash: str
    subject_count: int
    found: int


def _pending(size: int, using: str) -> list[_Pending]:
    rows = (Access.objects.using(using).filter(ledger_event_id__isnull=True).order_by("id")
            .values_list(*_Pending._fields))
    return [_Pending._make(row) for row in rows[:size]]


def _build_all(accesses: list[_Pending], using: str) -> tuple[list, list[int]]:
    several = [access.pk for access in accesses if not access.subject_hash and access.subject_count]
    subjects: dict[int, list[str]] = defaultdict(list)
    if several:
        for access_id, subject_hash in (AccessSubject.objects.using(using).filter(access_id__in=several)
                                        .order_by("id").values_list("access_id", "subject_hash")):
            subjects[access_id].append(subject_hash)
    built, firsts = [], []
    for access in accesses:
        hashes = [access.subject_hash] if access.subject_hash else sorted(set(subjects.get(access.pk, ())))
        if not all(_HASH.fullmatch(h) for h in hashes):  # never written by access; never block the queue
            logger.error("access %s has a malformed subject hash; sealed without it", access.pk)
            hashes = [h for h in hashes if _HASH.fullmatch(h)]
        firsts.append(len(built))
        built.extend(_entries(access, hashes))
    return built, firsts


def _store(accesses: list[_Pending], built_firsts: tuple[list, list[int]], using: str) -> None:
    built, firsts = built_firsts
    events = ledger.record_many(built, schedule_integration=False, using=using)
    marks = [(access.pk, events[first].pk) for access, first in zip(accesses, firsts, strict=True)]
    if _mark(marks, using) != len(marks):
        raise _Raced()


def _entries(access: _Pending, hashes: list[str]):
    chunks = [hashes[i:i + SUBJECTS_PER_ENTRY] for i in range(0, len(hashes), SUBJECTS_PER_ENTRY)] or [[]]
    payload = {
        "access": access.pk, "mode": access.mode, "items": list(access.items or ()), "purpose": access.purpose,
        "grant": access.grant_id, "accessed_at": ledger.format_time(access.at), "found": access.found,
        "subject_count": access.subject_count,
    }
    for number, chunk in enumerate(chunks, start=1):
        part = dict(payload)
        if len(chunks) > 1:
            part.update(part=number, parts=len(chunks))
        yield _build(access, part, chunk)


def _build(access: _Pending, payload: dict, hashes: list[str]):
    fields = {"actor": access.actor or "unknown", "action": ACTION, "subject": f"resource:{access.resource_code}",
              "department": access.consumer_code or None, "subject_hashes": hashes}
    try:
        return ledger.build_event(payload=payload, **fields)
    except (InvalidInput, ValueError, TypeError):
        pass
    # Quarantine: the row cannot be sealed as it is (an identifier typed into the purpose or the
    # actor, an over-long field, ...). It is sealed all the same, with the offending text replaced
    # by REDACTED and ``redacted: true``, so no access is ever missing from the ledger and the
    # queue moves on. The Access row keeps the text for the department's own audit; the log
    # names the access only, never the content.
    texts = {"actor": fields["actor"], "purpose": payload.get("purpose"), "department": fields["department"],
             "subject": fields["subject"], "items": payload.get("items")}
    offending = [name for name, value in texts.items() if _unfit(name, value)]
    logger.warning("access %s: sealed with %s redacted", access.pk, ", ".join(offending) or "every text field")
    for names in (offending, list(texts)):
        try:
            return ledger.build_event(**_redacted(fields, payload, names))
        except (InvalidInput, ValueError, TypeError):
            continue
    raise RuntimeError(f"access {access.pk} cannot be sealed even redacted")  # not reachable: no text is left


_LIMITS = {"actor": 150, "subject": 200, "department": 64}


def _unfit(name: str, value) -> bool:
    if value is None:
        return False
    if ledger_privacy.find_identifier(value) is not None:
        return True
    return name in _LIMITS and (not isinstance(value, str) or len(value) > _LIMITS[name])


def _redacted(fields: dict, payload: dict, names: list[str]) -> dict:
    fields, payload = dict(fields), {**payload, "redacted": True, "redacted_fields": sorted(names)}
    if "actor" in names:
        fields["actor"] = REDACTED
    if "purpose" in names:
        payload["purpose"] = REDACTED
    if "department" in names:
        fields["department"] = None
    if "subject" in names:
        fields["subject"] = "resource:" + REDACTED
    if "items" in names:
        payload["items"] = []
    return {**fields, "payload": payload}


def _mark(marks: list[tuple[int, int]], using: str) -> int:
    """Set ledger_event_id where still empty, in chunks of one statement; returns rows changed."""
    changed = 0
    with connections[using].cursor() as cursor:
        for start in range(0, len(marks), 500):
            chunk = marks[start:start + 500]
            if connections[using].vendor == "postgresql":
                values = ", ".join(["(%s::bigint, %s::bigint)"] * len(chunk))
            else:
                values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                "UPDATE exchange_access SET ledger_event_id = v.event "  # noqa: S608 - placeholders only
                f"FROM (SELECT column1 AS id, column2 AS event FROM (VALUES {values}) AS pairs) AS v "
                "WHERE exchange_access.id = v.id AND exchange_access.ledger_event_id IS NULL",
                [number for pair in chunk for number in pair],
            )
            changed += cursor.rowcount
    return changed


def _forget_old_windows(using: str) -> None:
    """Rate windows older than two minutes are never read again."""
    RateWindow.objects.using(using).filter(minute__lt=int(time.time() // 60) - 2).delete()


# The sequencer calls its sources on every round, and under load a round follows the previous
# one at once: sealing a handful of accesses per round would pay the fixed costs of a round
# (queries, a signed checkpoint, a WAL checkpoint) for each handful. So the source seals at
# most once per SOURCE_INTERVAL; accesses wait at most that long (plus the round) for the ledger.
SOURCE_INTERVAL = 0.25
_last_round: dict[str, float] = {}


def _source(using: str) -> int:
    now = time.monotonic()
    if now - _last_round.get(using, float("-inf")) < SOURCE_INTERVAL:
        return 0
    _last_round[using] = now
    sealed = seal_pending(using=using)
    _checkpoint(using)
    return sealed


def _checkpoint(using: str) -> None:
    """SQLite: copy the WAL back into the database here, in the sequencer, between batches.

    Otherwise the request whose commit takes the WAL past ``wal_autocheckpoint`` pages does it
    (copying ~1,000 pages and syncing the file) while its client waits, and, inside its write
    turn, while every other writer waits too (``core.writeturns``; connections that take turns
    keep the automatic checkpoint only as a safety net, so this is the WAL's checkpoint).
    PASSIVE never blocks a writer; the next writer then starts the WAL over.
    """
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def register() -> None:
    """Let the ledger's sequencer seal pending accesses before each integration (idempotent)."""
    ledger.register_source(_source)

