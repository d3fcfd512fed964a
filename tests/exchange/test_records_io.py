"""Records from CSV (Chinese or key headers, UTF-8 with/without BOM, GB18030) and NDJSON, and the
bounded memory of a large streamed batch."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.db import transaction

from tests.exchange.factories import PERSON_ITEMS, id_number, person_resource, person_row, steward
from tongban.catalog import services as catalog
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Batch, Record
from tongban.exchange.services import csvio, records

pytestmark = pytest.mark.django_db

CHINESE = [item["name"] for item in PERSON_ITEMS]
KEYS = [item["key"] for item in PERSON_ITEMS]


def csv_bytes(header: list[str], rows: list[dict], *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(key) is None else row[key] for key in KEYS])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


@pytest.fixture
def civil():
    return person_resource("civil"), steward("civil")


def load_csv(actor, code, data: bytes):
    with transaction.atomic():
        return records.load_csv(actor, code, io.BytesIO(data))


@pytest.mark.parametrize(("header", "encoding", "bom"), [
    (CHINESE, "utf-8", True), (CHINESE, "utf-8", False), (CHINESE, "gb18030", False), (KEYS, "utf-8", False),
])
def test_csv_with_chinese_or_key_headers_in_every_encoding(civil, header, encoding, bom):
    resource, actor = civil
    rows = [person_row(1, address="浙江省杭州市西湖区文三路90号"), person_row(2, phone=None, registered_on=None)]
    batch = load_csv(actor, resource.code, csv_bytes(header, rows, encoding=encoding, bom=bom))
    assert (batch.rows, batch.inserted, batch.channel) == (2, 2, "csv")
    first = Record.objects.get(subject=id_number(1)).data
    assert first["name"] == "张1" and first["address"] == "浙江省杭州市西湖区文三路90号"
    second = Record.objects.get(subject=id_number(2)).data
    assert second["phone"] is None and second["registered_on"] is None  # empty cells are None


def test_gb18030_detected_even_when_the_header_is_all_that_is_chinese(civil):
    resource, actor = civil
    data = csv_bytes(CHINESE, [person_row(1, name="Li")], encoding="gb18030")
    assert csvio.detect_encoding(data) == "gb18030" and csvio.detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert load_csv(actor, resource.code, data).inserted == 1


def test_csv_and_json_of_the_same_rows_hash_alike(civil):
    resource, actor = civil
    rows = [person_row(1), person_row(2)]
    from_csv = load_csv(actor, resource.code, csv_bytes(CHINESE, rows))
    with transaction.atomic():
        again = records.load_records(actor, resource.code, rows)
    assert again.unchanged == 2 and again.sha256 == from_csv.sha256


def test_unknown_columns_are_refused_before_any_row(civil):
    resource, actor = civil
    data = csv_bytes([*CHINESE[:-1], "备注"], [person_row(1, marital_status="99")])  # the bad row is never read
    with pytest.raises(InvalidInput) as caught:
        load_csv(actor, resource.code, data)
    assert caught.value.code == "unknown_column"
    assert caught.value.details["columns"] == ["备注"]
    assert "公民身份号码" in caught.value.details["allowed"]
    duplicated = csv_bytes(["姓名", "name", "公民身份号码"], [])
    with pytest.raises(InvalidInput) as caught:
        load_csv(actor, resource.code, duplicated)
    assert caught.value.code == "duplicate_column"
    assert Batch.objects.count() == 0


def test_csv_bad_rows_are_numbered_as_records(civil):
    resource, actor = civil
    data = csv_bytes(CHINESE, [person_row(1), person_row(2, marital_status="99"), person_row(3)])
    data += b",,,,,,\n"  # a blank spreadsheet row is skipped
    data += f"{id_number(4)},x,1,13800000000,addr,20,2020-01-01,extra\n".encode()
    with pytest.raises(InvalidInput) as caught:
        load_csv(actor, resource.code, data)
    assert [(e["row"], e["item"], e["code"]) for e in caught.value.details["errors"]] == [
        (2, "marital_status", "code_not_in_list"), (4, None, "too_many_cells")]


def test_csv_template_round_trips(civil):
    resource, actor = civil
    template = records.csv_template(resource.code)
    assert template.startswith("\ufeff公民身份号码,姓名,性别,")
    data = template.encode("utf-8") + csv_bytes(CHINESE, [person_row(1)]).split(b"\n", 1)[1]
    assert load_csv(actor, resource.code, data).inserted == 1


def test_ndjson_stream_with_a_malformed_line(civil):
    resource, actor = civil
    lines = [json.dumps(person_row(1), ensure_ascii=False), "", json.dumps(person_row(2)), "{not json",
             json.dumps([1, 2]), json.dumps(person_row(3))]
    body = io.BytesIO("\n".join(lines).encode())
    with pytest.raises(InvalidInput) as caught, transaction.atomic():
        records.load_records(actor, resource.code, csvio.iter_ndjson(body))
    assert [(e["row"], e["code"]) for e in caught.value.details["errors"]] == [
        (3, "invalid_json_line"), (4, "row_not_object")]
    good = "\r\n".join(json.dumps(person_row(n), ensure_ascii=False) for n in range(1, 4)) + "\r\n"
    with transaction.atomic():
        batch = records.load_records(actor, resource.code, csvio.iter_ndjson(io.BytesIO(good.encode())))
    assert (batch.rows, batch.inserted) == (3, 3)


def test_header_names_map_to_keys():
    items = catalog.items_of(person_resource("civil"))
    names = csvio.header_keys(items)
    assert names["公民身份号码"] == "id_number" and names["marital_status"] == "marital_status"


def _traced_peak(work) -> int:
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        result = work()
        return tracemalloc.get_traced_memory()[1] - baseline, result
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_batch(civil):
    """A streamed batch is held one chunk at a time: 3,000 more rows add far less to the peak than
    holding those rows would (what stays is the set of seen subjects). bench_exchange_load
    reports the peak of a 100,000-row load."""
    resource, actor = civil

    def load(start: int, count: int):
        with transaction.atomic():
            return records.load_records(actor, resource.code, (person_row(n) for n in range(start, start + count)))

    small, batch = _traced_peak(lambda: load(0, 1000))
    large, batch = _traced_peak(lambda: load(10_000, 4000))
    assert batch.inserted == 4000
    held_small, _ = _traced_peak(lambda: [person_row(n) for n in range(1000)])
    held_large, _ = _traced_peak(lambda: [person_row(n) for n in range(4000)])
    assert large - small < (held_large - held_small) / 2, (small, large, held_small, held_large)
