"""Builders shared by the statistics and assessment tests (no tests here): rows written straight
into the other apps' tables, with the dates a test needs (the statistics only read them).

``PERIOD`` is the previous month (every date in it is in the past); ``day(n)`` / ``at(n)`` are
its n-th day as a date / a local datetime at 10:00."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from tests.identity.factories import make_department
from tests.onestop.factories import citizen_applicant, official_user, service_item
from tongban.catalog.models import Resource
from tongban.exchange.models import Access, AccessRequest, Batch, Grant, Record, ResourceState
from tongban.identity.access import actor_for_user
from tongban.onestop.models import Application, Rating, RectificationTicket
from tongban.oversight.services.stats import TIME_ZONE, today

_serial = itertools.count(1)
_first = today().replace(day=1)
_previous = (_first - datetime.timedelta(days=1)).replace(day=1)
PERIOD = _previous.strftime("%Y-%m")


def day(n: int) -> datetime.date:
    return _previous.replace(day=n)


def at(n: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime.combine(day(n), datetime.time(hour), tzinfo=TIME_ZONE)


def actor(department_code: str, *roles: str, is_bureau: bool = False):
    return actor_for_user(official_user(department_code, *roles, is_bureau=is_bureau))


def bureau_actor():
    return actor("bureau", "bureau_admin", "cdo", is_bureau=True)


def auditor_actor():
    return actor("bureau", "auditor", is_bureau=True)


def citizen_actor():
    return actor_for_user(citizen_applicant()[0])


def resource(department_code: str, *, quality_score: int | None = 80, records: int = 0,
             status: str = Resource.Status.PUBLISHED, name: str = "测试资源") -> Resource:
    """A catalog resource of the department (published unless ``status``) with ``records``
    records loaded (and the exchange's record count)."""
    department = make_department(department_code)
    n = next(_serial)
    row = Resource.objects.create(
        code=f"{department_code}-{n:05d}", department=department, name=f"{name}{n}", abstract="测试用资源。",
        sharing=Resource.Sharing.CONDITIONAL, opening=Resource.Opening.CLOSED,
        update_cycle=Resource.UpdateCycle.DAILY, status=status, quality_score=quality_score,
        published_at=timezone.now() if status == Resource.Status.PUBLISHED else None)
    if records:
        batch = Batch.objects.create(resource_code=row.code, department=department, loaded_by="test",
                                     channel=Batch.Channel.API, rows=records, inserted=records, sha256="0" * 64)
        Record.objects.bulk_create([Record(resource_code=row.code, subject=f"S{n:05d}{i:06d}", data={}, seq=i + 1,
                                           batch=batch, updated_at=timezone.now()) for i in range(records)])
        ResourceState.objects.create(resource_code=row.code, department=department, last_seq=records,
                                     record_count=records, last_loaded_at=timezone.now())
    return row


def request(provider: str, consumer: str, *, submitted: datetime.datetime, due_on: datetime.date | None,
            status: str = AccessRequest.Status.PENDING, decided: datetime.datetime | None = None,
            resource_code: str = "") -> AccessRequest:
    row = AccessRequest.objects.create(
        resource_code=resource_code or f"{provider}-res", resource_name="测试资源", provider=make_department(provider),
        consumer=make_department(consumer), requested_by="test", items=["name"], modes=["query"], purpose="测试",
        legal_basis="测试", duration_days=30, status=status, due_on=due_on, decided_at=decided)
    AccessRequest.objects.filter(pk=row.pk).update(submitted_at=submitted)
    row.refresh_from_db()
    return row


def grant(provider: str, consumer: str, resource_code: str, *, active: bool = True) -> Grant:
    now = timezone.now()
    return Grant.objects.create(
        resource_code=resource_code, provider=make_department(provider), consumer=make_department(consumer),
        items=["name"], modes=["query"], purpose="测试", starts_at=now - datetime.timedelta(days=1),
        expires_at=now + datetime.timedelta(days=30 if active else -0.5), created_by="test")


def accesses(consumer: str, resource_code: str, count: int = 1, *, when: datetime.datetime | None = None,
             found: int = 1) -> None:
    Access.objects.bulk_create([Access(at=when or timezone.now(), resource_code=resource_code, consumer_code=consumer,
                                       actor="test", mode="query", subject_count=1, found=found)
                                for _ in range(count)])


def service(department_code: str):
    return service_item(department_code)


def application(item, *, status: str = Application.Status.COMPLETED, submitted: datetime.datetime | None = None,
                completed: datetime.datetime | None = None, due_on: datetime.date | None = None,
                instant: bool = False, reused: int = 0) -> Application:
    user, citizen = citizen_applicant()
    fields = {"submitted_at": submitted, "due_on": due_on, "reused_count": reused,
              "rule_result": {"version": 1, "passed": instant, "reasons": []} if instant else None}
    if status == Application.Status.COMPLETED:
        fields.update(completed_at=completed, decided_at=completed)
    return Application.objects.create(number=f"T{next(_serial):08d}", item=item, applicant=user,
                                      subject=citizen.id_number, status=status, **fields)


def rating(app: Application, level: int, *, when: datetime.datetime) -> Rating:
    row = Rating.objects.create(application=app, level=level)
    Rating.objects.filter(pk=row.pk).update(created_at=when)
    row.refresh_from_db()
    return row


def ticket(row: Rating, *, due_on: datetime.date, replied: datetime.datetime | None = None,
           opened: datetime.datetime | None = None) -> RectificationTicket:
    status = RectificationTicket.Status.REPLIED if replied else RectificationTicket.Status.OPEN
    made = RectificationTicket.objects.create(rating=row, department=row.application.item.department, status=status,
                                              due_on=due_on, replied_at=replied, reply="已整改" if replied else "")
    RectificationTicket.objects.filter(pk=made.pk).update(created_at=opened or row.created_at)
    return made
