"""The officials' side of an application: the window (一窗受理: accept, refuse, ask for a
supplement), the parallel review (并联审批: one task per involved department), completion,
the queues, and deadlines.

Authorization (deny by default): an application is seen by its applicant, by officials of the
implementing and co-handling departments and by the bureau's officials — never as a draft by
anyone but the applicant; anyone else gets 404. Handling it takes the role ``clerk`` or
``approver`` in the implementing department (the window, completion) or in the task's
department (a review decision), or a department-system token of that department with the scope
``onestop:applications``. Callers hold the transaction.

Deadlines: ``due_on`` = acceptance day + the item's promised working days (``core.workdays``);
an application still accepted / under review / approved after that day is overdue.
``sweep_overdue_applications`` (huey, hourly) records newly overdue ones in the ledger and tells
the implementing department's clerks and approvers.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.notifications import notify
from tongban.core.workdays import add_working_days
from tongban.identity.access import Actor, require_authenticated
from tongban.identity.models import User
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application, Material, ReviewTask
from tongban.onestop.services import completion, transitions
from tongban.onestop.services.transitions import S, actor_name

HANDLER_ROLES = ("clerk", "approver")
OVERSIGHT_ROLES = ("bureau_admin", "cdo", "auditor")
SCOPE = "onestop:applications"
RUNNING = (S.ACCEPTED, S.UNDER_REVIEW, S.APPROVED)
OVERDUE = "onestop.applications_overdue"
SWEEPER = "system:overdue-sweep"
MAX_REASON = 2000
MAX_PROBLEMS = 50
T = ReviewTask.Status


# --- who ------------------------------------------------------------------------------------------------------


def involved(application: Application) -> set[int]:
    return {application.item.department_id, *application.item.co_departments.values_list("pk", flat=True)}


def may_see(actor: Actor, application: Application) -> bool:
    if not actor.is_authenticated:
        return False
    if actor.kind in ("citizen", "enterprise"):
        return actor.user_id is not None and application.applicant_id == actor.user_id
    if application.status == S.DRAFT:
        return False
    if actor.kind == "official":
        return actor.department_id in involved(application) or oversees(actor)
    if actor.kind == "system":
        return actor.scopes is not None and SCOPE in actor.scopes and actor.department_id in involved(application)
    return False


def oversees(actor: Actor) -> bool:
    """The bureau's oversight (administrator, chief data officer, auditor) reads every submitted
    application; other bureau staff only those their own department handles."""
    return actor.kind == "official" and actor.is_bureau and actor.has_role(*OVERSIGHT_ROLES)


def handles(actor: Actor, department_id: int | None) -> bool:
    """Acts for ``department_id``: its clerk or approver, or its system token with the scope."""
    if department_id is None or actor.department_id != department_id:
        return False
    if actor.kind == "official":
        return actor.has_role(*HANDLER_ROLES)
    return actor.kind == "system" and actor.scopes is not None and SCOPE in actor.scopes


def _not_found() -> NotFound:
    return NotFound("没有这个办件", "No such application")


def _denied() -> PermissionDenied:
    return PermissionDenied("只有承办部门的窗口人员或审批人员可以办理", "Only the department's clerks and approvers "
                            "handle it", details={"required_role": list(HANDLER_ROLES)})


def _for_window(actor: Actor, number: str) -> Application:
    require_authenticated(actor)
    application = transitions.locked(number)
    if not may_see(actor, application):
        raise _not_found()
    if not handles(actor, application.item.department_id):
        raise _denied()
    return application


def _reason(text: str | None, code: str, zh: str, en: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise InvalidInput(f"请填写{zh}", f"Give the {en}", code=code)
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"{zh}最多 {MAX_REASON} 字", f"The {en} is at most {MAX_REASON} characters", code=code)
    return reason


# --- the window ---------------------------------------------------------------------------------------------


def accept(actor: Actor, number: str) -> Application:
    """受理: submitted → accepted (due date set) → under_review with one task per involved department."""
    application = _for_window(actor, number)
    if not transitions.may_move(application, S.ACCEPTED):
        raise transitions.illegal(application, S.ACCEPTED)
    application.due_on = add_working_days(transitions.today(), application.item.promised_days)
    who, department = actor_name(actor), actor.department_code
    transitions.move(application, S.ACCEPTED, actor=who, department=department,
                     note=f"承诺办结日期 {application.due_on.isoformat()}", extra_fields=("due_on",),
                     payload={"due_on": application.due_on.isoformat()})
    departments = [application.item.department, *application.item.co_departments.order_by("code")]
    ReviewTask.objects.bulk_create([ReviewTask(application=application, department=d) for d in departments])
    return transitions.move(application, S.UNDER_REVIEW, actor=who, department=department,
                            note="并联审查：" + "、".join(d.name for d in departments),
                            payload={"departments": [d.code for d in departments]})


def refuse(actor: Actor, number: str, reason: str) -> Application:
    """不予受理, with the reason the applicant reads."""
    application = _for_window(actor, number)
    reason = _reason(reason, "reason_required", "不予受理的理由", "reason for not accepting")
    if not transitions.may_move(application, S.REFUSED):
        raise transitions.illegal(application, S.REFUSED)
    application.reason = reason
    return transitions.move(application, S.REFUSED, actor=actor_name(actor), department=actor.department_code,
                            note=reason, extra_fields=("reason",))


def _clean_problems(application: Application, problems: Any) -> list[dict]:
    if not isinstance(problems, list) or not problems:
        raise InvalidInput("请列出需要补正的全部内容", "List everything to correct", code="invalid_supplement",
                           details={"problems": [{"index": None, "error": "empty"}]})
    fields = {f["key"]: f for f in application.item.form_schema or [] if isinstance(f, dict) and f.get("key")}
    materials = {m.pk: m for m in Material.objects.filter(item_id=application.item_id)}
    cleaned, errors = [], []
    for index, problem in enumerate(problems[:MAX_PROBLEMS + 1]):
        if index >= MAX_PROBLEMS:
            errors.append({"index": index, "error": f"at most {MAX_PROBLEMS} problems"})
            break
        if not isinstance(problem, dict):
            errors.append({"index": index, "error": "not an object"})
            continue
        reason = str(problem.get("reason") or "").strip()
        if not reason or len(reason) > 500:
            errors.append({"index": index, "error": "reason required (at most 500 characters)"})
            continue
        if ("field" in problem) == ("material" in problem):
            errors.append({"index": index, "error": "name exactly one of field or material"})
        elif "field" in problem:
            key = problem["field"]
            if key not in fields:
                errors.append({"index": index, "error": f"unknown field {key!r}"})
            else:
                cleaned.append({"field": key, "label": fields[key].get("label", key), "reason": reason})
        else:
            raw = problem["material"]
            material = materials.get(int(raw)) if str(raw).isdigit() else None
            if material is None:
                errors.append({"index": index, "error": f"unknown material {raw!r}"})
            else:
                cleaned.append({"material": material.pk, "name": material.name, "reason": reason})
    if errors:
        raise InvalidInput("补正内容有误", "The supplement request has errors", code="invalid_supplement",
                           details={"problems": errors})
    return cleaned


def request_supplement(actor: Actor, number: str, problems: list[dict]) -> Application:
    """补正: every field / material to correct, at once → supplement_requested."""
    application = _for_window(actor, number)
    if not transitions.may_move(application, S.SUPPLEMENT_REQUESTED):
        raise transitions.illegal(application, S.SUPPLEMENT_REQUESTED)
    application.supplement = _clean_problems(application, problems)
    lines = [f"{p.get('label') or p.get('name')}：{p['reason']}" for p in application.supplement]
    note = "请一次补正以下内容：" + "；".join(lines)
    return transitions.move(application, S.SUPPLEMENT_REQUESTED, actor=actor_name(actor),
                            department=actor.department_code, note=note, extra_fields=("supplement",),
                            payload={"problems": [{"field": p["field"]} if "field" in p else {"material": p["material"]}
                                                  for p in application.supplement]})


# --- the parallel review ------------------------------------------------------------------------------------


def decide_task(actor: Actor, task_id: int, *, approve: bool, opinion: str) -> ReviewTask:
    """One department's decision. All approved → approved → completed; one denied → denied."""
    require_authenticated(actor)
    task = ReviewTask.objects.select_related("department").filter(pk=task_id).first() \
        if str(task_id).isdigit() else None
    if task is None or not handles(actor, task.department_id):
        if task is not None and actor.kind == "official" and actor.department_id == task.department_id:
            raise _denied()
        raise NotFound("没有这个审查任务", "No such review task")
    opinion = _reason(opinion, "opinion_required", "审查意见", "opinion")
    application = transitions.locked(task.application.number)
    task = ReviewTask.objects.select_for_update(of=("self",)).select_related("department").get(pk=task.pk)
    if task.status != T.PENDING:
        raise Conflict("该审查任务已处理", "The task has already been decided", code="task_not_pending",
                                   details={"task": task.pk, "status": task.status})
    if application.status != S.UNDER_REVIEW:
        raise transitions.illegal(application, S.APPROVED if approve else S.DENIED)
    who, department = actor_name(actor), actor.department_code
    task.status = T.APPROVED if approve else T.DENIED
    task.opinion, task.decided_by, task.decided_at = opinion, who, timezone.now()
    task.save(update_fields=["status", "opinion", "decided_by", "decided_at"])
    verdict = "通过" if approve else "不通过"
    transitions.event(application, S.UNDER_REVIEW, S.UNDER_REVIEW, who, f"{task.department.name}审查{verdict}：{opinion}")
    transitions.record(application, who, "task_decided", department=department,
                       payload={"task": task.pk, "department": task.department.code, "approve": bool(approve),
                                "opinion_sha256": transitions.text_hash(opinion)})
    if not approve:
        application.tasks.filter(status=T.PENDING).update(status=T.CANCELLED)
        application.reason = f"{task.department.name}：{opinion}"
        transitions.move(application, S.DENIED, actor=who, department=department, note=application.reason,
                         extra_fields=("reason",))
    elif not application.tasks.exclude(status=T.APPROVED).exists():
        completion.approve_and_complete(application, actor=who, department=department, note="各部门审查均已通过")
    return task


