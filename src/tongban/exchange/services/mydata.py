"""My data (我的数据): a citizen's or enterprise's own records across every department, and every
access to them — which department read which items, when, for what purpose — with the ledger
entry that proves it.

Only citizens and enterprises have "my data": the subject is the caller's own ID number
(``Citizen.id_number``) or USCC (``Enterprise.uscc``); officials and department systems are
refused (403). Records are shown in clear — it is the caller's own data. Accesses are found by
the ledger's keyed subject hash (``Access.subject_hash`` for single-subject calls,
``AccessSubject`` for multi-subject lookups), so the identifier itself is never stored with them.

Pure reads: callers need no transaction.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from tongban.catalog.models import CodeListEntry, Item, Resource
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Access, AccessSubject, Record
from tongban.identity.access import Actor, require_kind
from tongban.identity.models import Citizen, Department, Enterprise
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent

MAX_LIMIT = 200
SUBJECT_KINDS = ("citizen", "enterprise")


@dataclass(frozen=True)
class Subject:
    kind: str  # "citizen" | "enterprise"
    identifier: str  # ID number or USCC
    name: str


@dataclass
class MyItem:
    key: str
    name: str
    name_en: str
    value: Any
    display: str  # the value as a person reads it (code lists' names, 是/否)


@dataclass
class MyRecord:
    resource_code: str
    resource_name: str
    resource_name_en: str
    department_code: str
    department_name: str
    updated_at: datetime.datetime
    items: list[MyItem] = field(default_factory=list)


@dataclass
class MyAccess:
    id: int
    at: datetime.datetime
    department_code: str
    department_name: str
    resource_code: str
    resource_name: str
    items: list[dict[str, str]]  # [{"key", "name"}]
    mode: str
    purpose: str
    ledger_index: int | None
    proof_url: str | None  # the API's entry + inclusion proof
    ledger_url: str | None  # the public ledger page of the entry

    @property
    def recorded(self) -> bool:
        return self.ledger_index is not None


@dataclass
class AccessPage:
    items: list[MyAccess]
    count: int
    limit: int
    offset: int


# --- whose data ---------------------------------------------------------------------------------------------


def subject_of(actor: Actor) -> Subject | None:
    """The caller's own subject; ``None`` for an account not (yet) linked to a citizen/enterprise row.

    Raises 401 for nobody and 403 for officials and department systems.
    """
    require_kind(actor, *SUBJECT_KINDS)
    if actor.kind == "citizen":
        row = Citizen.objects.filter(user_id=actor.user_id).values_list("id_number", "name").first()
    else:
        row = Enterprise.objects.filter(user_id=actor.user_id).values_list("uscc", "name").first()
    if row is None:
        return None
    return Subject(kind=actor.kind, identifier=row[0], name=row[1])


# --- shared lookups -----------------------------------------------------------------------------------------


def _resources(codes) -> dict[str, Resource]:
    """The published version of each code (or, for a retired code, its latest version)."""
    found: dict[str, Resource] = {}
    rows = Resource.objects.filter(code__in=set(codes)).select_related("department").order_by("code", "-version")
    for resource in rows:
        current = found.get(resource.code)
        if current is None or (resource.is_published and not current.is_published):
            found[resource.code] = resource
    return found


def _items_by_resource(resources) -> dict[int, list[Item]]:
    by_resource: dict[int, list[Item]] = {}
    ids = [r.pk for r in resources]
    for item in Item.objects.filter(resource_id__in=ids).select_related("data_element").order_by("order", "pk"):
        by_resource.setdefault(item.resource_id, []).append(item)
    return by_resource


def _department_names(codes) -> dict[str, str]:
    return dict(Department.objects.filter(code__in=set(codes)).values_list("code", "name"))


def _display(item: Item, value: Any, code_names: dict[tuple[int, str], str]) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    element = item.data_element if item.data_element_id else None
    if element is not None and element.code_list_id:
        name = code_names.get((element.code_list_id, str(value)))
        if name:
            return f"{name}（{value}）"
    return str(value)


# --- my records ---------------------------------------------------------------------------------------------


def my_records(actor: Actor) -> list[MyRecord]:
    """The caller's own records in every resource, in clear, ordered by provider department."""
    subject = subject_of(actor)
    if subject is None:
        return []
    records = list(Record.objects.filter(subject=subject.identifier).only("resource_code", "data", "updated_at"))
    if not records:
        return []
    resources = _resources(r.resource_code for r in records)
    items = _items_by_resource(resources.values())
    code_lists = {i.data_element.code_list_id for rows in items.values() for i in rows
                  if i.data_element_id and i.data_element.code_list_id}
    code_names = {(list_id, code): name for list_id, code, name in
                  CodeListEntry.objects.filter(code_list_id__in=code_lists).values_list("code_list_id", "code", "name")}
    result = []
    for record in records:
        resource = resources.get(record.resource_code)
        if resource is None:  # a record of a resource the catalog no longer knows: show it plainly
            result.append(MyRecord(record.resource_code, record.resource_code, "", "", "", record.updated_at,
                                   [MyItem(k, k, "", v, "" if v is None else str(v)) for k, v in record.data.items()]))
            continue
        shown = []
        for item in items.get(resource.pk, []):
            value = record.data.get(item.key)
            shown.append(MyItem(item.key, item.name, item.name_en, value, _display(item, value, code_names)))
        result.append(MyRecord(resource.code, resource.name, resource.name_en, resource.department.code,
                               resource.department.name, record.updated_at, shown))
    result.sort(key=lambda r: (r.department_name == "", r.department_code, r.resource_code))
    return result


