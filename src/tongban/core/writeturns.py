"""Turns at SQLite's write lock, handed from one writer to the next by the kernel.

SQLite has one write lock per database, and a writer that finds it taken cannot wait on it: it
retries. SQLite's busy handler sleeps 1, 2, 5, 10, … ms between tries; the exchange's hot path
used to poll every 0.5 ms instead. Either way the writer sleeps on after the lock is free.
Measured (bench_exchange, SQLite, two workers, sequencer running, polling): 17.5 % of consuming
requests found the lock taken, and the average request slept 185 µs for it, about 16 % of a
worker's time, while the lock was free most of that time.

So the frequent writers (each consuming request's access row, the ledger's sequencer) first
take a turn: an exclusive ``flock`` on a file beside the database. A writer waiting for its
turn sleeps in the kernel and is woken the moment the previous one lets go. Turns only order
the writers that take them; correctness never depends on them. Every other writer (an ordinary
Django request that saves something) goes straight to SQLite's lock, and a writer holding a
turn still begins its transaction with ``BEGIN IMMEDIATE`` and meets such writers there.

A turn must end when the commit does, not after SQLite's automatic WAL checkpoint, which the
committing connection runs after its commit once the WAL holds ``wal_autocheckpoint`` pages
(1,000 by default: every ~150 consuming requests, or a sealed batch). It takes milliseconds
(pages copied back, the file synced) and blocks no writer at SQLite's lock, but it would block
every writer waiting for a turn. So a connection that takes turns raises its automatic
checkpoint to ``AUTOCHECKPOINT_PAGES``, a safety net: the ledger's sequencer, which runs beside
every deployment (``tongban ledger integrate --follow``), copies the WAL back (``PASSIVE``:
waiting for nobody) between its rounds, outside any turn.

PostgreSQL, in-memory SQLite databases (the test run's default) and other backends need no
turns: ``write_turn`` is then a no-op that always grants.
"""

from __future__ import annotations

import fcntl
import os
import threading

from django.utils.connection import ConnectionProxy

SUFFIX = "-writers"
AUTOCHECKPOINT_PAGES = 10_000  # ~40 MB of WAL, reached only if the sequencer is not running


class _Turns:
    """One lock file per database per process; a thread lock orders threads of one process
    (an ``flock`` taken twice through one open file is granted twice)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.threads = threading.RLock()
        self.fd = -1
        self.depth = 0  # nested turns of the thread holding ``threads``

    def file(self) -> int:
        if self.fd < 0:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self.fd

    def forget_parent(self) -> None:
        """In a forked child: the parent's open file (an flock belongs to it, so the child
        would share the parent's turn) and its thread lock and depth are not the child's."""
        if self.fd >= 0:
            os.close(self.fd)  # the parent's turn, if held, stays held: it is the parent's
        self.fd = -1
        self.threads = threading.RLock()
        self.depth = 0


_turns: dict[str, _Turns | None] = {}  # database NAME -> its turns (None: needs none)
_registry_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for turns in _turns.values():
        if turns is not None:
            turns.forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


def database_file(connection) -> str | None:
    """``connection``'s SQLite database file, or None (another backend, or in memory)."""
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name:
        return None
    return name


def lock_path(connection) -> str | None:
    """The turn file of ``connection``'s database, or None when it needs no turns."""
    name = database_file(connection)
    return None if name is None else name + SUFFIX


def _turns_for(connection) -> _Turns | None:
    name = connection.settings_dict.get("NAME")
    try:
        return _turns[name]
    except (KeyError, TypeError):
        return _register(name, lock_path(connection))


def _file_turns(path: str) -> _Turns:
    try:
        return _turns[path]
    except KeyError:
        return _register(path, path + SUFFIX)


def _register(name, path: str | None) -> _Turns | None:
    with _registry_lock:
        turns = _turns.get(name) if path else None
        if path and turns is None:
            turns = _Turns(path)
        if isinstance(name, str):
            _turns[name] = turns
    return turns


class write_turn:  # noqa: N801 - used like a function: ``with write_turn(connection) as held:``
    """Hold this process's turn at ``connection``'s write lock for the block.

    ``as`` gives True once the turn is held (or when none is needed). ``wait=False`` gives
    False at once when another writer holds the turn; the block then should not write.
    Re-entrant within a thread. (A class, not a generator: this runs on every consuming
    request.)
    """

    __slots__ = ("connection", "wait", "turns", "held")

    def __init__(self, connection, *, wait: bool = True) -> None:
        if isinstance(connection, ConnectionProxy):  # each attribute of the proxy costs a lookup
            connection = connection._connections[connection._alias]
        self.connection = connection
        self.wait = wait
        self.turns = _turns_for(connection) if connection.vendor == "sqlite" else None
        self.held = False

    def __enter__(self) -> bool:
        turns = self.turns
        if turns is None:
            return True
        if not turns.threads.acquire(blocking=self.wait):
            return False
        if turns.depth:  # this thread already holds the turn
            turns.depth += 1
            self.held = True
            return True
        try:
            fcntl.flock(turns.file(), fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            turns.threads.release()
            return False
        except BaseException:
            turns.threads.release()
            raise
        turns.depth = 1
        self.held = True
        try:
            _own_checkpoints(self.connection)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return True

    def __exit__(self, *exc_info) -> None:
        if not self.held:
            return
        self.held = False
        turns = self.turns
        turns.depth -= 1
        if not turns.depth:
            fcntl.flock(turns.fd, fcntl.LOCK_UN)
        turns.threads.release()


class file_turn(write_turn):  # noqa: N801
    """The same turns for an SQLite file that Django does not manage (its turn file is
    ``path + SUFFIX``); the caller's connection to it keeps its automatic checkpoint as a safety
    net itself (``AUTOCHECKPOINT_PAGES``)."""

    __slots__ = ()

    def __init__(self, path: str, *, wait: bool = True) -> None:
        self.connection = None
        self.wait = wait
        self.turns = _file_turns(path)
        self.held = False


def _own_checkpoints(connection) -> None:
    """Once per SQLite connection: the automatic checkpoint only as a safety net."""
    if connection is None:  # a file_turn: its owner set this up
        return
    raw = connection.connection
    if raw is not None and getattr(connection, "_turns_raw", None) is not raw:
        raw.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        connection._turns_raw = raw
