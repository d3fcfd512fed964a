"""Access requests (共享申请): a consumer department asks for items of a provider's resource.

Callers hold the transaction. Authorization (deny by default):
* an official of the consumer department (steward, department admin, clerk or approver)
  submits and withdraws; never for the department's own resource;
* an official of the provider department (approver, steward, department admin) decides, with a
  reason; another department is told the request does not exist (404);
* the bureau (any official of the bureau department) sees every request; its administrator or
  chief data officer escalates (督办) pending ones.

By sharing class: 无条件共享 (``open_share``) is approved at once by the platform (still
recorded, with a grant); 有条件共享 (``conditional``) waits for the provider, who must answer
within 10 working days (``due_on``; overdue ones are flagged to the bureau); 不予共享
(``no_share``) allows only a verification request, and only where the provider enabled it.
Every state change writes a ledger entry; a grant created bumps the access generation.
"""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.catalog import services as catalog
from tongban.catalog.models import Item, Resource
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.workdays import add_working_days
from tongban.exchange.models import AccessRequest, Grant, Mode, ResourceState
from tongban.exchange.services import grants
from tongban.exchange.services.grants import (
    DECIDER_ROLES,
    actor_name,
    check_clear_items,
    check_rate_limit,
    is_bureau_official,
    is_bureau_overseer,
    record,
    required_text,
    text_hash,
)
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent

Status = AccessRequest.Status
REQUESTER_ROLES = (Role.STEWARD, Role.DEPT_ADMIN, Role.CLERK, Role.APPROVER)
SETTING_ROLES = (Role.STEWARD, Role.DEPT_ADMIN)
MODES = tuple(Mode.values)  # query, verify, subscribe
ANSWER_WORKING_DAYS = 10
MAX_DURATION_DAYS = 1095
AUTO_APPROVER = "system:auto-approval"
SWEEPER = "system:overdue-sweep"
TIME_ZONE = ZoneInfo("Asia/Shanghai")
LIMITS = {"purpose": 500, "scenario": 2000, "legal_basis": 1000}

SUBMITTED = "exchange.request_submitted"
APPROVED = "exchange.request_approved"
REJECTED = "exchange.request_rejected"
WITHDRAWN = "exchange.request_withdrawn"
ESCALATED = "exchange.request_escalated"
OVERDUE = "exchange.requests_overdue"
VERIFY_SETTING = "exchange.verify_when_not_shared_set"
TRAIL_ACTIONS = (SUBMITTED, APPROVED, REJECTED, WITHDRAWN, ESCALATED, grants.GRANT_UPDATED, grants.GRANT_REVOKED)


def today() -> datetime.date:
    """Today in China (deadlines are calendar dates there)."""
    return timezone.localdate(timezone=TIME_ZONE)


def _problem(field: str, code: str, message_zh: str, message_en: str, **extra: Any) -> dict:
    return {"field": field, "code": code, "message_zh": message_zh, "message_en": message_en, **extra}


def _raise_problems(problems: list[dict], **details: Any) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput(first["message_zh"], first["message_en"], code=first["code"],
                           details={"errors": problems, **details})


# --- submitting ---------------------------------------------------------------------------------------------


def may_request(actor: Actor) -> bool:
    return actor.kind == "official" and actor.department_id is not None and actor.has_role(*REQUESTER_ROLES)


def verify_enabled(resource_code: str) -> bool:
    return ResourceState.objects.filter(resource_code=resource_code, verify_when_not_shared=True).exists()


def default_clear_items(resource: Resource, items: list[str]) -> list[str]:
    """Requested items returned in clear unless the provider says otherwise: only general-grade
    items that are not personal-sensitive, not the subject key and carry no masking rule of the
    steward's (an explicit rule or a higher grade is a decision to hide the value by default)."""
    masked = {i.key for i in catalog.items_of(resource)
              if i.personal_sensitive or i.is_subject_key or i.masking != Item.Masking.NONE
              or i.grade != Item.Grade.GENERAL}
    return [key for key in items if key not in masked]


