"""Records (归集): a provider department loads the records of its own published resource.

``load_records(actor, code, rows, channel=)`` validates every row against the resource's items
and upserts the good batch by subject key; ``load_csv`` reads a spreadsheet export first
(``csvio``). A batch is atomic: any bad row rejects the whole batch with ``invalid_records``
listing every bad row, and nothing is written (the caller's transaction rolls back). Every
accepted batch keeps its history: a ``Batch`` row (who, when, channel, counts, hash, change
sequence range), a ``RecordVersion`` per new or changed record, and one ledger entry.

Callers hold the transaction. Authorization (deny by default): the resource's provider
department, through an official with role ``steward`` or ``dept_admin`` or a department-system
token with scope ``exchange:records:write``. Batch history is read by the provider department
and the bureau.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tongban.catalog import services as catalog
from tongban.catalog.models import Item, Resource
from tongban.catalog.validation import validator_for
from tongban.core.errors import InvalidInput, PermissionDenied
from tongban.core.formula_guard import formula_safe
from tongban.exchange.models import Batch, Record, RecordVersion, ResourceState
from tongban.exchange.services.csvio import BadRow, iter_csv
from tongban.identity.access import Actor, Role, require_authenticated, require_same_department, require_scope
from tongban.ledger import services as ledger

logger = logging.getLogger("tongban.exchange")

LOADED = "exchange.records_loaded"
WRITE_SCOPE = "exchange:records:write"
LOADER_ROLES = (Role.STEWARD, Role.DEPT_ADMIN)
CHUNK_ROWS = 1000  # rows validated, compared and written together
MAX_ERRORS = 1000  # bad-row entries listed in the error details (the count stays exact)
HISTORY_LIMIT = 200
_MISSING = object()
# Text no database can store (as tongban.core.api refuses in every other JSON body): NUL, which
# PostgreSQL refuses in jsonb, and unpaired surrogates, which cannot be encoded at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# --- who may load -----------------------------------------------------------------------------------


def may_load(actor: Actor, resource: Resource) -> bool:
    if not actor.is_authenticated or actor.department_id is None or actor.department_id != resource.department_id:
        return False
    if actor.kind == "system":
        return actor.allows(WRITE_SCOPE)
    return actor.kind == "official" and actor.has_role(*LOADER_ROLES)


def require_loader(actor: Actor, resource: Resource) -> Actor:
    require_authenticated(actor)
    if actor.kind == "system":
        require_scope(actor, WRITE_SCOPE)
    elif actor.kind != "official" or not actor.has_role(*LOADER_ROLES):
        raise PermissionDenied("只有提供部门的数据管理员可以归集数据",
                               "Only the provider department's data steward loads records",
                               details={"required_role": sorted(LOADER_ROLES)})
    if actor.department_id is None or actor.department_id != resource.department_id:
        raise PermissionDenied("只能归集本部门资源的数据", "You may load records only of your own department's resources")
    return actor


# --- validating one row ---------------------------------------------------------------------------------


@dataclass
class Problems:
    """Every bad row of a batch: the first ``MAX_ERRORS`` entries listed, all of them counted."""

    entries: list[dict] = field(default_factory=list)
    count: int = 0
    rows: int = 0

    def add(self, row: int, item: str | None, code: str, message_zh: str, message_en: str) -> None:
        self.count += 1
        if len(self.entries) < MAX_ERRORS:
            self.entries.append({"row": row, "item": item, "code": code, "message_zh": message_zh,
                                 "message_en": message_en})

    def error(self) -> InvalidInput:
        return InvalidInput(
            f"批次中有 {self.rows} 行数据不符合要求，整批未归集",
            f"{self.rows} row(s) of the batch are invalid; nothing was loaded",
            code="invalid_records",
            details={"errors": self.entries, "error_count": self.count, "bad_rows": self.rows,
                     "truncated": self.count > len(self.entries)},
        )


class RowChecker:
    """Validates rows against a resource's items (validators compiled once per batch)."""

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.validators = [(item.key, validator_for(item)) for item in items]
        self.keys = frozenset(item.key for item in items)
        subject = next(item for item in items if item.is_subject_key)
        self.subject_key = subject.key
        self.seen: set[str] = set()
        self.problems = Problems()

    def check(self, number: int, row: Any) -> tuple[str, dict] | None:
        """``(subject, normalised data)`` of a good row; a bad one is recorded and gives None."""
        problems = self.problems
        before = problems.count
        if isinstance(row, BadRow):
            problems.add(number, None, row.code, row.message_zh, row.message_en)
        elif not isinstance(row, dict):
            problems.add(number, None, "row_not_object", "该行不是对象（键值对）", "The row is not an object")
        else:
            return self._check_dict(number, row, before)
        problems.rows += 1
        return None

    def _check_dict(self, number: int, row: dict, before: int) -> tuple[str, dict] | None:
        problems = self.problems
        for key in row:
            if key not in self.keys:
                problems.add(number, _UNSTORABLE.sub("\ufffd", str(key)[:100]), "unknown_item", "不是本资源的信息项",
                             "Not an item of this resource")
        data: dict[str, Any] = {}
        for key, validate in self.validators:
            value = row.get(key)
            if isinstance(value, dict | list):
                problems.add(number, key, "not_a_value", "应为单个值", "Must be a single value")
                continue
            if isinstance(value, str) and _UNSTORABLE.search(value):
                problems.add(number, key, "unstorable_character", "含有无法保存的字符（空字符 U+0000 或不成对的代理项）",
                             "Contains a character that cannot be stored (NUL U+0000 or an unpaired surrogate)")
                continue
            if key == self.subject_key and (value is None or (isinstance(value, str) and not value.strip())):
                problems.add(number, key, "subject_required", "缺少主体标识", "The subject key is required")
                continue
            try:
                data[key] = validate(value)
            except InvalidInput as error:
                problems.add(number, key, error.code, error.message_zh, error.message_en)
        subject = data.get(self.subject_key)
        if subject is not None:
            if subject in self.seen:
                problems.add(number, self.subject_key, "duplicate_subject", "同一批次中该主体出现多次",
                             "The same subject appears more than once in the batch")
            else:
                self.seen.add(subject)
        if problems.count > before:
            problems.rows += 1
            return None
        return subject, data


