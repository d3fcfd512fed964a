"""Consuming shared records under /api/v1/exchange (DESIGN §7): query, lookup, verify, the change
feed, and the subscriber's webhook endpoint.

These routes are the platform's hot path: they authenticate with the cached bearer lookup
(``identity.auth.hot_path_auth``; the services read the access generation with the record and
re-check on any change), answer pre-serialised JSON, and let the services keep their one short
write transaction (see ``services.access``). Errors keep the API's envelope; 429 adds
``Retry-After``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.db import connection, transaction
from django.http import HttpResponse
from ninja import Field, Router, Schema

from tongban.core.errors import RateLimited
from tongban.core.http import error_response
from tongban.exchange.services import access, webhooks
from tongban.identity.auth import hot_path_auth

router = Router(tags=["exchange: consume"])

JSON = "application/json"


class QueryOut(Schema):
    resource: str
    grant: int
    record: dict[str, Any] = Field(..., description="Granted items; those not cleared by the grant are masked")
    masked: list[str] = Field(..., description="Keys of the items whose values are masked")


class LookupIn(Schema):
    subjects: list[Any] = Field(..., description="Up to 1,000 ID numbers or USCCs")


class LookupResult(Schema):
    subject: str
    found: bool
    record: dict[str, Any] | None


class LookupOut(Schema):
    resource: str
    grant: int
    found: int
    results: list[LookupResult]
    masked: list[str]


class VerifyIn(Schema):
    subject: str
    claims: dict[str, Any] = Field(..., description="Item key → claimed value (granted items only)")


class VerifyOut(Schema):
    resource: str
    grant: int
    results: dict[str, str] = Field(..., description="Item key → match | no_match")
    all_match: bool


class Change(Schema):
    seq: int
    changed_at: str
    record: dict[str, Any]


class ChangesOut(Schema):
    resource: str
    grant: int
    changes: list[Change]
    next: int = Field(..., description="Pass as `since` to continue")
    has_more: bool
    masked: list[str]


class WebhookIn(Schema):
    url: str | None = Field(None, description="http(s) endpoint; empty or null clears it")
    since: int | None = Field(None, description="Push changes after this sequence (default: from now on)")


class WebhookOut(Schema):
    grant: int
    url: str
    secret: str | None = Field(None, description="HMAC-SHA256 key of X-Tongban-Signature, shown once")
    cursor: int


def _answer(body: bytes | dict, status: int = 200) -> HttpResponse:
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpResponse(body, content_type=JSON, status=status)


def _limited(error: RateLimited) -> HttpResponse:
    response = error_response(error)
    response["Retry-After"] = str((error.details or {}).get("retry_after", 60))
    return response


@router.get("/resources/{code}/records/{subject}", auth=hot_path_auth, response={200: QueryOut},
            summary="Query one subject's record (granted items, masked)")
def query(request, code: str, subject: str):
    try:
        return _answer(access.query_json(request.auth, code, subject))
    except RateLimited as error:
        return _limited(error)


@router.post("/resources/{code}/lookup", auth=hot_path_auth, response={200: LookupOut},
             summary="Query up to 1,000 subjects at once")
def lookup(request, code: str, payload: LookupIn):
    try:
        return _answer(access.lookup(request.auth, code, payload.subjects))
    except RateLimited as error:
        return _limited(error)


@router.post("/resources/{code}/verify", auth=hot_path_auth, response={200: VerifyOut},
             summary="Verify claimed values (核验): match / no_match per item, never the stored values")
def verify(request, code: str, payload: VerifyIn):
    try:
        return _answer(access.verify(request.auth, code, payload.subject, payload.claims))
    except RateLimited as error:
        return _limited(error)


@router.get("/resources/{code}/changes", auth=hot_path_auth, response={200: ChangesOut},
            summary="Change feed of granted items after a cursor")
def changes(request, code: str, since: str = "0", limit: str = str(access.DEFAULT_CHANGES)):
    try:
        return _answer(access.changes(request.auth, code, since, limit))
    except RateLimited as error:
        return _limited(error)


@router.post("/grants/{grant_id}/webhook", response={200: WebhookOut},
             summary="Set or clear the push endpoint of a subscribe grant (answers the secret once)")
def set_webhook(request, grant_id: int, payload: WebhookIn):
    with transaction.atomic():
        return webhooks.set_webhook(request.auth, grant_id, payload.url, since=payload.since)


if os.environ.get("TONGBAN_BENCH_BARE") == "1":
    # Benchmarks only (bench/bench_exchange.py): the same row with no authentication,
    # authorization, masking or logging — the baseline the hot path is measured against.
    # Never registered unless the variable is set.
    @router.get("/bench/bare/{code}/{subject}", auth=None, include_in_schema=False)
    def bench_bare(request, code: str, subject: str):
        with connection.cursor() as cursor:
            cursor.execute("SELECT data FROM exchange_record WHERE resource_code = %s AND subject = %s",
                           [code, subject])
            row = cursor.fetchone()
        return _answer({"record": access._json(row[0]) if row else None})