def _clean_submission(resource: Resource, items, modes, purpose, scenario, legal_basis, duration_days):
    problems: list[dict] = []
    keys = [i.key for i in catalog.items_of(resource)]
    chosen = list(dict.fromkeys(items or []))
    unknown = [key for key in chosen if key not in keys]
    if not chosen:
        problems.append(_problem("items", "items_required", "请至少选择一个信息项", "Choose at least one item"))
    elif unknown:
        problems.append(_problem("items", "unknown_item", f"资源中没有这些信息项：{'、'.join(unknown)}",
                                 f"The resource has no items {', '.join(unknown)}", unknown=unknown))
    chosen_modes = list(dict.fromkeys(modes or []))
    if not chosen_modes or any(mode not in MODES for mode in chosen_modes):
        problems.append(_problem("modes", "invalid_modes", "请选择使用方式：查询、核验或订阅",
                                 "Choose the modes: query, verify or subscribe", allowed=list(MODES)))
    texts = {"purpose": (purpose, "用途", "purpose"), "scenario": (scenario, "使用场景", "usage scenario"),
             "legal_basis": (legal_basis, "依据", "legal basis")}
    cleaned = {}
    for field, (value, label_zh, label_en) in texts.items():
        text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
        if not text and field != "scenario":
            problems.append(_problem(field, f"{field}_required", f"请填写{label_zh}", f"The {label_en} is required"))
        elif len(text) > LIMITS[field]:
            problems.append(_problem(field, "too_long", f"{label_zh}不得超过 {LIMITS[field]} 个字符",
                                     f"The {label_en} is limited to {LIMITS[field]} characters"))
        cleaned[field] = text
    if isinstance(duration_days, bool) or not isinstance(duration_days, int) \
            or not 1 <= duration_days <= MAX_DURATION_DAYS:
        problems.append(_problem("duration_days", "invalid_duration", f"申请期限应为 1 至 {MAX_DURATION_DAYS} 天",
                                 f"The duration must be 1 to {MAX_DURATION_DAYS} days"))
    _raise_problems(problems, **({"unknown": unknown} if unknown else {}))
    ordered_items = [key for key in keys if key in chosen]
    ordered_modes = [mode for mode in MODES if mode in chosen_modes]
    return ordered_items, ordered_modes, cleaned


def submit_request(actor: Actor, *, resource_code: str, items: list[str], modes: list[str], purpose: str,
                   scenario: str = "", legal_basis: str, duration_days: int) -> AccessRequest:
    """Ask for ``items`` of a published resource in ``modes``; 无条件共享 is granted at once."""
    require_authenticated(actor)
    if not may_request(actor):
        raise PermissionDenied("只有部门的数据管理员、管理员、窗口人员或审批人员可以申请共享",
                               "Only a department's steward, admin, clerk or approver requests access")
    resource = catalog.get_published(resource_code)
    if resource.department_id == actor.department_id:
        raise InvalidInput("不能申请本部门自己的资源", "A department does not request its own resource",
                           code="own_resource")
    items, modes, texts = _clean_submission(resource, items, modes, purpose, scenario, legal_basis, duration_days)
    sharing = resource.sharing
    if sharing == Resource.Sharing.NO_SHARE and (modes != [Mode.VERIFY] or not verify_enabled(resource.code)):
        offered = verify_enabled(resource.code)
        message_zh = ("该资源为不予共享，只能申请核验（不返回数据）" if offered
                      else "该资源为不予共享，提供部门未开放核验，不能申请")
        message_en = ("The resource is not shared: only verification can be requested" if offered
                      else "The resource is not shared and its provider offers no verification")
        raise InvalidInput(message_zh, message_en, code="not_shared",
                           details={"verify_offered": offered,
                                    "errors": [_problem("modes", "not_shared", message_zh, message_en)]})
    # One pending request per consumer and resource: serialize this consumer's submissions.
    Department.objects.select_for_update().filter(pk=actor.department_id).first()
    pending = AccessRequest.objects.filter(consumer_id=actor.department_id, resource_code=resource.code,
                                           status=Status.PENDING).first()
    if pending is not None:
        raise Conflict("本部门对该资源已有待处理的申请", "Your department already has a pending request for it",
                       code="request_pending", details={"request": pending.pk})
    request = AccessRequest.objects.create(
        resource_code=resource.code, resource_name=resource.name, provider_id=resource.department_id,
        consumer_id=actor.department_id, requested_by=actor_name(actor), items=items, modes=modes,
        purpose=texts["purpose"], scenario=texts["scenario"], legal_basis=texts["legal_basis"],
        duration_days=duration_days, status=Status.PENDING,
        due_on=None if sharing == Resource.Sharing.OPEN_SHARE else add_working_days(today(), ANSWER_WORKING_DAYS),
    )
    record(actor_name(actor), SUBMITTED, resource.code,
           {"request": request.pk, "consumer": actor.department_code, "provider": resource.department.code,
            "sharing": sharing, "items": items, "modes": modes, "purpose": request.purpose,
            "legal_basis": request.legal_basis, "duration_days": duration_days,
            "due_on": request.due_on.isoformat() if request.due_on else None}, actor.department_code)
    if sharing == Resource.Sharing.OPEN_SHARE:
        _approve(request, resource, decided_by=AUTO_APPROVER, department=resource.department.code,
                 reason="该资源为无条件共享资源，依规自动批准（仍全程留痕）。"
                        " The resource is shared unconditionally: approved automatically (recorded).",
                 clear_items=None, rate_limit_per_minute=None)
    return request


