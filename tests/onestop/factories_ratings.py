"""Builders for ratings, window and inbox tests: applications written straight into the table in
any state (the state machine has its own tests), with review tasks where asked.

    user, citizen = citizen_applicant()
    app = application(service_item("market"), user, status="completed")
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from tests.onestop.factories import actor
from tongban.identity.models import Department, User
from tongban.onestop.models import Application, Rating, ReviewTask, ServiceItem
from tongban.onestop.services import ratings

_serial = itertools.count(1)


def application(item: ServiceItem, user: User, *, status: str = Application.Status.COMPLETED,
                completed_at: datetime.datetime | None = None, form: dict | None = None,
                tasks: Iterable[str] = (), number: str | None = None, **over) -> Application:
    """An application of ``user`` (citizen or enterprise) for ``item`` in ``status``.

    Completed ones get ``completed_at`` (default: now); ``tasks``: department codes with a
    pending review task each."""
    subject = user.citizen.id_number if user.kind == User.Kind.CITIZEN else user.enterprise.uscc
    now = timezone.now()
    fields = {"form": form if form is not None else {"reason": "测试申请"}, "submitted_at": now}
    if status == Application.Status.COMPLETED:
        fields["completed_at"] = completed_at or now
        fields["decided_at"] = fields["completed_at"]
    fields.update(over)
    row = Application.objects.create(number=number or f"TEST{now:%Y%m%d}{next(_serial):05d}", item=item,
                                     applicant=user, subject=subject, status=status, **fields)
    for code in tasks:
        ReviewTask.objects.create(application=row, department=Department.objects.get(code=code))
    return row


def rated(app: Application, level: int = 5, **kwargs) -> Rating:
    """The applicant's rating through the service (in its own transaction)."""
    with transaction.atomic():
        return ratings.rate(actor(app.applicant), app.number, level=level, **kwargs)


def submitted(item: ServiceItem, user: User, form: dict | None = None) -> Application:
    """An application started, filled in and submitted through the state machine
    (``services.applications``); ``form`` defaults to the factories' one ``reason`` field."""
    from tongban.onestop.services import applications

    who = actor(user)
    with transaction.atomic():
        draft = applications.start_application(who, item.code)
        applications.save_form(who, draft.number, form if form is not None else {"reason": "开办个体工商户"})
        return applications.submit(who, draft.number)
