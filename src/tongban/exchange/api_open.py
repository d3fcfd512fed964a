"""Open data under /api/v1/open-data: anonymous, read-only — resources open to everyone and their
records (open columns only; personal-sensitive items and ID numbers never appear)."""

from __future__ import annotations

import datetime
from typing import Any

from django.urls import reverse
from ninja import Query, Router, Schema

from tongban.exchange.services import opendata

router = Router()


class ColumnOut(Schema):
    key: str
    name: str
    name_en: str
    data_type: str


class OpenResourceOut(Schema):
    code: str
    name: str
    name_en: str
    department: str
    department_name: str
    update_cycle: str
    published_at: datetime.datetime | None
    record_count: int
    columns: list[ColumnOut]
    csv_url: str
    json_url: str


class OpenResourceListOut(Schema):
    items: list[OpenResourceOut]
    count: int


class ResourceHeadOut(Schema):
    code: str
    name: str
    name_en: str
    department: str
    department_name: str
    update_cycle: str


class RecordPageOut(Schema):
    resource: ResourceHeadOut
    columns: list[ColumnOut]
    items: list[dict[str, Any]]
    count: int
    page: int
    page_size: int


class Paging(Schema):
    page: int = 1
    page_size: int = 100


def _downloads(code: str) -> dict:
    return {"csv_url": reverse("exchange:open-records-csv", args=[code]),
            "json_url": reverse("exchange:open-records-json", args=[code])}


@router.get("/resources", response=OpenResourceListOut, auth=None,
            summary="Resources open to everyone, with record counts and download links")
def resources(request):
    items = [{**r, **_downloads(r["code"])} for r in opendata.open_resources()]
    return {"items": items, "count": len(items)}


@router.get("/resources/{code}/records", response=RecordPageOut, auth=None,
            summary="A page of an open resource's records (open columns only)")
def records(request, code: str, paging: Query[Paging]):
    return opendata.records_page(code, page=paging.page, page_size=paging.page_size)