# --- deciding ----------------------------------------------------------------------------------------------------


def _approve(request: AccessRequest, resource: Resource, *, decided_by: str, department: str, reason: str,
             clear_items: list[str] | None, rate_limit_per_minute: int | None) -> Grant:
    keys = {i.key for i in catalog.items_of(resource)}
    missing = [key for key in request.items if key not in keys]
    if missing:
        raise Conflict("资源已修订，申请的部分信息项已不存在", "The resource was revised: some requested items are gone",
                       code="items_changed", details={"missing": missing})
    clear = (default_clear_items(resource, list(request.items)) if clear_items is None
             else check_clear_items(clear_items, list(request.items)))
    rate = check_rate_limit(rate_limit_per_minute)
    now = timezone.now()
    request.status = Status.APPROVED
    request.decided_at, request.decided_by, request.reason = now, decided_by, reason
    request.save(update_fields=["status", "decided_at", "decided_by", "reason"])
    grant = grants.create_grant(request, created_by=decided_by, clear_items=clear, rate_limit_per_minute=rate,
                                now=now)
    payload = grants.grant_payload(grant)
    payload.update({"automatic": decided_by == AUTO_APPROVER, "reason_sha256": text_hash(reason)})
    record(decided_by, APPROVED, request.resource_code, payload, department)
    return grant


def _visible(actor: Actor) -> QuerySet[AccessRequest]:
    require_authenticated(actor)
    rows = AccessRequest.objects.select_related("provider", "consumer", "grant")
    if is_bureau_official(actor):
        return rows
    # Requests are made and decided by people; department systems only consume grants.
    if actor.kind != "official" or actor.department_id is None:
        raise PermissionDenied("只有部门工作人员可以查看共享申请", "Only department staff see access requests")
    return rows.filter(Q(provider_id=actor.department_id) | Q(consumer_id=actor.department_id))


def get_request(actor: Actor, request_id: int) -> AccessRequest:
    request = _visible(actor).filter(pk=request_id).first()
    if request is None:
        raise NotFound("共享申请不存在", "No such access request", code="request_not_found")
    return request


def _locked(actor: Actor, request_id: int) -> AccessRequest:
    get_request(actor, request_id)
    return AccessRequest.objects.select_for_update(of=("self",)).select_related("provider", "consumer").get(
        pk=request_id)