def canonical_line(data: dict) -> bytes:
    """One normalised row as hashed into ``Batch.sha256`` (see ``load_records``)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"


# --- loading a batch -------------------------------------------------------------------------------------


def _statements() -> tuple[str, str]:
    """The upsert of current records and the insert of their versions, one row of parameters each.

    Plain ``executemany`` (SQLite and PostgreSQL both have ``ON CONFLICT … DO UPDATE``): the ORM's
    ``bulk_create`` spends most of a load compiling SQL per object. Names come from the models.
    """
    quote = connection.ops.quote_name

    def columns(model, names) -> str:
        return ", ".join(quote(model._meta.get_field(name).column) for name in names)

    record_table, version_table = quote(Record._meta.db_table), quote(RecordVersion._meta.db_table)
    record_columns = columns(Record, ["resource_code", "subject", "data", "seq", "batch", "updated_at"])
    key = columns(Record, ["resource_code", "subject"])
    changed = ", ".join(f"{c} = EXCLUDED.{c}" for c in (quote(Record._meta.get_field(n).column)
                                                      for n in ("data", "seq", "batch", "updated_at")))
    version_columns = columns(RecordVersion, ["resource_code", "seq", "subject", "data", "batch", "created_at"])
    upsert = (f"INSERT INTO {record_table} ({record_columns}) VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608 - model names, values are parameters
              f"ON CONFLICT ({key}) DO UPDATE SET {changed}")
    history = f"INSERT INTO {version_table} ({version_columns}) VALUES (%s, %s, %s, %s, %s, %s)"  # noqa: S608 - model names, values are parameters
    return upsert, history


class _Writer:
    """Writes a valid batch chunk by chunk under the resource's state lock (taken at first write)."""

    def __init__(self, actor: Actor, resource: Resource, channel: str) -> None:
        self.actor, self.resource, self.channel = actor, resource, channel
        self.code = resource.code
        self.now = timezone.now()
        self.stamp = connection.ops.adapt_datetimefield_value(self.now)
        self.state: ResourceState | None = None
        self.batch: Batch | None = None
        self.seq = 0
        self.first_seq: int | None = None
        self.inserted = self.updated = self.unchanged = 0

    def begin(self) -> None:
        # Concurrent loads of one resource serialise here, so sequence numbers are handed out in
        # commit order and the change feed has no gaps (SQLite: the IMMEDIATE transaction already
        # holds the write lock).
        self.state, _ = ResourceState.objects.select_for_update().get_or_create(
            resource_code=self.code, defaults={"department_id": self.resource.department_id})
        self.seq = self.state.last_seq
        self.batch = Batch.objects.create(resource_code=self.code, department_id=self.resource.department_id,
                                          loaded_by=self.actor.username or self.actor.kind, channel=self.channel,
                                          sha256="")

    def write(self, chunk: list[tuple[str, dict]]) -> None:
        if self.batch is None:
            self.begin()
        if not chunk:
            return
        existing = dict(Record.objects.filter(resource_code=self.code, subject__in=[s for s, _ in chunk])
                        .values_list("subject", "data"))
        data_field = Record._meta.get_field("data")
        records, versions = [], []
        code, batch_id, stamp = self.code, self.batch.pk, self.stamp
        for subject, data in chunk:
            old = existing.get(subject, _MISSING)
            if old is _MISSING:
                self.inserted += 1
            elif old == data:
                self.unchanged += 1
                continue
            else:
                self.updated += 1
            self.seq += 1
            if self.first_seq is None:
                self.first_seq = self.seq
            stored = data_field.get_db_prep_save(data, connection)
            records.append((code, subject, stored, self.seq, batch_id, stamp))
            versions.append((code, self.seq, subject, stored, batch_id, stamp))
        if records:
            upsert, history = _statements()
            with connection.cursor() as cursor:
                cursor.executemany(upsert, records)
                cursor.executemany(history, versions)

    def finish(self, rows: int, sha256: str) -> Batch:
        batch, state = self.batch, self.state
        batch.rows, batch.inserted, batch.updated, batch.unchanged = rows, self.inserted, self.updated, self.unchanged
        batch.sha256 = sha256
        batch.first_seq = self.first_seq
        batch.last_seq = self.seq if self.first_seq is not None else None
        batch.save(update_fields=["rows", "inserted", "updated", "unchanged", "sha256", "first_seq", "last_seq"])
        state.last_seq = self.seq
        state.record_count += self.inserted
        state.last_loaded_at = self.now
        state.save(update_fields=["last_seq", "record_count", "last_loaded_at"])
        return batch


