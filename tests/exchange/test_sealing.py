"""Sealing the access log into the ledger: one entry per access, exactly once, subjects findable
by their keyed hash, and the ledger's sequencer draining the queue itself."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections

from tests.exchange.factories import person_row
from tests.exchange.factories_access import (
    _fresh_caches,  # noqa: F401 - autouse fixture
    consumer_env,
    id_number,
    load,
)
from tongban.exchange.models import Access
from tongban.exchange.services import access, sealing
from tongban.ledger import integrator
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


def entry(event: LedgerEvent) -> dict:
    return json.loads(bytes(event.entry))


def test_accesses_become_ledger_entries_findable_by_the_subject():
    env = consumer_env(items=["name", "phone"])
    access.query(env.clerk, env.code, id_number(1))
    access.verify(env.clerk, env.code, id_number(2), {"name": "张2"})
    with pytest.raises(Exception):  # noqa: B017 - any refusal: not found
        access.query(env.clerk, env.code, id_number(99))
    assert sealing.pending_count() == 3
    assert sealing.seal_pending() == 3
    assert sealing.pending_count() == 0
    result = ledger.integrate()
    assert result.integrated >= 3
    events = list(ledger.entries_for_subject(id_number(1)))
    assert len(events) == 1
    content = entry(events[0])
    query_row = Access.objects.get(mode="query", found=1)
    assert events[0].pk == query_row.ledger_event_id and events[0].index is not None
    assert content["action"] == "exchange.access" and content["department"] == "health"
    assert content["subject"] == f"resource:{env.code}" and content["actor"] == env.clerk.username
    assert content["subjects"] == [ledger.subject_hash(id_number(1))]
    payload = content["payload"]
    assert payload["mode"] == "query" and payload["items"] == ["name", "phone"] and payload["found"] == 1
    assert payload["grant"] == env.grant.pk and payload["purpose"] == env.grant.purpose
    assert payload["access"] == query_row.pk and payload["accessed_at"].endswith("Z")
    assert id_number(1) not in bytes(events[0].entry).decode()
    assert entry(ledger.entries_for_subject(id_number(99)).get())["payload"]["found"] == 0
    assert entry(ledger.entries_for_subject(id_number(2)).get())["payload"]["mode"] == "verify"


def test_sealing_is_exactly_once():
    env = consumer_env()
    for n in (1, 2, 3):
        access.query(env.clerk, env.code, id_number(n))
    assert sealing.seal_pending(limit=2) == 2
    assert sealing.seal_pending() == 1
    assert sealing.seal_pending() == 0
    assert LedgerEvent.objects.filter(action="exchange.access").count() == 3
    ids = list(Access.objects.values_list("ledger_event_id", flat=True))
    assert None not in ids and len(set(ids)) == 3


def test_a_second_sealer_never_seals_what_the_first_did():
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    row = Access.objects.get()
    # A stale view of the queue (as a concurrent sealer that read before the other committed):
    assert sealing._mark([(row.pk, 1)], "default") == 1
    assert sealing._mark([(row.pk, 2)], "default") == 0  # the conditional update refuses


def test_a_batch_raced_by_another_sealer_is_rolled_back_and_retried(monkeypatch):
    env = consumer_env()
    for n in (1, 2):
        access.query(env.clerk, env.code, id_number(n))
    first = Access.objects.order_by("id").first()
    real_build = sealing._build_all
    calls = []

    def build_then_race(accesses, using):
        built = real_build(accesses, using)
        if not calls:  # the other sealer seals the first access between our read and our write
            other = real_build([first], using)
            events = ledger.record_many(other[0])
            sealing._mark([(first.pk, events[0].pk)], using)
        calls.append(len(accesses))
        return built

    monkeypatch.setattr(sealing, "_build_all", build_then_race)
    sealed = sealing.seal_pending()
    if connection.vendor == "sqlite":  # the other sealer committed its one; ours retried with the rest
        assert sealed == 1 and calls == [2, 1]
    else:  # here the "other sealer" shared our transaction: all rolled back, then both sealed once
        assert sealed == 2 and calls == [2, 2]
    assert LedgerEvent.objects.filter(action="exchange.access").count() == 2  # one each, no duplicate
    assert sealing.pending_count() == 0


def test_a_large_lookup_is_split_into_parts_that_fit_the_ledger():
    env = consumer_env(records=0)
    load(env.code, [person_row(n) for n in range(1200)])
    access.lookup(env.clerk, env.code, [id_number(n) for n in range(1000)])
    assert sealing.seal_pending() == 1
    events = list(LedgerEvent.objects.filter(action="exchange.access").order_by("pk"))
    assert len(events) == 2
    contents = [entry(event) for event in events]
    assert [c["payload"]["part"] for c in contents] == [1, 2]
    assert all(c["payload"]["parts"] == 2 and c["payload"]["subject_count"] == 1000 for c in contents)
    assert sum(len(c["subjects"]) for c in contents) == 1000
    assert Access.objects.get().ledger_event_id == events[0].pk
    assert ledger.entries_for_subject(id_number(999)).count() == 1


def test_purpose_holding_an_identifier_is_redacted_not_stuck():
    env = consumer_env(purpose=f"核查 {id_number(5)} 的婚姻状况")
    access.query(env.clerk, env.code, id_number(1))
    assert sealing.seal_pending() == 1
    content = entry(ledger.entries_for_subject(id_number(1)).get())
    assert content["payload"]["purpose"] == sealing.REDACTED


def test_the_sequencer_drains_the_queue_when_registered():
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    sealing.register()
    try:
        result = ledger.integrate()
    finally:
        integrator.unregister_source(sealing._source)
    assert sealing.pending_count() == 0
    assert result.integrated >= 1
    assert ledger.entries_for_subject(id_number(1)).get().index is not None


def test_a_failing_source_does_not_stop_integration():
    def broken(using):
        raise RuntimeError("boom")

    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    integrator.register_source(broken)
    sealing.register()
    try:
        ledger.integrate()
    finally:
        integrator.unregister_source(broken)
        integrator.unregister_source(sealing._source)
    assert sealing.pending_count() == 0


def test_the_source_seals_at_most_once_per_interval():
    env = consumer_env()
    access.query(env.clerk, env.code, id_number(1))
    assert sealing._source("default") == 1
    access.query(env.clerk, env.code, id_number(2))
    assert sealing._source("default") == 0  # too soon: left for the next round
    assert sealing.pending_count() == 1
    sealing._last_round.clear()
    assert sealing._source("default") == 1


def _index_definitions(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                           "AND sql IS NOT NULL", [table])
        return dict(cursor.fetchall())


def test_the_queue_index_holds_only_the_pending_accesses():
    definition = _index_definitions("exchange_access")["exchange_access_pending"]
    assert "WHERE" in definition.upper() and "ledger_event_id IS NULL" in definition.replace('"', "")
    # ... and the sealer's read of the queue still finds the pending rows in id order through it.
    env = consumer_env()
    for n in (1, 2, 3):
        access.query(env.clerk, env.code, id_number(n))
    accessed = list(Access.objects.order_by("id").values_list("id", flat=True))
    assert [row.pk for row in sealing._pending(10, "default")] == accessed
    sealing.seal_pending()
    assert sealing._pending(10, "default") == []


def test_ledger_subjects_have_no_second_index_by_entry():
    columns = {name: info["columns"] for name, info in connection.introspection.get_constraints(
        connection.cursor(), "ledger_subject").items() if info["index"] or info["unique"]}
    assert ["event_id"] not in columns.values()
    assert ["event_id", "hash"] in columns.values()  # the unique pair serves lookups by entry


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the SQLite test database is in memory: one connection, nothing to race")
@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_seal_each_access_exactly_once():
    env = consumer_env(records=40)
    for n in range(1, 41):
        access.query(env.clerk, env.code, id_number(n))
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def seal() -> None:
        try:
            start.wait()
            while sealing.seal_pending(limit=5):
                pass
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    sealers = [threading.Thread(target=seal) for _ in range(3)]
    for sealer in sealers:
        sealer.start()
    for sealer in sealers:
        sealer.join()
    assert errors == []
    assert sealing.pending_count() == 0
    entries = [entry(event)["payload"]["access"] for event in LedgerEvent.objects.filter(action="exchange.access")]
    assert sorted(entries) == sorted(Access.objects.values_list("id", flat=True))  # one each, none twice
    assert len(set(Access.objects.values_list("ledger_event_id", flat=True))) == 40