def complete(actor: Actor, number: str) -> Application:
    """Complete an approved application whose certificate could not be issued at once (retry)."""
    application = _for_window(actor, number)
    return completion.complete(application, actor=actor_name(actor), department=actor.department_code)


# --- queues and deadlines -----------------------------------------------------------------------------------


def _require_handler(actor: Actor) -> None:
    require_authenticated(actor)
    if not handles(actor, actor.department_id):
        raise _denied()


def clerk_queue(actor: Actor, *, status: str = S.SUBMITTED) -> QuerySet[Application]:
    """The department's applications waiting at the window (``submitted``; oldest first)."""
    _require_handler(actor)
    if status not in (S.SUBMITTED, S.SUPPLEMENT_REQUESTED, S.ACCEPTED, S.UNDER_REVIEW, S.APPROVED):
        raise InvalidInput("队列状态无效", "Invalid queue status", code="invalid_status")
    return (Application.objects.select_related("item", "applicant")
            .filter(item__department_id=actor.department_id, status=status).order_by("submitted_at", "id"))


def task_queue(actor: Actor) -> QuerySet[ReviewTask]:
    """The department's pending review tasks, the earliest deadline first."""
    _require_handler(actor)
    return (ReviewTask.objects.select_related("application", "application__item", "department")
            .filter(department_id=actor.department_id, status=T.PENDING, application__status=S.UNDER_REVIEW)
            .order_by("application__due_on", "application__submitted_at", "id"))