def load_records(actor: Actor, code: str, rows: Iterable[Any], *, channel: str = Batch.Channel.API,
                 progress: Callable[[int], None] | None = None) -> Batch:
    """Validate and load one batch of records of resource ``code``; the ``Batch`` it became.

    ``rows`` is any iterable of dicts keyed by item key (a generator of 100,000 rows is read in
    chunks of ``CHUNK_ROWS`` and never held whole). Each row is validated against the items
    (unknown keys, required and typed values, code lists, ID number / USCC check digits, the
    subject key present and not repeated within the batch). Validation carries on past the first
    bad row, so the ``invalid_records`` error (422) lists every bad row: ``details = {"errors":
    [{"row": n (1-based), "item": key or None, "code", "message_zh", "message_en"}, …] (at most
    1,000 entries), "error_count": every problem, "bad_rows": rows with a problem, "truncated":
    bool}``. A batch with no row raises ``empty_batch``. On any error nothing stays written once
    the caller's transaction rolls back (writes made before the first bad row are undone).

    Upsert by subject: a new subject is inserted, a changed record replaced, an identical one
    (same normalised data) counted as unchanged. Each new or changed record takes the resource's
    next change sequence number (under the ``ResourceState`` row lock) and gets a
    ``RecordVersion``.

    Batch hash recipe (``Batch.sha256``, also in the ledger entry): SHA-256 over the batch's rows
    in input order, each row normalised (values as the validators return them, every item key
    present, ``null`` for empty) and written as one line of canonical JSON: UTF-8, keys sorted,
    separators ``,`` and ``:`` without spaces, no ASCII escaping, terminated by ``\\n``
    (``canonical_line``). Anyone holding the loaded data can recompute it.
    """
    resource = catalog.get_published(code)
    require_loader(actor, resource)
    checker = RowChecker(catalog.items_of(resource))
    writer = _Writer(actor, resource, channel)
    digest = hashlib.sha256()
    chunk: list[tuple[str, dict]] = []
    count = 0
    for count, row in enumerate(rows, start=1):
        good = checker.check(count, row)
        if checker.problems.count:
            chunk.clear()  # the batch is lost; keep validating to list every bad row
            continue
        subject, data = good
        digest.update(canonical_line(data))
        chunk.append((subject, data))
        if len(chunk) >= CHUNK_ROWS:
            writer.write(chunk)
            chunk.clear()
            if progress is not None:
                progress(count)
    if checker.problems.count:
        raise checker.problems.error()
    if count == 0:
        raise InvalidInput("批次中没有数据", "The batch has no records", code="empty_batch")
    writer.write(chunk)
    batch = writer.finish(count, digest.hexdigest())
    ledger.record(actor=actor.username or actor.kind, action=LOADED, subject=f"resource:{code}",
                  department=actor.department_code, payload={
                      "batch": batch.pk, "channel": channel, "rows": batch.rows, "inserted": batch.inserted,
                      "updated": batch.updated, "unchanged": batch.unchanged, "sha256": batch.sha256,
                      "first_seq": batch.first_seq, "last_seq": batch.last_seq})
    if batch.first_seq is not None:
        _schedule_webhooks(code)
    return batch


