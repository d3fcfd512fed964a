"""Turns at SQLite's write lock (``core.writeturns``): one writer at a time among those that take
them, across processes and threads, handed over as soon as the holder lets go; nothing to do
where no turns are needed."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper

from tongban.core import writeturns
from tongban.core.writeturns import write_turn

FORK = multiprocessing.get_context("fork")


def _sqlite_file(path) -> DatabaseWrapper:
    """A connection to an SQLite file database, as a deployment has (the tests' own is in memory)."""
    settings = {
        "ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {}, "TIME_ZONE": None,
        "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False, "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False,
        "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "TEST": {},
    }
    return DatabaseWrapper(settings, alias="turns-test")


@pytest.fixture
def database(tmp_path, django_db_blocker):
    wrapper = _sqlite_file(tmp_path / "tongban.sqlite3")
    with django_db_blocker.unblock():
        yield wrapper
        wrapper.close()


def _hold_turn(name: str, held, release, seen_free) -> None:
    """In another process: take the turn, say so, keep it until told, then note the time."""
    wrapper = _sqlite_file(name)
    with write_turn(wrapper):
        held.set()
        release.wait(10)
        seen_free.value = time.monotonic()


def _other_process_holding(database):
    held, release = FORK.Event(), FORK.Event()
    seen_free = FORK.Value("d", 0.0)
    process = FORK.Process(target=_hold_turn, args=(database.settings_dict["NAME"], held, release, seen_free))
    process.start()
    assert held.wait(10), "the other process never got its turn"
    return process, release, seen_free


def test_no_turns_where_none_are_needed(db):
    # The tests' default database is SQLite in memory, or PostgreSQL: both always grant.
    assert writeturns.lock_path(connection) is None
    with write_turn(connection) as held, write_turn(connection, wait=False) as again:
        assert held is True and again is True


def test_a_file_database_has_its_turn_file_beside_it(database, tmp_path):
    assert writeturns.lock_path(database) == str(tmp_path / "tongban.sqlite3") + writeturns.SUFFIX


def test_another_process_holding_the_turn_refuses_a_try_and_hands_over_on_release(database):
    process, release, seen_free = _other_process_holding(database)
    try:
        with write_turn(database, wait=False) as held:
            assert held is False
        timer = threading.Timer(0.3, release.set)
        timer.start()
        with write_turn(database) as held:
            got_it = time.monotonic()
            assert held is True
    finally:
        release.set()
        process.join(10)
    assert process.exitcode == 0
    # Handed over by the kernel, not found by a later poll: well within a few milliseconds.
    assert 0 <= got_it - seen_free.value < 0.05


def test_a_forked_child_does_not_share_its_parents_turn(database):
    # An flock belongs to the open file: a child using the parent's would be granted the
    # parent's turn. The child opens its own.
    with write_turn(database):
        outcome = FORK.Queue()

        def child():
            with write_turn(database, wait=False) as held:
                outcome.put(held)

        process = FORK.Process(target=child)
        process.start()
        assert outcome.get(timeout=10) is False
        process.join(10)


def test_threads_of_one_process_take_turns(database):
    inside, peak, lock = [0], [0], threading.Lock()

    def writer():
        for _ in range(50):
            with write_turn(database):
                with lock:
                    inside[0] += 1
                    peak[0] = max(peak[0], inside[0])
                time.sleep(0.0002)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert peak[0] == 1


def test_a_thread_holding_the_turn_may_take_it_again(database):
    with write_turn(database) as outer:
        with write_turn(database, wait=False) as inner:
            assert outer and inner
        # still held after the inner block: another process is refused
        outcome = FORK.Queue()
        process = FORK.Process(target=lambda: outcome.put(write_turn(database, wait=False).__enter__()))
        process.start()
        assert outcome.get(timeout=10) is False
        process.join(10)
    with write_turn(database, wait=False) as again:
        assert again is True


def test_the_automatic_checkpoint_is_only_a_safety_net_on_turn_connections(database):
    # SQLite's automatic checkpoint runs in the committing connection after its commit; inside
    # a turn it would hold every waiting writer up. The sequencer checkpoints instead.
    database.ensure_connection()
    assert database.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    with write_turn(database):
        pass
    assert database.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == writeturns.AUTOCHECKPOINT_PAGES


def test_a_file_outside_django_has_turns_of_its_own(tmp_path):
    # The exchange's access queue file: its own turn file, not the main database's.
    queue = str(tmp_path / "tongban.sqlite3-accesses")
    with writeturns.file_turn(queue) as held:
        assert held is True
        assert (tmp_path / ("tongban.sqlite3-accesses" + writeturns.SUFFIX)).exists()
        outcome = FORK.Queue()
        process = FORK.Process(target=lambda: outcome.put(writeturns.file_turn(queue, wait=False).__enter__()))
        process.start()
        assert outcome.get(timeout=10) is False  # another process is refused while this one holds it
        process.join(10)
    with writeturns.file_turn(queue, wait=False) as again:
        assert again is True