def _require_pending(request: AccessRequest) -> None:
    if request.status != Status.PENDING:
        raise Conflict("该申请已处理，不能再操作", "The request is no longer pending", code="request_not_pending",
                       details={"status": request.status})


def can_decide(actor: Actor, request: AccessRequest) -> bool:
    return (request.status == Status.PENDING and actor.kind == "official"
            and actor.department_id == request.provider_id and actor.has_role(*DECIDER_ROLES))


def can_withdraw(actor: Actor, request: AccessRequest) -> bool:
    return request.status == Status.PENDING and may_request(actor) and actor.department_id == request.consumer_id


def can_escalate(actor: Actor, request: AccessRequest) -> bool:
    return request.status == Status.PENDING and is_bureau_overseer(actor)


def decide(actor: Actor, request_id: int, *, approve: bool, reason: str, clear_items: list[str] | None = None,
           rate_limit_per_minute: int | None = None) -> AccessRequest:
    """The provider approves (creating the grant) or rejects a pending request, with a reason."""
    request = _locked(actor, request_id)
    if actor.kind != "official" or actor.department_id != request.provider_id:
        raise PermissionDenied("只有提供部门可以审批该申请", "Only the provider department decides the request")
    if not actor.has_role(*DECIDER_ROLES):
        raise PermissionDenied("只有审批人员、数据管理员或部门管理员可以审批共享申请",
                               "Only an approver, steward or department admin decides access requests")
    reason = required_text(reason, "reason", "审批理由", "reason")
    _require_pending(request)
    if approve:
        resource = Resource.objects.filter(code=request.resource_code, status=Resource.Status.PUBLISHED).first()
        if resource is None:
            raise Conflict("资源已不再发布，不能批准", "The resource is no longer published", code="resource_not_published")
        _approve(request, resource, decided_by=actor_name(actor), department=actor.department_code, reason=reason,
                 clear_items=clear_items, rate_limit_per_minute=rate_limit_per_minute)
    else:
        request.status = Status.REJECTED
        request.decided_at, request.decided_by, request.reason = timezone.now(), actor_name(actor), reason
        request.save(update_fields=["status", "decided_at", "decided_by", "reason"])
        record(actor_name(actor), REJECTED, request.resource_code,
               {"request": request.pk, "consumer": request.consumer.code, "reason_sha256": text_hash(reason)},
               actor.department_code)
    return request


def escalate(actor: Actor, request_id: int, note: str) -> AccessRequest:
    """The bureau presses the provider on a pending request (督办)."""
    request = _locked(actor, request_id)
    if not is_bureau_overseer(actor):
        raise PermissionDenied("只有大数据局管理员或首席数据官可以督办", "Only the bureau's admin or CDO escalates")
    note = required_text(note, "note", "督办意见", "note")
    _require_pending(request)
    request.escalated_at, request.escalated_by, request.escalation_note = timezone.now(), actor_name(actor), note
    request.save(update_fields=["escalated_at", "escalated_by", "escalation_note"])
    record(actor_name(actor), ESCALATED, request.resource_code,
           {"request": request.pk, "provider": request.provider.code, "overdue": is_overdue(request),
            "note_sha256": text_hash(note)}, actor.department_code)
    return request


def withdraw(actor: Actor, request_id: int) -> AccessRequest:
    request = _locked(actor, request_id)
    if actor.department_id != request.consumer_id or not may_request(actor):
        raise PermissionDenied("只有申请部门可以撤回申请", "Only the requesting department withdraws it")
    _require_pending(request)
    request.status = Status.WITHDRAWN
    request.decided_at, request.decided_by = timezone.now(), actor_name(actor)
    request.save(update_fields=["status", "decided_at", "decided_by"])
    record(actor_name(actor), WITHDRAWN, request.resource_code, {"request": request.pk}, actor.department_code)
    return request


# --- listing and deadlines -------------------------------------------------------------------------------


def is_overdue(request: AccessRequest, on: datetime.date | None = None) -> bool:
    return request.status == Status.PENDING and request.due_on is not None and request.due_on < (on or today())


