"""Builders for "my data" and open-data tests: records and accesses written straight into the
exchange's tables (so these tests do not depend on the loading and consuming services)."""

from __future__ import annotations

import datetime
import itertools

from django.db import connection
from django.db.models import F
from django.utils import timezone

from tongban.exchange.models import Access, AccessSubject, Batch, Record, ResourceState
from tongban.identity.models import Department
from tongban.ledger import services as ledger

_seq = itertools.count(1)


def records(resource, rows: list[dict], *, subject_key: str | None = None) -> list[Record]:
    """Store ``rows`` as the current records of ``resource`` (one batch, bulk insert)."""
    key = subject_key or next(i.key for i in resource.items.all() if i.is_subject_key)
    batch = Batch.objects.create(resource_code=resource.code, department=resource.department, loaded_by="test",
                                 channel=Batch.Channel.API, rows=len(rows), inserted=len(rows), sha256="0" * 64)
    now = timezone.now()
    built = [Record(resource_code=resource.code, subject=row[key], data=row, seq=next(_seq), batch=batch,
                    updated_at=now) for row in rows]
    created = Record.objects.bulk_create(built, batch_size=2000)
    state, _ = ResourceState.objects.get_or_create(resource_code=resource.code,
                                                   defaults={"department": resource.department})
    ResourceState.objects.filter(pk=state.pk).update(record_count=F("record_count") + len(rows), last_seq=next(_seq))
    return created


def many_enterprise_records(resource, count: int) -> None:
    """``count`` records of an enterprise-keyed resource generated inside the database (tests at
    scale): subject ``91330100<n:09d>X``, ``org_name`` 企业<n>, ``registered_capital`` 100.5."""
    batch = Batch.objects.create(resource_code=resource.code, department=resource.department, loaded_by="test",
                                 channel=Batch.Channel.API, rows=count, inserted=count, sha256="0" * 64)
    table = connection.ops.quote_name(Record._meta.db_table)
    columns = "resource_code, subject, data, seq, batch_id, updated_at"
    if connection.vendor == "postgresql":
        subject = "'91330100' || lpad(i::text, 9, '0') || 'X'"
        sql = (f"INSERT INTO {table} ({columns}) SELECT %s, {subject}, jsonb_build_object('uscc', {subject}, "
               "'org_name', '企业' || i, 'registered_capital', '100.5'), i + 1, %s, %s "
               "FROM generate_series(0, %s - 1) AS i")
    else:
        subject = "'91330100' || substr('000000000' || i, -9) || 'X'"
        sql = (f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s - 1) "
               f"INSERT INTO {table} ({columns}) SELECT %s, {subject}, json_object('uscc', {subject}, "
               "'org_name', '企业' || i, 'registered_capital', '100.5'), i + 1, %s, %s FROM n")
    params = [resource.code, batch.pk, timezone.now(), count]
    with connection.cursor() as cursor:
        cursor.execute(sql, params if connection.vendor == "postgresql" else [count, *params[:3]])
    ResourceState.objects.update_or_create(resource_code=resource.code, defaults={
        "department": resource.department, "record_count": count, "last_seq": count})


def access(consumer_code: str, resource_code: str, subject: str | None, *, items=("name",), mode: str = "query",
           purpose: str = "依法履职核验", at: datetime.datetime | None = None, subjects=(),
           actor: str = "system:test") -> Access:
    """One access row as the consuming service writes it: the subject only as its keyed hash;
    ``subjects`` (a lookup of many) become ``AccessSubject`` rows."""
    row = Access.objects.create(
        at=at or timezone.now(), resource_code=resource_code, consumer_code=consumer_code, actor=actor, mode=mode,
        items=list(items), purpose=purpose, subject_hash=ledger.subject_hash(subject) if subject else "",
        subject_count=len(subjects) or 1, found=1)
    if subjects:
        AccessSubject.objects.bulk_create([AccessSubject(access=row, subject_hash=ledger.subject_hash(s))
                                           for s in subjects])
    return row


def seal(row: Access) -> int:
    """Put ``row`` on the ledger by hand (as the sealing service does) and integrate: its index."""
    event = ledger.record(actor=row.actor, action="exchange.query", subject=f"resource:{row.resource_code}",
                          department=row.consumer_code, payload={"items": row.items, "mode": row.mode})
    Access.objects.filter(pk=row.pk).update(ledger_event_id=event.pk)
    ledger.integrate()
    event.refresh_from_db()
    return event.index


def department_name(code: str) -> str:
    return Department.objects.get(code=code).name
