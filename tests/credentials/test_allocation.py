"""Status-list index allocation: concurrent first issues never create a list twice or share an index.

On PostgreSQL two threads (two connections) race for real; SQLite serialises writers (``BEGIN
IMMEDIATE``), so there the lost race is replayed deterministically: the competing list appears
between our look and our insert.
"""

from __future__ import annotations

import inspect
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from tests.credentials.factories import marriage_type, official
from tests.identity.factories import make_citizen, make_department
from tongban.credentials import services
from tongban.credentials.models import STATUS_LIST_SIZE, Credential, StatusListRow
from tongban.credentials.services import issuing

pytestmark = [pytest.mark.usefixtures("cred_env")]

postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                   reason="SQLite serialises writers; the race is replayed in the test below")


@pytest.mark.django_db
def test_lost_creation_race_is_retried(monkeypatch):
    real = issuing._new_list
    calls = []

    def competitor_first(purpose, list_id):
        calls.append((purpose, list_id))
        if len(calls) == 1:  # another issue creates list 1 (and takes index 0) just before we insert
            StatusListRow.objects.create(purpose=purpose, list_id=list_id, bits=bytes(STATUS_LIST_SIZE // 8),
                                         next_index=1)
        real(purpose, list_id)  # the same list number: IntegrityError, inside a savepoint

    monkeypatch.setattr(issuing, "_new_list", competitor_first)
    assert issuing._allocate("revocation") == (1, 1)
    assert StatusListRow.objects.filter(purpose="revocation").count() == 1
    assert issuing._allocate("revocation") == (1, 2)  # the transaction is still usable
    assert len(calls) == 1


@pytest.mark.django_db
def test_full_list_starts_the_next():
    StatusListRow.objects.create(purpose="suspension", list_id=1, bits=bytes(STATUS_LIST_SIZE // 8),
                                 next_index=STATUS_LIST_SIZE)
    assert issuing._allocate("suspension") == (2, 0)
    assert issuing._allocate("suspension") == (2, 1)


@pytest.mark.django_db
def test_one_credential_per_status_entry():
    civil = make_department("civil")
    marriage_type(civil)
    first = services.issue_credential(official("civil-clerk", civil), "marriage", make_citizen().id_number,
                                      {"spouse_name": "王五"})
    first.citizen = make_citizen()
    with pytest.raises(IntegrityError), transaction.atomic():
        Credential.objects.create(**{f.attname: getattr(first, f.attname) for f in Credential._meta.concrete_fields
                                     if f.attname != "id"})


def test_services_open_no_outer_transaction():
    """House rule: the caller holds the transaction; the only savepoint is the allocation retry."""
    from tongban.credentials.services import common, status, trust, verifying, wallet

    for module in (common, issuing, status, trust, verifying, wallet):
        uses = inspect.getsource(module).count("transaction.atomic")
        assert uses == (1 if module is issuing else 0), module.__name__
    assert "transaction.atomic" in inspect.getsource(issuing._new_list)


def _in_threads(count, work):
    barrier = threading.Barrier(count, timeout=10)
    results, errors = [None] * count, []

    def run(number):
        try:
            results[number] = work(number, barrier)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_first_issues_race_on_postgresql(monkeypatch):
    real = issuing._new_list

    def both_saw_no_list(purpose, list_id):  # both transactions looked, found no list, and now both create it
        barrier.wait()
        real(purpose, list_id)

    barrier = None

    def work(number, thread_barrier):
        nonlocal barrier
        barrier = thread_barrier
        with transaction.atomic():
            return issuing._allocate("revocation")

    monkeypatch.setattr(issuing, "_new_list", both_saw_no_list)
    results = _in_threads(2, work)
    assert sorted(results) == [(1, 0), (1, 1)]
    assert StatusListRow.objects.filter(purpose="revocation").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_get_distinct_indexes_on_postgresql():
    civil = make_department("civil")
    marriage_type(civil, multiple_allowed=True)
    clerk = official("civil-clerk", civil)
    holders = [make_citizen().id_number for _ in range(4)]

    def work(number, barrier):
        barrier.wait()
        issued = []
        for _ in range(5):
            with transaction.atomic():
                issued.append(services.issue_credential(clerk, "marriage", holders[number], {"spouse_name": "王五"}).pk)
        return issued

    _in_threads(4, work)
    rows = list(Credential.objects.values_list("revocation_list", "revocation_index", "suspension_list",
                                               "suspension_index"))
    assert len(rows) == 20
    assert len({(r[0], r[1]) for r in rows}) == 20 and len({(r[2], r[3]) for r in rows}) == 20
    assert StatusListRow.objects.count() == 2
    assert StatusListRow.objects.get(purpose="revocation").next_index == 20
