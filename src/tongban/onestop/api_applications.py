"""Applications under /api/v1/onestop: thin — parse, call the service in one transaction, shape.

``POST /applications`` starts (or resumes) a prefilled draft; ``PATCH`` saves the form;
``submit`` / ``withdraw`` (the applicant); ``accept`` / ``refuse`` / ``supplement`` /
``complete`` (the implementing department's clerks and approvers); ``POST /tasks/{id}/decision``
(the task department's); ``GET /applications?queue=clerk|tasks`` (officials' queues; citizens
and enterprises get their own applications); ``POST /items/{code}/rules`` (a new version of the
instant-approval rule) and ``.../rules/test``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from tongban.core.errors import InvalidInput
from tongban.identity.access import Actor
from tongban.onestop.models import Application, InstantRule, ReviewTask, Upload
from tongban.onestop.services import applications as services
from tongban.onestop.services import prefill as prefilling
from tongban.onestop.services import rules, uploads

router = Router(tags=["onestop: applications"])


# --- schemas --------------------------------------------------------------------------------------------------


class ApplicationStartIn(Schema):
    item: str = Field(..., description="Implementation code of a published service item")
    form: dict[str, Any] = Field(default_factory=dict, description="Answers to save at once (optional)")


class ApplicationFormIn(Schema):
    form: dict[str, Any]


class RefusalIn(Schema):
    reason: str


class SupplementIn(Schema):
    problems: list[dict[str, Any]] = Field(..., description='[{"field": key | "material": id, "reason": text}]')


class TaskDecisionIn(Schema):
    approve: bool
    opinion: str


class InstantRuleIn(Schema):
    logic: Any = Field(..., description="A JSON-Logic expression (tongban's subset; see core.jsonlogic)")
    description: str = ""


class InstantRuleTestIn(Schema):
    logic: Any
    sample: dict[str, Any] = Field(default_factory=dict, description='{"form": {...}, "data": {...}, "wallet": {...}}')


class ApplicationQueueFilter(Schema):
    queue: str | None = Field(None, description="clerk (the window) or tasks (review tasks); officials")
    status: str | None = Field(None, description="For queue=clerk: submitted (default), supplement_requested, ...")


class ReviewTaskOut(Schema):
    id: int
    department: str
    department_name: str
    status: str
    opinion: str
    decided_by: str
    decided_at: datetime.datetime | None


class ApplicationUploadOut(Schema):
    id: int
    material: int
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime.datetime


class ApplicationEventOut(Schema):
    from_status: str
    to_status: str
    actor: str
    note: str
    at: datetime.datetime


class ApplicationSummaryOut(Schema):
    number: str
    status: str
    status_label: str
    item: str
    item_name: str
    department: str
    reused_count: int
    created_at: datetime.datetime
    submitted_at: datetime.datetime | None
    due_on: datetime.date | None
    overdue: bool


class ApplicationOut(ApplicationSummaryOut):
    form: dict[str, Any]
    prefilled: dict[str, Any]
    reused: dict[str, Any]
    missing: list[dict[str, Any]]
    rule_result: dict[str, Any] | None
    supplement: list[dict[str, Any]]
    reason: str
    credential_id: str | None
    accepted_at: datetime.datetime | None
    decided_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    tasks: list[ReviewTaskOut]
    uploads: list[ApplicationUploadOut]
    timeline: list[ApplicationEventOut]


class ApplicationQueueRow(ApplicationSummaryOut):
    task: ReviewTaskOut | None = None


class ApplicationQueueOut(Schema):
    queue: str
    items: list[ApplicationQueueRow]
    count: int


class TaskDecisionOut(Schema):
    task: ReviewTaskOut
    application: ApplicationOut


class InstantRuleOut(Schema):
    item: str
    version: int
    logic: Any
    description: str
    is_current: bool
    created_by: str
    created_at: datetime.datetime


class InstantRuleTestOut(Schema):
    passed: bool
    result: Any = None
    reasons: list[dict[str, Any]]
    problems: list[dict[str, Any]]


# --- shaping ----------------------------------------------------------------------------------------------------


def task_out(task: ReviewTask) -> dict:
    return {"id": task.pk, "department": task.department.code, "department_name": task.department.name,
            "status": task.status, "opinion": task.opinion, "decided_by": task.decided_by,
            "decided_at": task.decided_at}


def upload_out(upload: Upload) -> dict:
    return {"id": upload.pk, "material": upload.material_id, "name": upload.original_name,
            "content_type": upload.content_type, "size": upload.size, "sha256": upload.sha256,
            "uploaded_at": upload.uploaded_at}


def summary_out(application: Application) -> dict:
    return {"number": application.number, "status": application.status,
            "status_label": str(Application.Status(application.status).label), "item": application.item.code,
            "item_name": application.item.name, "department": application.item.department.code,
            "reused_count": application.reused_count, "created_at": application.created_at,
            "submitted_at": application.submitted_at, "due_on": application.due_on,
            "overdue": services.overdue(application)}


def application_out(application: Application, actor: Actor) -> dict:
    tasks = application.tasks.select_related("department").order_by("pk")
    shown = prefilling.shown_to(actor, application)  # masked for officials unless the grant clears it
    return {
        **summary_out(application), "form": shown["form"], "prefilled": shown["prefilled"],
        "reused": shown["reused"], "missing": services.missing(application),
        "rule_result": application.rule_result, "supplement": application.supplement or [],
        "reason": application.reason, "credential_id": str(application.credential_id) if application.credential_id
        else None, "accepted_at": application.accepted_at, "decided_at": application.decided_at,
        "completed_at": application.completed_at, "tasks": [task_out(t) for t in tasks],
        "uploads": [upload_out(u) for u in uploads.uploads_of(application)],
        "timeline": [{"from_status": e.from_status, "to_status": e.to_status, "actor": e.actor, "note": e.note,
                      "at": e.at} for e in services.timeline(application)],
    }


def rule_out(rule: InstantRule) -> dict:
    return {"item": rule.item.code, "version": rule.version, "logic": rule.logic, "description": rule.description,
            "is_current": rule.is_current, "created_by": rule.created_by, "created_at": rule.created_at}


def _answer(request, number: str) -> dict:
    return application_out(services.get_application(request.auth, number), request.auth)


# --- the applicant ----------------------------------------------------------------------------------------------


@router.post("/applications", response={201: ApplicationOut},
             summary="Start an application (prefilled from government records; resumes an existing draft)")
def start(request, payload: ApplicationStartIn):
    with transaction.atomic():
        application = services.start_application(request.auth, payload.item)
        if payload.form:
            services.save_form(request.auth, application.number, payload.form)
        return Status(201, _answer(request, application.number))


@router.get("/applications", response=ApplicationQueueOut,
            summary="Officials: the window queue (queue=clerk) or review tasks (queue=tasks); others: their own")
def list_applications(request, filters: Query[ApplicationQueueFilter]):
    actor = request.auth
    with transaction.atomic():
        if actor.kind in ("citizen", "enterprise") and not filters.queue:
            rows = [summary_out(a) for a in services.my_applications(actor)]
            return {"queue": "mine", "items": rows, "count": len(rows)}
        queue = filters.queue or "clerk"
        if queue == "clerk":
            found = services.clerk_queue(actor, **({"status": filters.status} if filters.status else {}))
            rows = [summary_out(a) for a in found]
        elif queue == "tasks":
            rows = [{**summary_out(t.application), "task": task_out(t)} for t in services.task_queue(actor)]
        else:
            raise InvalidInput("队列应为 clerk 或 tasks", "The queue is clerk or tasks", code="invalid_queue")
    return {"queue": queue, "items": rows, "count": len(rows)}


@router.get("/applications/{number}", response=ApplicationOut, summary="One application with its timeline")
def get_application(request, number: str):
    with transaction.atomic():
        return _answer(request, number)


@router.patch("/applications/{number}", response=ApplicationOut,
              summary="Save answers (draft or supplement requested; prefilled fields are fixed)")
def save_form(request, number: str, payload: ApplicationFormIn):
    with transaction.atomic():
        services.save_form(request.auth, number, payload.form)
        return _answer(request, number)


@router.post("/applications/{number}/submit", response=ApplicationOut,
             summary="Submit (422 incomplete_application lists everything missing); instant approval if the rule passes")
def submit(request, number: str):
    with transaction.atomic():
        services.submit(request.auth, number)
        return _answer(request, number)


@router.post("/applications/{number}/withdraw", response=ApplicationOut, summary="Withdraw before a decision")
def withdraw(request, number: str):
    with transaction.atomic():
        services.withdraw(request.auth, number)
        return _answer(request, number)


@router.post("/applications/{number}/uploads", response={201: ApplicationUploadOut},
             summary="Upload a file for a material (PDF, JPG or PNG, at most 10 MB)")
def add_upload(request, number: str, material: Form[int], file: File[UploadedFile]):
    with transaction.atomic():
        return Status(201, upload_out(uploads.add_upload(request.auth, number, material, file)))


@router.delete("/applications/{number}/uploads/{upload_id}", response={204: None}, summary="Remove an uploaded file")
def remove_upload(request, number: str, upload_id: int):
    with transaction.atomic():
        uploads.remove_upload(request.auth, number, upload_id)
    return Status(204, None)


# --- the window and the review ------------------------------------------------------------------------------


@router.post("/applications/{number}/accept", response=ApplicationOut,
             summary="Accept (受理): deadline in working days, then parallel review tasks")
def accept(request, number: str):
    with transaction.atomic():
        services.accept(request.auth, number)
        return _answer(request, number)


@router.post("/applications/{number}/refuse", response=ApplicationOut, summary="Do not accept (不予受理), with a reason")
def refuse(request, number: str, payload: RefusalIn):
    with transaction.atomic():
        services.refuse(request.auth, number, payload.reason)
        return _answer(request, number)


@router.post("/applications/{number}/supplement", response=ApplicationOut,
             summary="Ask for a supplement (补正), listing every problem at once")
def supplement(request, number: str, payload: SupplementIn):
    with transaction.atomic():
        services.request_supplement(request.auth, number, payload.problems)
        return _answer(request, number)


@router.post("/applications/{number}/complete", response=ApplicationOut,
             summary="Complete an approved application whose certificate was not issued at once")
def complete(request, number: str):
    with transaction.atomic():
        services.complete(request.auth, number)
        return _answer(request, number)


@router.post("/tasks/{task_id}/decision", response=TaskDecisionOut,
             summary="A department's review decision (approve / deny with an opinion)")
def decide(request, task_id: int, payload: TaskDecisionIn):
    with transaction.atomic():
        task = services.decide_task(request.auth, task_id, approve=payload.approve, opinion=payload.opinion)
        task.refresh_from_db()
        return {"task": task_out(task), "application": _answer(request, task.application.number)}


# --- rules ------------------------------------------------------------------------------------------------------


@router.post("/items/{code}/rules", response={201: InstantRuleOut},
             summary="A new version of the item's instant-approval rule (checked against its variables)")
def set_rule(request, code: str, payload: InstantRuleIn):
    with transaction.atomic():
        return Status(201, rule_out(rules.set_rule(request.auth, code, payload.logic, payload.description)))


@router.post("/items/{code}/rules/test", response=InstantRuleTestOut, summary="Try a rule on sample data (nothing stored)")
def test_rule(request, code: str, payload: InstantRuleTestIn):
    with transaction.atomic():
        return rules.test_rule(payload.logic, payload.sample, item_code=code, actor=request.auth)
