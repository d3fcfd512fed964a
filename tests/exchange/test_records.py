"""Records (归集) service: validation of every row, atomic batches, upsert with history, change
sequence numbers, authorization, the ledger entry and the webhook hook."""

from __future__ import annotations

import hashlib
import json
import sys
import types

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.exchange.factories import (
    enterprise_resource,
    enterprise_row,
    id_number,
    official,
    person_resource,
    person_row,
    steward,
)
from tongban.core.errors import InvalidInput, PermissionDenied
from tongban.exchange.models import Batch, Record, RecordVersion, ResourceState
from tongban.exchange.services import records
from tongban.identity.access import Actor
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


def load(actor, code, rows, **kwargs):
    with transaction.atomic():
        return records.load_records(actor, code, rows, **kwargs)


def rejected(actor, code, rows) -> dict:
    with pytest.raises(InvalidInput) as caught:
        load(actor, code, rows)
    assert caught.value.code == "invalid_records", caught.value.code
    return caught.value.details


def snapshot(code: str) -> tuple:
    state = ResourceState.objects.filter(resource_code=code).values_list("last_seq", "record_count",
                                                                        "last_loaded_at").first()
    return (Record.objects.count(), list(Record.objects.order_by("pk").values_list("subject", "data", "seq")),
            RecordVersion.objects.count(), Batch.objects.count(), state,
            LedgerEvent.objects.filter(action=records.LOADED).count())


def entry_payload(batch: Batch) -> dict:
    event = LedgerEvent.objects.filter(action=records.LOADED).order_by("-id").first()
    entry = json.loads(bytes(event.entry))
    assert entry["payload"]["batch"] == batch.pk
    return entry


@pytest.fixture
def civil():
    return person_resource("civil"), steward("civil")