def _overdue_q() -> Q:
    return Q(status=Status.PENDING, due_on__lt=today())


def list_requests(actor: Actor, *, side: str | None = None, status: str | None = None,
                  overdue: bool = False) -> QuerySet[AccessRequest]:
    """The department's requests as provider and as consumer (``side`` picks one); the bureau
    sees all unless it asks for a side (then its own department's)."""
    rows = _visible(actor)
    if side:
        if side not in grants.SIDES:
            raise InvalidInput("side 只能是 provider 或 consumer", "side must be provider or consumer",
                               code="invalid_side")
        rows = rows.filter(**{f"{side}_id": actor.department_id})
    if status:
        if status not in Status.values:
            raise InvalidInput("申请状态无效", "Unknown request status", code="invalid_status",
                               details={"allowed": list(Status.values)})
        rows = rows.filter(status=status)
    if overdue:
        rows = rows.filter(_overdue_q())
    return rows.order_by("-submitted_at", "-id")


def oversight_queue(actor: Actor) -> QuerySet[AccessRequest]:
    """Every pending request, overdue first, then by due date (the bureau)."""
    if not is_bureau_official(actor):
        raise PermissionDenied("督办视图仅供大数据局使用", "The oversight view is the bureau's")
    first = Case(When(_overdue_q(), then=Value(0)), default=Value(1), output_field=IntegerField())
    return (AccessRequest.objects.select_related("provider", "consumer").filter(status=Status.PENDING)
            .annotate(overdue_first=first).order_by("overdue_first", "due_on", "submitted_at", "id"))


def flag_overdue() -> list[AccessRequest]:
    """The overdue pending requests; one ledger entry when some became overdue since the last
    sweep (the entry lists them all, so a second sweep without news records nothing)."""
    overdue = list(AccessRequest.objects.filter(_overdue_q()).order_by("due_on", "id"))
    ids = [r.pk for r in overdue]
    last = LedgerEvent.objects.filter(action=OVERDUE).order_by("-id").first()
    seen = set(ledger.entry_content(last)["payload"].get("overdue", [])) if last else set()
    new = [pk for pk in ids if pk not in seen]
    if new:
        ledger.record(actor=SWEEPER, action=OVERDUE, subject="exchange:requests",
                      payload={"overdue": ids, "new": new, "on": today().isoformat()})
    return overdue


@db_periodic_task(crontab(minute="5", hour="*"), name="tongban.exchange.sweep_overdue_requests")
def sweep_overdue_requests() -> int:
    with transaction.atomic():
        return len(flag_overdue())


def trail(request: AccessRequest) -> list[dict]:
    """The request's ledger entries (and its grant's), oldest first."""
    rows = LedgerEvent.objects.filter(subject=f"resource:{request.resource_code}", action__in=TRAIL_ACTIONS)
    found = []
    for event in rows.order_by("id"):
        content = ledger.entry_content(event)
        if content.get("payload", {}).get("request") == request.pk:
            found.append({"index": event.index, "action": event.action, "actor": event.actor,
                          "department": event.department, "recorded_at": event.recorded_at})
    return found


# --- the provider's setting for 不予共享 resources ---------------------------------------------------------


def set_verify_when_not_shared(actor: Actor, code: str, enabled: bool) -> ResourceState:
    require_authenticated(actor)
    resource = catalog.get_published(code)
    if actor.kind != "official" or actor.department_id != resource.department_id \
            or not actor.has_role(*SETTING_ROLES):
        raise PermissionDenied("只有提供部门的数据管理员或部门管理员可以设置核验",
                               "Only the provider's steward or department admin sets verification")
    state, _ = ResourceState.objects.select_for_update().get_or_create(
        resource_code=resource.code, defaults={"department_id": resource.department_id})
    if state.verify_when_not_shared != bool(enabled):
        state.verify_when_not_shared = bool(enabled)
        state.save(update_fields=["verify_when_not_shared"])
        record(actor_name(actor), VERIFY_SETTING, resource.code, {"enabled": bool(enabled)},
               actor.department_code)
    return state
