"""Records API (归集): load a batch of a resource's records, read the batch history.

``POST /exchange/resources/{code}/records`` takes the batch as JSON ``{"records": [...]}``
(limited by ``DATA_UPLOAD_MAX_MEMORY_SIZE``), or streamed as ``application/x-ndjson`` (one JSON
object per line) or ``text/csv`` (header of item keys or Chinese item names). Streamed bodies
are first spooled to a temporary file, outside the transaction — a slow upload must not hold
SQLite's write lock — then validated and loaded row by row with bounded memory.
"""

from __future__ import annotations

import datetime
import json
import tempfile

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from ninja import Router, Schema, Status

from tongban.catalog import services as catalog
from tongban.core.errors import InvalidInput
from tongban.core.http import status_error
from tongban.exchange.services import csvio, records

router = Router(tags=["exchange"])

SPOOL_MEMORY_BYTES = 1024 * 1024  # larger bodies spill to disk
MAX_STREAM_BYTES = 1024 * 1024 * 1024  # NDJSON / CSV bodies up to 1 GiB
COPY_BYTES = 256 * 1024
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})


class LoadOut(Schema):
    batch: int
    rows: int
    inserted: int
    updated: int
    unchanged: int
    sha256: str
    first_seq: int | None
    last_seq: int | None


class BatchOut(Schema):
    id: int
    resource_code: str
    loaded_by: str
    channel: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    sha256: str
    first_seq: int | None
    last_seq: int | None
    created_at: datetime.datetime


class BatchListOut(Schema):
    items: list[BatchOut]
    count: int


_RECORD_BODY = {
    "required": True,
    "description": "The batch: JSON `{\"records\": [...]}`, or streamed NDJSON / CSV (header row of item keys or "
                   "Chinese item names; UTF-8 with or without BOM, or GB18030).",
    "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["records"],
            "properties": {"records": {"type": "array", "items": {"type": "object", "additionalProperties": True}}},
        }},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON object per line"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}


def _json_rows(request):
    try:
        body = request.body
    except RequestDataTooBig:
        raise status_error(413, {"hint": "send large batches as application/x-ndjson or text/csv"}) from None
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        raise InvalidInput("请求体不是有效的 JSON", "The body is not valid JSON", code="invalid_json") from None
    except RecursionError:
        raise InvalidInput("JSON 嵌套层级过深", "The JSON is nested too deeply", code="json_too_deep") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
        raise InvalidInput("请求体应为 {\"records\": [...]}", "The body must be {\"records\": [...]}",
                           code="invalid_body")
    return payload["records"]


def _spool(request):
    """The request body copied to a temporary file (memory up to 1 MiB, then disk), rewound."""
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    total = 0
    while chunk := request.read(COPY_BYTES):
        total += len(chunk)
        if total > MAX_STREAM_BYTES:
            spooled.close()
            raise status_error(413, {"max_bytes": MAX_STREAM_BYTES})
        spooled.write(chunk)
    spooled.seek(0)
    return spooled


@router.post("/resources/{code}/records", response={201: LoadOut}, openapi_extra={"requestBody": _RECORD_BODY},
             summary="Load a batch of records (provider steward or system token); all rows or none")
def load(request, code: str):
    actor = request.auth
    content_type = (request.content_type or "application/json").lower()
    if content_type in ("application/json", ""):
        rows = _json_rows(request)
        with transaction.atomic():
            batch = records.load_records(actor, code, rows, channel="api")
    elif content_type in NDJSON_TYPES or content_type in CSV_TYPES:
        records.require_loader(actor, catalog.get_published(code))  # before reading the upload
        with _spool(request) as body:
            with transaction.atomic():
                if content_type in CSV_TYPES:
                    batch = records.load_csv(actor, code, body, channel="api")
                else:
                    batch = records.load_records(actor, code, csvio.iter_ndjson(body), channel="api")
    else:
        raise status_error(415, {"accepted": ["application/json", "application/x-ndjson", "text/csv"]})
    return Status(201, {"batch": batch.pk, "rows": batch.rows, "inserted": batch.inserted, "updated": batch.updated,
                        "unchanged": batch.unchanged, "sha256": batch.sha256, "first_seq": batch.first_seq,
                        "last_seq": batch.last_seq})


@router.get("/resources/{code}/batches", response=BatchListOut,
            summary="A resource's accepted batches, newest first (provider department and the bureau)")
def batches(request, code: str, limit: int = 50):
    rows = records.batch_history(request.auth, code, limit=limit)
    return {"items": rows, "count": len(rows)}