def test_a_good_batch_is_loaded_with_its_history_and_ledger_entry(civil):
    resource, actor = civil
    rows = [person_row(1), person_row(2, sex="2", phone=None), person_row(3, registered_on=None)]
    batch = load(actor, resource.code, iter(rows))

    assert (batch.rows, batch.inserted, batch.updated, batch.unchanged) == (3, 3, 0, 0)
    assert (batch.first_seq, batch.last_seq, batch.channel, batch.loaded_by) == (1, 3, "api", actor.username)
    assert batch.department_id == resource.department_id
    stored = {r.subject: r for r in Record.objects.filter(resource_code=resource.code)}
    assert set(stored) == {id_number(1), id_number(2), id_number(3)}
    second = stored[id_number(2)]
    assert second.data["phone"] is None and second.data["sex"] == "2" and second.batch_id == batch.pk
    assert set(second.data) == {"id_number", "name", "sex", "phone", "address", "marital_status", "registered_on"}
    assert sorted(RecordVersion.objects.values_list("seq", flat=True)) == [1, 2, 3]
    state = ResourceState.objects.get(resource_code=resource.code)
    assert (state.last_seq, state.record_count, state.department_id) == (3, 3, resource.department_id)
    assert state.last_loaded_at is not None

    # The documented hash recipe, recomputed from the stored (normalised) rows in input order.
    digest = hashlib.sha256()
    for row in rows:
        data = stored[row["id_number"]].data
        digest.update(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    assert batch.sha256 == digest.hexdigest()

    entry = entry_payload(batch)
    assert entry["action"] == "exchange.records_loaded" and entry["subject"] == f"resource:{resource.code}"
    assert entry["department"] == "civil" and entry["actor"] == actor.username
    assert entry["payload"] == {"batch": batch.pk, "channel": "api", "rows": 3, "inserted": 3, "updated": 0,
                                "unchanged": 0, "sha256": batch.sha256, "first_seq": 1, "last_seq": 3}
    assert id_number(1) not in bytes(LedgerEvent.objects.get(action=records.LOADED).entry).decode()


def test_upsert_counts_changes_and_keeps_history_with_contiguous_sequence(civil):
    resource, actor = civil
    first = load(actor, resource.code, [person_row(1), person_row(2), person_row(3)])
    # Normalisation: the same data written differently is unchanged (phone with +86 and spaces,
    # ID number with a lower-case check character, surrounding blanks).
    same = person_row(1, phone=f"+86 {person_row(1)['phone']}", name=f"  {person_row(1)['name']} ")
    second = load(actor, resource.code, [same, person_row(2, marital_status="21"), person_row(4), person_row(5)],
                  channel="csv")

    assert (second.rows, second.inserted, second.updated, second.unchanged) == (4, 2, 1, 1)
    assert (first.first_seq, first.last_seq, second.first_seq, second.last_seq) == (1, 3, 4, 6)
    assert second.channel == "csv"
    changed = Record.objects.get(resource_code=resource.code, subject=id_number(2))
    assert changed.data["marital_status"] == "21" and changed.seq == 4 and changed.batch_id == second.pk
    untouched = Record.objects.get(resource_code=resource.code, subject=id_number(1))
    assert untouched.seq == 1 and untouched.batch_id == first.pk
    history = list(RecordVersion.objects.filter(subject=id_number(2)).order_by("seq").values_list("seq", "data"))
    assert [seq for seq, _ in history] == [2, 4]
    assert [data["marital_status"] for _, data in history] == ["20", "21"]
    assert list(RecordVersion.objects.filter(resource_code=resource.code).order_by("seq")
                .values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6]
    state = ResourceState.objects.get(resource_code=resource.code)
    assert (state.last_seq, state.record_count) == (6, 5)

    third = load(actor, resource.code, [person_row(1), person_row(4)])
    assert (third.inserted, third.updated, third.unchanged, third.first_seq, third.last_seq) == (0, 0, 2, None, None)
    assert ResourceState.objects.get(resource_code=resource.code).last_seq == 6
    assert LedgerEvent.objects.filter(action=records.LOADED).count() == 3


def test_three_bad_rows_among_good_ones_are_all_listed_and_nothing_is_written(civil):
    resource, actor = civil
    load(actor, resource.code, [person_row(n) for n in range(1, 4)])
    before = snapshot(resource.code)
    bad = {
        1500: person_row(1500, id_number=id_number(1500)[:17] + ("0" if id_number(1500)[17] != "0" else "1")),
        1800: person_row(1800, marital_status="99"),
        2400: {**person_row(2400), "favourite_colour": "blue"},
    }

    def rows():  # 2,500 rows: the first chunks are written before the first bad row, then undone
        for n in range(1, 2501):
            yield bad.get(n) or person_row(10_000 + n, name=f"王{n}")

    with CaptureQueriesContext(connection) as queries:
        details = rejected(actor, resource.code, rows())
    assert any("INSERT INTO" in q["sql"] and "exchange_record" in q["sql"] for q in queries.captured_queries)
    assert details["errors"] == [
        {"row": 1500, "item": "id_number", "code": "invalid_id_number", "message_zh": details["errors"][0]["message_zh"],
         "message_en": details["errors"][0]["message_en"]},
        {"row": 1800, "item": "marital_status", "code": "code_not_in_list", "message_zh": "不在代码集中",
         "message_en": "Not a code of the code list"},
        {"row": 2400, "item": "favourite_colour", "code": "unknown_item", "message_zh": "不是本资源的信息项",
         "message_en": "Not an item of this resource"},
    ]
    assert (details["error_count"], details["bad_rows"], details["truncated"]) == (3, 3, False)
    assert snapshot(resource.code) == before


def test_every_kind_of_bad_row(civil):
    resource, actor = civil
    details = rejected(actor, resource.code, [
        person_row(1, name=None),                       # 1 required item missing
        person_row(2, registered_on="2020-13-01"),      # 2 bad date
        "not an object",                                # 3
        person_row(4, id_number=None),                  # 4 no subject
        person_row(5, phone="12345", sex="7"),          # 5 two problems in one row
        person_row(1),                                  # 6 the same subject as row 1
        person_row(7, name={"nested": "value"}),        # 7 not a single value
        person_row(8, id_number=f" {id_number(1)} "),  # 8 the same subject once normalised
        records.BadRow("invalid_json_line", "该行不是有效的 JSON", "The line is not valid JSON"),  # 9
    ])
    found = [(e["row"], e["item"], e["code"]) for e in details["errors"]]
    assert found == [
        (1, "name", "value_required"), (2, "registered_on", "invalid_date"), (3, None, "row_not_object"),
        (4, "id_number", "subject_required"), (5, "sex", "code_not_in_list"), (5, "phone", "invalid_phone"),
        (6, "id_number", "duplicate_subject"), (7, "name", "not_a_value"), (8, "id_number", "duplicate_subject"),
        (9, None, "invalid_json_line"),
    ]
    assert (details["error_count"], details["bad_rows"]) == (10, 9)
    assert Batch.objects.count() == Record.objects.count() == 0
    assert not ResourceState.objects.filter(resource_code=resource.code).exists()


def test_error_list_is_capped_but_counted(civil):
    resource, actor = civil
    details = rejected(actor, resource.code, [person_row(1), *range(1200)])
    assert len(details["errors"]) == records.MAX_ERRORS
    assert details["errors"][0]["row"] == 2 and details["errors"][-1]["row"] == 1001
    assert (details["error_count"], details["bad_rows"], details["truncated"]) == (1200, 1200, True)


def test_empty_batch_is_refused(civil):
    resource, actor = civil
    with pytest.raises(InvalidInput) as caught:
        load(actor, resource.code, iter(()))
    assert caught.value.code == "empty_batch" and caught.value.status == 422
    assert Batch.objects.count() == 0


def test_enterprise_resource_with_uscc_checksums():
    resource = enterprise_resource("market")
    actor = steward("market")
    batch = load(actor, resource.code, [enterprise_row(1), enterprise_row(2, registered_capital="1e3")])
    assert batch.inserted == 2
    assert Record.objects.get(subject=enterprise_row(2)["uscc"]).data["registered_capital"] == "1000"
    broken = enterprise_row(3)
    broken["uscc"] = broken["uscc"][:17] + ("0" if broken["uscc"][17] != "0" else "1")
    details = rejected(actor, resource.code, [broken, enterprise_row(4, registered_capital="lots")])
    assert [(e["row"], e["item"], e["code"]) for e in details["errors"]] == [
        (1, "uscc", "invalid_uscc"), (2, "registered_capital", "invalid_decimal")]


def test_who_may_load(civil, settings):
    resource, _ = civil
    rows = [person_row(1)]
    refused = [
        steward("health"),                        # another department's steward
        official("civil", "approver"),            # the right department, the wrong role
        Actor(kind="system", username="system:x", department_id=resource.department_id,
              department_code="civil", scopes=frozenset({"exchange:query"})),  # token without the scope
        Actor(kind="citizen", username="someone", user_id=1),
    ]
    for actor in refused:
        with pytest.raises(PermissionDenied):
            load(actor, resource.code, rows)
    assert Batch.objects.count() == 0
    allowed = [
        official("civil", "dept_admin"),
        Actor(kind="system", username="system:abc", department_id=resource.department_id, department_code="civil",
              scopes=frozenset({"exchange:records:write"})),
    ]
    for n, actor in enumerate(allowed, start=1):
        assert load(actor, resource.code, [person_row(n)]).inserted == 1
    assert list(Batch.objects.order_by("id").values_list("loaded_by", flat=True)) == [allowed[0].username,
                                                                                     "system:abc"]


def test_history_is_for_the_provider_and_the_bureau(civil, settings):
    from tongban.core.errors import NotFound
    settings.TONGBAN_MFA_REQUIRED = False
    resource, actor = civil
    load(actor, resource.code, [person_row(1)])
    load(actor, resource.code, [person_row(2)])
    history = records.batch_history(actor, resource.code)
    assert [b.inserted for b in history] == [1, 1] and history[0].pk > history[1].pk
    assert len(records.batch_history(official("civil", "approver"), resource.code)) == 2
    assert len(records.batch_history(official("bureau", "bureau_admin", is_bureau=True), resource.code)) == 2
    with pytest.raises(NotFound):
        records.batch_history(steward("health"), resource.code)


def test_webhooks_are_scheduled_after_commit_only_when_something_changed(civil, monkeypatch,
                                                                          django_capture_on_commit_callbacks):
    resource, actor = civil
    calls = []
    fake = types.ModuleType("tongban.exchange.services.webhooks")
    fake.schedule_for_resource = calls.append
    monkeypatch.setitem(sys.modules, "tongban.exchange.services.webhooks", fake)
    with django_capture_on_commit_callbacks(execute=True):
        load(actor, resource.code, [person_row(1)])
    assert calls == [resource.code]
    with django_capture_on_commit_callbacks(execute=True):
        load(actor, resource.code, [person_row(1)])  # unchanged: nothing to push
    assert calls == [resource.code]
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InvalidInput):
            load(actor, resource.code, [person_row(2), 5])
    assert calls == [resource.code]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("'postgres' not in __import__('os').environ.get('DATABASE_URL', '')",
                    reason="SQLite serialises writers at BEGIN IMMEDIATE; the row lock is PostgreSQL's")
def test_concurrent_loads_of_one_resource_take_turns_and_leave_no_gap():
    import threading

    resource, actor = person_resource("civil"), steward("civil")
    barrier, results, failures = threading.Barrier(3), {}, []

    def worker(name: str, start: int) -> None:
        try:
            barrier.wait()
            results[name] = load(actor, resource.code, (person_row(n) for n in range(start, start + 1500)))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(name, start)) for name, start in
               (("a", 0), ("b", 10_000), ("c", 20_000))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    ranges = sorted((b.first_seq, b.last_seq) for b in results.values())
    assert ranges == [(1, 1500), (1501, 3000), (3001, 4500)]
    # Commit order = sequence order: the batch holding the lower numbers was created first.
    assert sorted(results.values(), key=lambda b: b.first_seq) == sorted(results.values(), key=lambda b: b.pk)
    assert list(RecordVersion.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 4501))
    state = ResourceState.objects.get(resource_code=resource.code)
    assert (state.last_seq, state.record_count) == (4500, 4500)