def overdue(application: Application, on: datetime.date | None = None) -> bool:
    return application.status in RUNNING and application.due_on is not None \
        and application.due_on < (on or transitions.today())


def overdue_applications() -> QuerySet[Application]:
    return Application.objects.filter(Q(status__in=RUNNING), due_on__lt=transitions.today())


def flag_overdue_applications() -> list[Application]:
    """The overdue applications; newly overdue ones (since the last sweep's entry) are recorded
    in one ledger entry and announced to their department's clerks and approvers."""
    rows = list(overdue_applications().select_related("item", "item__department").order_by("due_on", "id"))
    numbers = [a.number for a in rows]
    last = LedgerEvent.objects.filter(action=OVERDUE).order_by("-id").first()
    seen = set(ledger.entry_content(last)["payload"].get("overdue", [])) if last else set()
    new = [a for a in rows if a.number not in seen]
    if new:
        ledger.record(actor=SWEEPER, action=OVERDUE, subject="onestop:applications",
                      payload={"overdue": numbers, "new": [a.number for a in new],
                               "on": transitions.today().isoformat()})
        for application in new:
            officials = User.objects.filter(department_id=application.item.department_id, is_active=True,
                                            role_assignments__role__in=HANDLER_ROLES).distinct()
            for user in officials:
                notify(user, category="onestop.overdue",
                       title_zh=f"办件逾期：{application.number}"[:200],
                       title_en=f"Application overdue: {application.number}"[:200],
                       body_zh=f"{application.item.name}，承诺办结日期 {application.due_on}。",
                       body_en=f"{application.item.name_en or application.item.name}, due {application.due_on}.",
                       link=f"/workbench/onestop/applications/{application.number}/")
    return rows


@db_periodic_task(crontab(minute="20", hour="*"), name="tongban.onestop.sweep_overdue_applications")
def sweep_overdue_applications() -> int:
    with transaction.atomic():
        return len(flag_overdue_applications())
