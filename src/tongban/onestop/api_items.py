"""Service items under /api/v1/onestop: the public list and guides; officials maintain items.

``GET /items`` and ``GET /items/{code}`` are open to everyone (``auth=None``); a signed-in
citizen or enterprise calling the guide gets it personalised (what their wallet and the
government's records already cover). Writes need the item's department steward / administrator.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from ninja import Query, Router, Schema, Status

from tongban.onestop.services import guide as guides
from tongban.onestop.services import items as services

router = Router(tags=["onestop"])


class ItemFilters(Schema):
    q: str = ""
    theme: str | None = None
    life_event: str | None = None
    department: str | None = None
    applicant_kind: str | None = None


class ItemIn(Schema):
    code: str
    basic_code: str
    name: str
    name_en: str = ""
    item_type: str
    applicant_kind: str
    department: str | None = None
    co_departments: list[str] = []
    summary: str = ""
    legal_basis: str
    conditions: str
    process: list[Any] = []
    statutory_days: int
    promised_days: int
    visits: int = 0
    fees: str = ""
    channels: list[str] = ["online"]
    situations: list[str] = []
    result_name: str = ""
    certificate_type: str = ""
    theme: str = ""
    life_events: list[str] = []
    keywords: list[str] = []
    complaint: str = ""
    form_schema: list[Any] = []
    materials: list[Any] = []
    rectification_days: int = 15


class ItemPatch(Schema):
    code: str | None = None
    basic_code: str | None = None
    name: str | None = None
    name_en: str | None = None
    item_type: str | None = None
    applicant_kind: str | None = None
    department: str | None = None
    co_departments: list[str] | None = None
    summary: str | None = None
    legal_basis: str | None = None
    conditions: str | None = None
    process: list[Any] | None = None
    statutory_days: int | None = None
    promised_days: int | None = None
    visits: int | None = None
    fees: str | None = None
    channels: list[str] | None = None
    situations: list[str] | None = None
    result_name: str | None = None
    certificate_type: str | None = None
    theme: str | None = None
    life_events: list[str] | None = None
    keywords: list[str] | None = None
    complaint: str | None = None
    form_schema: list[Any] | None = None
    materials: list[Any] | None = None
    rectification_days: int | None = None


class WithdrawIn(Schema):
    reason: str = ""


@router.get("/items", auth=None, summary="Published service items (search and browse; public)")
def list_items(request, filters: Query[ItemFilters]):
    found = guides.search_items(filters.q, theme=filters.theme, life_event=filters.life_event,
                                department=filters.department, applicant_kind=filters.applicant_kind)
    return {"items": [guides.summary(item) for item in found], "count": len(found)}


@router.get("/items/{code}", auth=None, summary="The guide of a service item (一次告知; public)")
def get_item(request, code: str):
    actor = request.actor
    item = services.get_item(actor, code)
    return guides.guide(item, actor)


@router.post("/items", response={201: dict}, summary="Create a draft service item (department steward)")
def create_item(request, payload: ItemIn):
    with transaction.atomic():
        item = services.create_item(request.auth, payload.dict())
        return Status(201, guides.guide(item, request.auth))


@router.patch("/items/{code}", summary="Change a service item (department steward)")
def update_item(request, code: str, payload: ItemPatch):
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items()}
    with transaction.atomic():
        item = services.update_item(request.auth, code, changes)
        return guides.guide(item, request.auth)


@router.post("/items/{code}/publish", summary="Publish a service item (department steward)")
def publish_item(request, code: str):
    with transaction.atomic():
        item = services.publish(request.auth, code)
        return guides.guide(item, request.auth)


@router.post("/items/{code}/withdraw", summary="Withdraw a published service item (department steward)")
def withdraw_item(request, code: str, payload: WithdrawIn | None = None):
    with transaction.atomic():
        item = services.withdraw(request.auth, code, payload.reason if payload else "")
        return guides.guide(item, request.auth)
