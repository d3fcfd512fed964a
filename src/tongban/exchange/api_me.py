"""My data under /api/v1/me/...: my own records (in clear) and every access to them."""

from __future__ import annotations

import datetime
from typing import Any

from ninja import Query, Router, Schema

from tongban.exchange.services import mydata

router = Router()


class MyItemOut(Schema):
    key: str
    name: str
    name_en: str
    value: Any = None
    display: str


class MyRecordOut(Schema):
    resource_code: str
    resource_name: str
    resource_name_en: str
    department: str
    department_name: str
    updated_at: datetime.datetime
    items: list[MyItemOut]


class MyDataOut(Schema):
    subject_kind: str | None
    records: list[MyRecordOut]
    count: int


class AccessItemOut(Schema):
    key: str
    name: str


class MyAccessOut(Schema):
    id: int
    at: datetime.datetime
    department: str
    department_name: str
    resource_code: str
    resource_name: str
    items: list[AccessItemOut]
    mode: str
    purpose: str
    recorded: bool
    ledger_index: int | None
    proof_url: str | None
    ledger_url: str | None


class MyAccessPageOut(Schema):
    items: list[MyAccessOut]
    count: int
    limit: int
    offset: int


class AccessPaging(Schema):
    limit: int = 50
    offset: int = 0


def _record_out(record: mydata.MyRecord) -> dict:
    return {
        "resource_code": record.resource_code, "resource_name": record.resource_name,
        "resource_name_en": record.resource_name_en, "department": record.department_code,
        "department_name": record.department_name, "updated_at": record.updated_at,
        "items": [{"key": i.key, "name": i.name, "name_en": i.name_en, "value": i.value, "display": i.display}
                  for i in record.items],
    }


def _access_out(access: mydata.MyAccess) -> dict:
    return {
        "id": access.id, "at": access.at, "department": access.department_code,
        "department_name": access.department_name, "resource_code": access.resource_code,
        "resource_name": access.resource_name, "items": access.items, "mode": access.mode,
        "purpose": access.purpose, "recorded": access.recorded, "ledger_index": access.ledger_index,
        "proof_url": access.proof_url, "ledger_url": access.ledger_url,
    }


@router.get("/me/data", response=MyDataOut, summary="My records held by every department (in clear)")
def my_data(request):
    records = mydata.my_records(request.auth)
    return {"subject_kind": request.auth.kind, "records": [_record_out(r) for r in records], "count": len(records)}


@router.get("/me/data-access", response=MyAccessPageOut,
            summary="Who accessed my data: department, resource, items, purpose, time, ledger proof")
def my_data_access(request, paging: Query[AccessPaging]):
    page = mydata.my_accesses(request.auth, limit=paging.limit, offset=paging.offset)
    return {"items": [_access_out(a) for a in page.items], "count": page.count, "limit": page.limit,
            "offset": page.offset}
