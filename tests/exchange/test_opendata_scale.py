"""Open data at scale: 100,000 records download completely and in order, streamed in parts while
the records are read in bounded keyset chunks (never the whole table at once)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.exchange import factories_mydata as mine
from tests.exchange.factories import enterprise_resource
from tongban.exchange.services import opendata

pytestmark = pytest.mark.django_db

RECORDS = 100_000


def test_100k_records_stream_in_bounded_chunks(client, monkeypatch):
    resource = enterprise_resource("market", opening="open")
    mine.many_enterprise_records(resource, RECORDS)
    monkeypatch.setattr(opendata, "CHUNK", 1000)
    response = client.get(f"/open-data/{resource.code}/records.csv")
    parts = lines = size = 0
    tail = b""
    with CaptureQueriesContext(connection) as queries:
        for part in response.streaming_content:
            parts += 1
            size += len(part)
            lines += part.count(b"\n")
            tail = part
    reads = [q["sql"] for q in queries.captured_queries if "exchange_record" in q["sql"]]
    assert lines == RECORDS + 1  # the header and every record
    last = list(csv.reader(io.StringIO(tail.decode("utf-8"))))[-1]
    assert last[:2] == [f"91330100{RECORDS - 1:09d}X", f"企业{RECORDS - 1}"]
    # Streamed: one part per chunk (plus the header), each read limited to a chunk of rows.
    assert parts == RECORDS // 1000 + 1 and size > 3_000_000
    assert len(reads) == RECORDS // 1000 + 1 and all("LIMIT 1000" in sql for sql in reads)
