"""SQLite: the consuming hot path's access rows, queued in a file of their own.

On SQLite, a consuming request that logged its ``Access`` row in the main database paid three
times for it:

* the insert touched the table, its four indexes and AUTOINCREMENT's counter: six pages, each
  written whole to the WAL at the commit;
* in WAL mode a connection drops its page cache whenever the database changed since its last
  read, so every other worker re-read, on its next request, the B-tree pages of the record it
  fetched (~150 µs a request);
* it waited for its turn at the main database's write lock behind the sequencer's batches.

So a request that logs one subject outside any transaction, with no rate-limit counter to write
(served from its process's lease, see ``access_log``), appends its row to ``<database>-accesses``
instead: a SQLite file beside the database holding one table without secondary indexes. The row
commits there in a short ``BEGIN IMMEDIATE`` transaction before the answer goes out (WAL,
``synchronous=NORMAL``: as durable as the main database), under the file's own turns
(``core.writeturns.file_turn``). Every other access (several subjects, a counter to write,
inside a transaction, PostgreSQL, an in-memory database) is written to ``Access`` directly.

``drain`` (called by ``sealing.seal_pending``, so by the ledger's sequencer every round) moves
queued rows into ``Access`` in batches, each in ONE main-database transaction that also
advances the queue's ``AccessQueueMark``; only then are they deleted from the file. A row is
moved exactly once: a drainer that crashes after its commit leaves rows at or below the mark,
which are skipped and deleted next time. The newest moved row is never deleted, so SQLite's
next rowid stays above the mark; and the mark is kept per queue-file identity (a random token
written when the file is made), so a queue file made anew (a restore into a fresh data dir)
starts from zero instead of being skipped.

Queued rows reach ``Access`` (and so "my data" and the statistics) within a sequencer round:
``SOURCE_INTERVAL`` and the round, about a second at most. ``backlog`` counts what waits.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from tongban.core.writeturns import AUTOCHECKPOINT_PAGES, database_file, file_turn, write_turn

SUFFIX = "-accesses"
DRAIN_BATCH = 500  # rows per main transaction: keeps each hold of the main write lock short

COLUMNS = ("at", "grant_id", "resource_code", "consumer_code", "actor", "mode", "items", "purpose",
           "subject_hash", "subject_count", "found")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS access_queue (id INTEGER PRIMARY KEY, at TEXT NOT NULL, grant_id INTEGER, "
    "resource_code TEXT NOT NULL, consumer_code TEXT NOT NULL, actor TEXT NOT NULL, mode TEXT NOT NULL, "
    "items TEXT NOT NULL, purpose TEXT NOT NULL, subject_hash TEXT NOT NULL, subject_count INTEGER NOT NULL, "
    "found INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS queue_identity (id INTEGER PRIMARY KEY CHECK (id = 1), token TEXT NOT NULL)",
    "INSERT OR IGNORE INTO queue_identity (id, token) VALUES (1, lower(hex(randomblob(16))))",
)
_ENQUEUE = (f"INSERT INTO access_queue ({', '.join(COLUMNS)}) "  # noqa: S608 - constant
            f"VALUES ({', '.join('?' * len(COLUMNS))}) RETURNING id")
_SELECT = f"SELECT id, {', '.join(COLUMNS)} FROM access_queue WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
_MARK = "SELECT moved_through FROM exchange_accessqueuemark WHERE queue = %s"
_SET_MARK = ("INSERT INTO exchange_accessqueuemark (queue, moved_through) VALUES (%s, %s) "
             "ON CONFLICT (queue) DO UPDATE SET moved_through = excluded.moved_through")


def queue_path(connection) -> str | None:
    """The queue file of ``connection``'s database, or None where accesses go to ``Access``
    directly (PostgreSQL, an in-memory SQLite database)."""
    name = database_file(connection)
    return None if name is None else name + SUFFIX


# --- this thread's connection to a queue file ----------------------------------------------------------

_local = threading.local()


def _forget_after_fork() -> None:
    global _local
    _local = threading.local()  # the parent's connections are not the child's to use


os.register_at_fork(after_in_child=_forget_after_fork)


def _open(path: str) -> tuple[sqlite3.Connection, str]:
    """This thread's connection to the queue file (made on first use) and the file's identity."""
    opened = getattr(_local, "queues", None)
    if opened is None:
        opened = _local.queues = {}
    found = opened.get(path)
    if found is not None:
        return found
    # Opened under the file's turn: the first opener switches the new file to WAL (which needs
    # it to itself: two threads doing so at once got "database is locked") and makes the schema.
    with file_turn(path):
        # Readable by the platform's own user only (SQLite gives its -wal and -shm files the same
        # mode): it names who read whose record.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        queue = sqlite3.connect(path, isolation_level=None, timeout=20, check_same_thread=True)
        try:
            queue.execute("PRAGMA journal_mode=WAL")
            queue.execute("PRAGMA synchronous=NORMAL")
            # The sequencer checkpoints the file after draining it (``drain``), outside any turn.
            queue.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
            queue.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    queue.execute(statement)
                queue.execute("COMMIT")
            except BaseException:
                queue.execute("ROLLBACK")
                raise
            (token,) = queue.execute("SELECT token FROM queue_identity WHERE id = 1").fetchone()
        except BaseException:
            queue.close()
            raise
    opened[path] = (queue, token)
    return queue, token


def close_all() -> None:
    """Close this thread's queue connections (tests that remove the files)."""
    for queue, _token in getattr(_local, "queues", {}).values():
        queue.close()
    _local.queues = {}


