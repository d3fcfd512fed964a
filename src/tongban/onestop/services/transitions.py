"""The application state machine (办件状态): which status may follow which, and what every
transition leaves behind.

::

    draft ──submit──▶ submitted ──accept──▶ accepted ──▶ under_review ──▶ approved ──▶ completed
      │                 │  │  └─instant rule passes──────────────────────▲        (certificate)
      │                 │  ├─refuse──▶ refused                           │
      │                 │  └─request_supplement──▶ supplement_requested ─┘(submit again → submitted)
      └─────────────────┴──── withdraw (before a decision) ──▶ withdrawn      under_review ──▶ denied

Every transition, in the caller's transaction: the status (and its timestamp), one
``ApplicationEvent`` (the timeline), one ledger entry ``onestop.<verb>`` (subject
``application:<number>``, the applicant only as ``subject_ids``, free text only as its SHA-256)
and a notification to the applicant with a link to ``/me/applications/<number>/``. A transition
the table does not allow is a 409 ``illegal_transition`` naming ``from`` and ``to``.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from tongban.core.errors import Conflict, NotFound
from tongban.core.notifications import notify
from tongban.identity.access import Actor
from tongban.ledger import services as ledger
from tongban.onestop.models import Application, ApplicationEvent

S = Application.Status
TIME_ZONE = ZoneInfo("Asia/Shanghai")
CATEGORY = "onestop.application"
INSTANT = "system:instant-approval"

ALLOWED: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REFUSED, S.SUPPLEMENT_REQUESTED, S.APPROVED, S.WITHDRAWN}),
    S.SUPPLEMENT_REQUESTED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.UNDER_REVIEW: frozenset({S.APPROVED, S.DENIED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.COMPLETED}),
    S.REFUSED: frozenset(), S.DENIED: frozenset(), S.COMPLETED: frozenset(), S.WITHDRAWN: frozenset(),
}
# Before a decision: what the applicant may still withdraw.
WITHDRAWABLE = frozenset({S.DRAFT, S.SUBMITTED, S.SUPPLEMENT_REQUESTED, S.ACCEPTED, S.UNDER_REVIEW})
FINAL = frozenset({S.REFUSED, S.DENIED, S.COMPLETED, S.WITHDRAWN})

# to-status -> (ledger verb, timestamp field, inbox title zh, inbox title en)
STEPS: dict[str, tuple[str, str | None, str, str]] = {
    S.DRAFT: ("started", None, "办件已创建", "Application started"),
    S.SUBMITTED: ("submitted", "submitted_at", "办件已提交", "Application submitted"),
    S.ACCEPTED: ("accepted", "accepted_at", "办件已受理", "Application accepted"),
    S.REFUSED: ("refused", "decided_at", "办件不予受理", "Application not accepted"),
    S.SUPPLEMENT_REQUESTED: ("supplement_requested", None, "请补正材料", "Please supplement your application"),
    S.UNDER_REVIEW: ("review_started", None, "办件进入审查", "Application under review"),
    S.APPROVED: ("approved", "decided_at", "办件已批准", "Application approved"),
    S.DENIED: ("denied", "decided_at", "办件未获批准", "Application denied"),
    S.COMPLETED: ("completed", "completed_at", "办件已办结", "Application completed"),
    S.WITHDRAWN: ("withdrawn", None, "办件已撤回", "Application withdrawn"),
}


def today() -> datetime.date:
    """Today in China (deadlines are calendar dates there)."""
    return timezone.localdate(timezone=TIME_ZONE)


def text_hash(text: str) -> str | None:
    """Free text (reasons, opinions) enters the public ledger as its SHA-256 only."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def actor_name(actor: Actor) -> str:
    return (actor.username or actor.kind)[:150]


def link(number: str) -> str:
    return f"/me/applications/{number}/"


def illegal(application: Application, to: str) -> Conflict:
    return Conflict(f"办件当前状态（{S(application.status).label}）不能转为 {S(to).label}",
                    f"The application cannot go from {application.status} to {to}", code="illegal_transition",
                    details={"number": application.number, "from": application.status, "to": to})


def may_move(application: Application, to: str) -> bool:
    return to in ALLOWED.get(application.status, frozenset())


def locked(number: str) -> Application:
    """The application row, locked for the transition (PostgreSQL; SQLite's write lock serialises)."""
    found = (Application.objects.select_for_update(of=("self",)).select_related("item", "item__department", "applicant")
             .filter(number=number).first())
    if found is None:
        raise NotFound("没有这个办件", "No such application")
    return found


def record(application: Application, actor: str, verb: str, *, department: str | None,
           payload: dict[str, Any] | None = None) -> None:
    """One ledger entry about the application (the applicant only as a keyed hash)."""
    ledger.record(actor=actor, action=f"onestop.{verb}", subject=f"application:{application.number}",
                  payload={"item": application.item.code, **(payload or {})}, department=department,
                  subject_ids=[application.subject])


def event(application: Application, from_status: str, to_status: str, actor: str, note: str = "") -> ApplicationEvent:
    return ApplicationEvent.objects.create(application=application, from_status=from_status, to_status=to_status,
                                           actor=actor, note=note)


def move(application: Application, to: str, *, actor: str, department: str | None, note: str = "",
         payload: dict[str, Any] | None = None, body_zh: str = "", body_en: str = "",
         extra_fields: tuple[str, ...] = ()) -> Application:
    """Apply one transition (checked against the table) with its event, ledger entry and notice."""
    if not may_move(application, to):
        raise illegal(application, to)
    verb, stamp, title_zh, title_en = STEPS[to]
    before = application.status
    application.status = to
    fields = ["status", "updated_at", *extra_fields]
    if stamp:
        setattr(application, stamp, timezone.now())
        fields.append(stamp)
    application.save(update_fields=list(dict.fromkeys(fields)))
    event(application, before, to, actor, note)
    record(application, actor, verb, department=department,
           payload={"from": before, "to": to, "note_sha256": text_hash(note), **(payload or {})})
    item_name = application.item.name
    notify(application.applicant, category=CATEGORY, title_zh=f"{title_zh}：{item_name}"[:200],
           title_en=f"{title_en}: {application.item.name_en or item_name}"[:200],
           body_zh=body_zh or f"办件编号 {application.number}。{note}".strip(),
           body_en=body_en or f"Application number {application.number}. {note}".strip(),
           link=link(application.number))
    return application


# --- numbers ----------------------------------------------------------------------------------------------------


def _next_number(prefix: str) -> str:
    last = (Application.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{n:06d}"


def create_numbered(region: str, **fields: Any) -> Application:
    """A new application with the next readable number ``<region>-<yyyymmdd>-<nnnnnn>`` of the day
    (e.g. ``330000-20261123-000123``); a number taken by a concurrent start is retried."""
    prefix = f"{region}-{today():%Y%m%d}-"
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Application.objects.create(number=_next_number(prefix), **fields)
        except IntegrityError:
            # A concurrent start of the same draft (one draft per applicant and item) resumes it.
            draft = Application.objects.filter(applicant_id=fields.get("applicant_id"), item=fields.get("item"),
                                               status=Application.Status.DRAFT).first()
            if draft is not None:
                return draft
            continue
    raise Conflict("办件编号分配繁忙，请重试", "Numbering is busy; try again", code="number_busy")
