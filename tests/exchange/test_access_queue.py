"""SQLite's access queue (``services.access_queue``): the hot path's access rows appended to a
file of their own, then moved into ``Access`` exactly once, before sealing, before a backup, and
never lost: not by a crash between the move and the pruning, nor a rolled-back move, nor a queue
file made anew.

The suite's SQLite database is in memory, where no queue is used; these tests point the queue at
a file of their own (``queue_file``). The moving itself runs on both databases."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest
from django.db import connection, transaction

from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
)
from tongban.exchange.models import Access
from tongban.exchange.services import access, access_queue, sealing
from tongban.ledger import services as ledger


@pytest.fixture
def queue_file(tmp_path, monkeypatch):
    path = str(tmp_path / "tongban.sqlite3-accesses")
    monkeypatch.setattr(access_queue, "queue_path", lambda _connection: path)
    yield path
    access_queue.close_all()


def row(n: int, grant_id: int | None = None) -> list:
    """One queued access, in ``COLUMNS`` order (as the hot path writes it)."""
    return ["2026-11-23 10:00:00", grant_id, "civil-00001", "health", "clerk", "query", '["name"]', "核查",
            f"{n:064x}", 1, 1]


def queued_rows(path: str) -> list[int]:
    queue, _token = access_queue._open(path)
    return [n for (n,) in queue.execute("SELECT id FROM access_queue ORDER BY id")]


def moved_hashes() -> list[str]:
    return sorted(Access.objects.values_list("subject_hash", flat=True))


def test_no_queue_in_memory_or_on_postgresql(db):
    assert access_queue.queue_path(connection) is None
    assert access_queue.drain() == 0 and access_queue.backlog() == 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the queue is SQLite's; PostgreSQL logs in place")
@pytest.mark.django_db(transaction=True)
def test_hot_path_queries_are_queued_then_moved_and_sealed(queue_file):
    env = consumer_env(records=5, rate=1_200_000)  # leases of 1,000: one counter write, then none
    now = time.time()  # one moment for all five: a minute turning over would take a second lease
    for n in range(1, 6):
        access.query(env.clerk, env.code, id_number(n), now=now)
    # The first request wrote the counter, so it logged in place; the four after it were queued.
    assert Access.objects.count() == 1
    assert access_queue.backlog() == 4 and sealing.pending_count() == 5
    assert sealing.seal_pending() == 5
    assert access_queue.backlog() == 0 and sealing.pending_count() == 0
    rows = list(Access.objects.order_by("id").values("grant_id", "consumer_code", "actor", "mode", "items",
                                                     "purpose", "subject_hash", "subject_count", "found"))
    assert [r["subject_hash"] for r in rows] == [ledger.subject_hash(id_number(n)) for n in range(1, 6)]
    for moved in rows[1:]:  # a queued row reads back exactly like the one logged in place
        assert {k: v for k, v in moved.items() if k != "subject_hash"} == \
            {k: v for k, v in rows[0].items() if k != "subject_hash"}
    assert rows[0]["grant_id"] == env.grant.pk and rows[0]["items"] == env.grant.items
    ledger.integrate()
    for n in range(1, 6):
        assert ledger.entries_for_subject(id_number(n)).count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the queue is SQLite's; PostgreSQL logs in place")
@pytest.mark.django_db(transaction=True)
def test_a_request_that_counts_logs_in_place(queue_file):
    env = consumer_env(records=2, rate=600)  # under 1,200 a minute every request writes the counter
    access.query(env.clerk, env.code, id_number(1))
    access.query(env.clerk, env.code, id_number(2))
    assert Access.objects.count() == 2 and access_queue.backlog() == 0


def test_the_queue_file_is_private_to_the_platform(queue_file):
    access_queue.enqueue(queue_file, row(1))
    for suffix in ("", "-wal", "-shm"):
        assert os.stat(queue_file + suffix).st_mode & 0o077 == 0, suffix


@pytest.mark.django_db(transaction=True)
def test_moved_exactly_once_even_after_a_crash_between_move_and_prune(queue_file):
    for n in range(3):
        access_queue.enqueue(queue_file, row(n))
    queue, token = access_queue._open(queue_file)
    rows = queue.execute(access_queue._SELECT, (0, 10)).fetchall()
    assert access_queue._move(connection, token, 0, rows)  # committed; the drainer dies before pruning
    assert len(queued_rows(queue_file)) == 3
    assert access_queue.drain() == 0  # nothing moved twice
    assert moved_hashes() == [f"{n:064x}" for n in range(3)]
    assert queued_rows(queue_file) == [3]  # pruned, the newest kept so that the next id stays above it
    assert access_queue._move(connection, token, 0, rows) is False  # a stale drainer's batch is refused


@pytest.mark.django_db(transaction=True)
def test_rows_queued_after_a_drain_are_moved_and_ids_never_come_round_again(queue_file):
    first = [access_queue.enqueue(queue_file, row(n)) for n in range(2)]
    assert access_queue.drain() == 2
    later = access_queue.enqueue(queue_file, row(2))
    assert later > max(first)
    assert access_queue.backlog() == 1 and access_queue.drain() == 1
    assert moved_hashes() == [f"{n:064x}" for n in range(3)]


@pytest.mark.django_db(transaction=True)
def test_a_queue_file_made_anew_starts_from_nothing(queue_file):
    for n in range(3):
        access_queue.enqueue(queue_file, row(n))
    assert access_queue.drain() == 3
    access_queue.close_all()
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(queue_file + suffix)
    assert access_queue.enqueue(queue_file, row(3)) == 1  # ids start again in the new file
    assert access_queue.drain() == 1  # not skipped for being under the old file's mark
    assert moved_hashes() == [f"{n:064x}" for n in range(4)]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_move_leaves_the_rows_queued(queue_file):
    for n in range(2):
        access_queue.enqueue(queue_file, row(n))
    with pytest.raises(RuntimeError), transaction.atomic():
        assert access_queue.drain() == 2
        raise RuntimeError("the caller's transaction fails after the move")
    assert Access.objects.count() == 0 and access_queue.backlog() == 2
    assert access_queue.drain() == 2 and access_queue.drain() == 0
    assert moved_hashes() == [f"{n:064x}" for n in range(2)]


@pytest.mark.django_db(transaction=True)
def test_an_access_whose_grant_is_gone_is_moved_without_it(queue_file):
    env = consumer_env(records=1)
    access_queue.enqueue(queue_file, row(1, grant_id=env.grant.pk))
    access_queue.enqueue(queue_file, row(2, grant_id=987_654_321))
    assert access_queue.drain() == 2  # the queue is not blocked on the foreign key
    assert dict(Access.objects.values_list("subject_hash", "grant_id")) == {
        f"{1:064x}": env.grant.pk, f"{2:064x}": None}


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_and_a_drainer_lose_nothing_and_move_nothing_twice(queue_file):
    per_thread, threads = 150, 4
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def requests(first: int) -> None:
        try:
            start.wait()
            for n in range(first, first + per_thread):
                access_queue.enqueue(queue_file, row(n))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            access_queue.close_all()

    workers = [threading.Thread(target=requests, args=(t * per_thread,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(worker.is_alive() for worker in workers):
        access_queue.drain()
    for worker in workers:
        worker.join()
    access_queue.drain()
    assert errors == []
    assert moved_hashes() == sorted(f"{n:064x}" for n in range(threads * per_thread))
    assert access_queue.backlog() == 0


def test_workers_opening_a_new_queue_file_at_the_same_moment_all_get_in(tmp_path):
    # Every worker's first request after a start opens the file; the first one switches it to WAL,
    # which it must have to itself (before openings took the file's turn, one in ~13 such races
    # failed with "database is locked" on a loaded machine).
    for attempt in range(10):
        path = str(tmp_path / f"{attempt}-accesses")
        start, errors = threading.Barrier(8), []

        def first_request(n: int, path: str = path, start: threading.Barrier = start, errors: list = errors) -> None:
            try:
                start.wait()
                access_queue.enqueue(path, row(n))
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
            finally:
                access_queue.close_all()

        threads = [threading.Thread(target=first_request, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(queued_rows(path)) == 8
    access_queue.close_all()