# --- the hot path -----------------------------------------------------------------------------------------


def enqueue(path: str, values: list) -> int:
    """Append one access row (``COLUMNS`` order, as ``Access`` stores them); committed on return.
    Returns its queue id (not the ``Access`` id, which it gets when moved)."""
    queue, _token = _open(path)
    with file_turn(path):
        queue.execute("BEGIN IMMEDIATE")
        try:
            (queued,) = queue.execute(_ENQUEUE, values).fetchone()
            queue.execute("COMMIT")
        except BaseException:
            if queue.in_transaction:
                queue.execute("ROLLBACK")
            raise
    return queued


# --- the sequencer's side ---------------------------------------------------------------------------------


def _moved_through(cursor, token: str) -> int:
    cursor.execute(_MARK, [token])
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def backlog(using: str = DEFAULT_DB_ALIAS) -> int:
    """Queued rows not yet moved into ``Access``."""
    path = queue_path(connections[using])
    if path is None or not os.path.exists(path):
        return 0
    queue, token = _open(path)
    mark = _moved_through_now(connections[using], token)
    return queue.execute("SELECT count(*) FROM access_queue WHERE id > ?", (mark,)).fetchone()[0]


def drain(using: str = DEFAULT_DB_ALIAS, limit: int = 20_000) -> int:
    """Move up to ``limit`` queued rows into ``Access``, oldest first; returns how many."""
    connection = connections[using]
    path = queue_path(connection)
    if path is None or not os.path.exists(path):
        return 0
    queue, token = _open(path)
    # Inside a caller's transaction the move may yet be rolled back: the rows then stay in the
    # file (the mark alone keeps them from being moved twice) until a drain outside one.
    prune = not connection.in_atomic_block
    moved, mark = 0, _moved_through_now(connection, token)
    while moved < limit:
        rows = queue.execute(_SELECT, (mark, min(DRAIN_BATCH, limit - moved))).fetchall()
        if not rows:
            break
        if _move(connection, token, mark, rows):
            moved += len(rows)
            mark = rows[-1][0]
        else:  # another drainer moved them meanwhile: go on from its mark
            mark = _moved_through_now(connection, token)
    if prune:
        _prune(path, queue, mark)
    return moved


def _moved_through_now(connection, token: str) -> int:
    with connection.cursor() as cursor:
        return _moved_through(cursor, token)


def _prune(path: str, queue: sqlite3.Connection, mark: int) -> None:
    """Delete the moved rows but the newest (SQLite's next rowid must stay above the mark)."""
    if queue.execute("SELECT 1 FROM access_queue WHERE id < ? LIMIT 1", (mark,)).fetchone() is None:
        return
    with file_turn(path):
        queue.execute("DELETE FROM access_queue WHERE id < ?", (mark,))
    queue.execute("PRAGMA wal_checkpoint(PASSIVE)")  # here, not in a request's turn


def _move(connection, token: str, mark: int, rows: list[tuple]) -> bool:
    """One batch into ``Access`` with the mark, in one transaction; False if the mark moved."""
    values = ", ".join([f"({', '.join(['%s'] * len(COLUMNS))})"] * len(rows))
    params = [value for row in rows for value in row[1:]]
    grant_at = COLUMNS.index("grant_id")
    grants = {row[1 + grant_at] for row in rows} - {None}
    with write_turn(connection), transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if _moved_through(cursor, token) != mark:
            return False
        if grants:
            # A grant is never deleted (PROTECT); should one be gone all the same, its accesses
            # are moved without it rather than blocking the queue on the foreign key.
            cursor.execute(f"SELECT id FROM exchange_grant WHERE id IN ({', '.join(['%s'] * len(grants))})",  # noqa: S608
                           list(grants))
            missing = grants - {row[0] for row in cursor.fetchall()}
            if missing:
                width = len(COLUMNS)
                for offset in range(grant_at, len(params), width):
                    if params[offset] in missing:
                        params[offset] = None
        cursor.execute(f"INSERT INTO exchange_access ({', '.join(COLUMNS)}) VALUES {values}", params)  # noqa: S608
        cursor.execute(_SET_MARK, [token, rows[-1][0]])
    return True