def _schedule_webhooks(code: str) -> None:
    try:
        webhooks = importlib.import_module("tongban.exchange.services.webhooks")
    except ModuleNotFoundError as missing:  # TODO(lead): drop once services/webhooks.py is merged
        if missing.name != "tongban.exchange.services.webhooks":
            raise
        return
    transaction.on_commit(lambda: webhooks.schedule_for_resource(code))


def load_csv(actor: Actor, code: str, binary_file: Any, *, channel: str = Batch.Channel.CSV,
             progress: Callable[[int], None] | None = None) -> Batch:
    """``load_records`` from a CSV file (header of item keys or Chinese names; see ``csvio``).

    Authorization is checked before the file is read, so a stranger learns nothing of the items.
    """
    resource = catalog.get_published(code)
    require_loader(actor, resource)
    return load_records(actor, code, iter_csv(binary_file, catalog.items_of(resource)), channel=channel,
                        progress=progress)


# --- reading ------------------------------------------------------------------------------------------------


def require_history_reader(actor: Actor, resource: Resource) -> Actor:
    """The provider department (officials, or its systems with the write scope) and the bureau."""
    require_same_department(actor, resource.department_id)
    if actor.kind == "system":
        require_scope(actor, WRITE_SCOPE)
    elif actor.kind != "official":
        raise PermissionDenied()
    return actor


def batch_history(actor: Actor, code: str, *, limit: int = 50) -> list[Batch]:
    """The resource's latest accepted batches, newest first."""
    resource = catalog.get_published(code)
    require_history_reader(actor, resource)
    limit = max(1, min(int(limit), HISTORY_LIMIT))
    return list(Batch.objects.filter(resource_code=code).order_by("-created_at", "-id")[:limit])


def state_of(code: str) -> ResourceState | None:
    return ResourceState.objects.filter(resource_code=code).first()


@dataclass
class ResourceRecords:
    resource: Resource
    record_count: int
    last_loaded_at: Any
    last_seq: int


def department_overview(actor: Actor) -> list[ResourceRecords]:
    """The actor's department's published resources with their record counts and last load."""
    require_authenticated(actor)
    if not (actor.kind == "official" and actor.has_role(*LOADER_ROLES)) or actor.department_id is None:
        raise PermissionDenied("只有部门数据管理员可以归集数据", "Only a department's data steward loads records",
                               details={"required_role": sorted(LOADER_ROLES)})
    resources = list(Resource.objects.filter(department_id=actor.department_id, status=Resource.Status.PUBLISHED)
                     .order_by("code"))
    states = {s.resource_code: s for s in ResourceState.objects.filter(resource_code__in=[r.code for r in resources])}
    out = []
    for resource in resources:
        state = states.get(resource.code)
        out.append(ResourceRecords(resource, state.record_count if state else 0,
                                   state.last_loaded_at if state else None, state.last_seq if state else 0))
    return out


def csv_template(code: str) -> str:
    """A CSV with the header row of the resource's items by Chinese name (starts with a BOM for Excel)."""
    items = catalog.items_of(catalog.get_published(code))
    out = io.StringIO()
    out.write("\ufeff")
    names = [item.name for item in items]
    csv.writer(out, lineterminator="\r\n").writerow(
        [formula_safe(item.name) if names.count(item.name) == 1 else item.key for item in items])
    return out.getvalue()
