"""Open data (数据开放): the records of resources open to everyone, as CSV, JSON and a paged API.

Only resources that are published with open class ``open`` (无条件开放) qualify; ``conditional``
(有条件开放: needs an agreement) and ``closed`` ones, and unknown codes, are not found (404).
Personal-sensitive items are never part of open data, nor any ID number (a citizen-keyed
resource's subject key is one) — whatever the steward ticked.

Downloads stream: records are read in keyset chunks along the (resource_code, subject) index,
so a resource of 100,000 records is served with bounded memory on SQLite and PostgreSQL.
CSV is UTF-8 with a BOM (so Excel opens the Chinese correctly), a header row of Chinese item
names, and cells that a spreadsheet would run as a formula (= + - @, tab, CR) neutralised.

Pure reads: callers need no transaction.
"""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tongban.catalog import services as catalog
from tongban.catalog.models import DataType, Item, Resource
from tongban.core.errors import InvalidInput, NotFound
from tongban.core.formula_guard import formula_safe
from tongban.exchange.models import Record, ResourceState

CHUNK = 2000
PAGE_SIZE_MAX = 1000
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    key: str
    name: str
    name_en: str
    data_type: str


def _not_open() -> NotFound:
    return NotFound("该资源不存在或未无条件开放", "No resource with this code is open to the public",
                    code="not_open_data")


def is_open(resource: Resource) -> bool:
    return resource.is_published and resource.opening == Resource.Opening.OPEN


def open_resource(code: str) -> Resource:
    """The published resource ``code`` if it is open unconditionally; otherwise 404."""
    try:
        resource = catalog.get_published(code)
    except NotFound:
        raise _not_open() from None
    if not is_open(resource):
        raise _not_open()
    return resource


def columns_of(resource: Resource) -> list[Column]:
    """The items anyone may download: never personal-sensitive ones, never an ID number, never
    an item the steward gave a masking rule or a core grade (hidden from consumers by default,
    so certainly from the public)."""
    return [Column(item.key, item.name, item.name_en, item.effective_type)
            for item in catalog.items_of(resource)
            if not item.personal_sensitive and item.effective_type != DataType.ID_NUMBER
            and item.masking == Item.Masking.NONE and item.grade != Item.Grade.CORE]


def _project(data: dict, keys: list[str]) -> dict[str, Any]:
    return {key: data.get(key) for key in keys}


def record_counts(codes) -> dict[str, int]:
    """Records per resource, as the loads keep count (``ResourceState``: no scan of the records)."""
    return dict(ResourceState.objects.filter(resource_code__in=list(codes))
                .values_list("resource_code", "record_count"))


def open_resources() -> list[dict]:
    """Every open resource with its record count and downloadable columns."""
    resources = list(Resource.objects.filter(status=Resource.Status.PUBLISHED, opening=Resource.Opening.OPEN)
                     .select_related("department").order_by("code"))
    counts = record_counts(r.code for r in resources)
    return [{
        "code": r.code, "name": r.name, "name_en": r.name_en, "department": r.department.code,
        "department_name": r.department.name, "update_cycle": r.update_cycle,
        "published_at": r.published_at, "record_count": counts.get(r.code, 0),
        "columns": [c.__dict__ for c in columns_of(r)],
    } for r in resources]


def records_page(code: str, *, page: int = 1, page_size: int = 100) -> dict:
    """One page of an open resource's records (ordered by subject), open columns only."""
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidInput(f"分页参数无效（每页 1–{PAGE_SIZE_MAX} 条）", f"Invalid paging (1–{PAGE_SIZE_MAX} per page)",
                           code="invalid_paging", details={"page": page, "page_size": page_size})
    resource = open_resource(code)
    columns = columns_of(resource)
    keys = [c.key for c in columns]
    rows = Record.objects.filter(resource_code=resource.code)
    start = (page - 1) * page_size
    count = rows.count()
    # A page past the end is empty without asking the database (an offset past 2**63 would be an error).
    data = rows.order_by("subject").values_list("data", flat=True)[start:start + page_size] if start < count else []
    return {
        "resource": _resource_head(resource), "columns": [c.__dict__ for c in columns],
        "items": [_project(d, keys) for d in data], "count": count, "page": page, "page_size": page_size,
    }


def _resource_head(resource: Resource) -> dict:
    return {"code": resource.code, "name": resource.name, "name_en": resource.name_en,
            "department": resource.department.code, "department_name": resource.department.name,
            "update_cycle": resource.update_cycle}


def iter_records(code: str, keys: list[str], *, chunk: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The open columns of every record, ``chunk`` at a time, by keyset along the subject index."""
    chunk = chunk or CHUNK
    last: str | None = None
    while True:
        rows = Record.objects.filter(resource_code=code)
        if last is not None:
            rows = rows.filter(subject__gt=last)
        batch = list(rows.order_by("subject").values_list("subject", "data")[:chunk])
        if not batch:
            return
        yield [_project(data, keys) for _subject, data in batch]
        if len(batch) < chunk:
            return
        last = batch[-1][0]


# --- CSV ----------------------------------------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    """One CSV cell: booleans as true/false, and text a spreadsheet would evaluate made inert
    (OWASP CSV injection: prefix ``'`` to a cell starting with = + - @, tab or CR; plain numbers
    such as ``-12.5`` stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return formula_safe(str(value))


class _Line:
    """A file-like that hands back what ``csv.writer`` writes (one line at a time)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(resource: Resource) -> Iterator[str]:
    columns = columns_of(resource)
    keys = [c.key for c in columns]
    writer = csv.writer(_Line())
    yield BOM + writer.writerow([formula_safe(c.name) for c in columns])  # item names are the steward's text
    for batch in iter_records(resource.code, keys):
        yield "".join(writer.writerow([csv_cell(row[key]) for key in keys]) for row in batch)


# --- JSON ---------------------------------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def stream_json(resource: Resource) -> Iterator[str]:
    columns = columns_of(resource)
    keys = [c.key for c in columns]
    head = {"resource": _resource_head(resource), "columns": [c.__dict__ for c in columns],
            "generated_at": datetime.datetime.now(datetime.UTC).isoformat()}
    yield _dumps(head)[:-1] + ',"records":['
    first = True
    for batch in iter_records(resource.code, keys):
        text = ",\n".join(_dumps(row) for row in batch)
        yield text if first else ",\n" + text
        first = False
    yield "]}\n"