# --- who accessed my data -----------------------------------------------------------------------------------


def _accesses_of(subject_hash: str):
    lookups = AccessSubject.objects.filter(subject_hash=subject_hash).values("access_id")
    return Access.objects.filter(Q(subject_hash=subject_hash) | Q(pk__in=lookups))


def _ledger_url(index: int) -> str | None:
    try:
        return reverse("ledger:entry", kwargs={"index": index})
    except NoReverseMatch:
        return None


def my_accesses(actor: Actor, *, limit: int = 50, offset: int = 0) -> AccessPage:
    """Every access to the caller's data, newest first (1 ≤ ``limit`` ≤ 200, ``offset`` ≥ 0)."""
    subject = subject_of(actor)
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput("分页参数无效（limit 1–200，offset ≥ 0）", "Invalid paging (limit 1–200, offset ≥ 0)",
                           code="invalid_paging", details={"limit": limit, "offset": offset})
    if subject is None:
        return AccessPage([], 0, limit, offset)
    rows = _accesses_of(ledger.subject_hash(subject.identifier))
    count = rows.count()
    # Past the end: empty without asking the database (an offset past 2**63 would be an error).
    page = list(rows.order_by("-at", "-id")[offset:offset + limit]) if offset < count else []
    if not page:
        return AccessPage([], count, limit, offset)
    resources = _resources(a.resource_code for a in page)
    item_names = {}
    for resource_id, items in _items_by_resource(resources.values()).items():
        item_names[resource_id] = {i.key: i.name for i in items}
    departments = _department_names(a.consumer_code for a in page)
    indexes = dict(LedgerEvent.objects.filter(pk__in=[a.ledger_event_id for a in page if a.ledger_event_id])
                   .values_list("pk", "index"))
    result = []
    for access in page:
        resource = resources.get(access.resource_code)
        names = item_names.get(resource.pk, {}) if resource else {}
        index = indexes.get(access.ledger_event_id) if access.ledger_event_id else None
        result.append(MyAccess(
            id=access.pk, at=access.at, department_code=access.consumer_code,
            department_name=departments.get(access.consumer_code, access.consumer_code),
            resource_code=access.resource_code, resource_name=resource.name if resource else access.resource_code,
            items=[{"key": key, "name": names.get(key, key)} for key in (access.items or [])],
            mode=access.mode, purpose=access.purpose, ledger_index=index,
            proof_url=f"/api/v1/ledger/entries/{index}" if index is not None else None,
            ledger_url=_ledger_url(index) if index is not None else None,
        ))
    return AccessPage(result, count, limit, offset)
