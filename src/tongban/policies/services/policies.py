"""Policies: drafting, publishing (发布), withdrawing, the library (汇聚: every department's and
level's published policies in one place) and views (查看).

Who may do what (deny by default): stewards, approvers and administrators of the issuing
department draft, publish and withdraw its policies; the bureau's administrator any policy.
Published policies are public; a draft is visible only to those who may edit it (others get
not-found, revealing nothing).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from tongban.core import jsonlogic
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.onestop.models import ServiceItem
from tongban.policies import variables as vocabulary
from tongban.policies.models import Delivery, EligibilityRule, Policy

EDIT_ROLES = (Role.DEPT_ADMIN, Role.STEWARD, Role.APPROVER)
OVERSIGHT_ROLES = (Role.BUREAU_ADMIN, Role.CDO, Role.AUDITOR)
PUBLISHED = "policies.published"
WITHDRAWN = "policies.withdrawn"
PAGE_SIZE = 20
MAX_FORMULA_BYTES = 5_000

FIELDS = ("title", "title_en", "document_number", "summary", "full_text", "target", "theme", "mode", "benefit",
          "benefit_amount", "benefit_formula", "benefit_cap", "service_item", "valid_from", "valid_until",
          "apply_from", "apply_until", "handling_days")
REQUIRED = ("title", "document_number", "summary", "target", "theme", "mode", "valid_from")


def may_edit(actor: Actor, department_id: int | None) -> bool:
    if actor.kind != "official":
        return False
    if actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN):
        return True
    return department_id is not None and actor.department_id == department_id and actor.has_role(*EDIT_ROLES)


def may_oversee(actor: Actor) -> bool:
    """Platform oversight (bureau administrator, chief data officer, auditor): reads every policy."""
    return actor.kind == "official" and actor.is_bureau and actor.has_role(*OVERSIGHT_ROLES)


def _not_found() -> NotFound:
    return NotFound("没有这项政策", "No such policy")


def get_policy(actor: Actor, policy_id: int) -> Policy:
    """A published policy for anyone; a draft or withdrawn one for its editors and oversight."""
    policy = Policy.objects.select_related("department").filter(pk=policy_id).first()
    if policy is None:
        raise _not_found()
    if policy.status != Policy.Status.PUBLISHED and not (may_edit(actor, policy.department_id) or may_oversee(actor)):
        raise _not_found()
    return policy


def editable(actor: Actor, policy_id: int, *, lock: bool = False) -> Policy:
    require_authenticated(actor)
    rows = Policy.objects.select_related("department")
    if lock:
        rows = rows.select_for_update(of=("self",))
    policy = rows.filter(pk=policy_id).first()
    if policy is None:
        raise _not_found()
    if not may_edit(actor, policy.department_id):
        if policy.status != Policy.Status.PUBLISHED:
            raise _not_found()
        raise PermissionDenied("只有发布部门可以维护这项政策", "Only the issuing department maintains this policy")
    return policy


def current_rule(policy: Policy) -> EligibilityRule | None:
    return EligibilityRule.objects.filter(policy=policy, is_current=True).first()


# --- drafting -------------------------------------------------------------------------------------------------


def _error(field: str, zh: str, en: str) -> dict[str, str]:
    return {"field": field, "message_zh": zh, "message_en": en}


def _date(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    amount = Decimal(str(value))
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValueError(value)
    if amount != amount.quantize(Decimal("0.01")):  # fen at most: refused, not silently rounded
        raise ValueError(value)
    return amount.quantize(Decimal("0.01"))


def clean(data: dict[str, Any], *, department: Department) -> dict[str, Any]:
    """The policy fields of ``data`` checked; 422 ``invalid_policy`` lists every problem."""
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = data.get(name)
        values[name] = value.strip() if isinstance(value, str) else value
    for name in REQUIRED:
        if values.get(name) in (None, ""):
            errors.append(_error(name, "必填", "Required"))
    for name, choices in (("target", Policy.Target), ("theme", Policy.Theme), ("mode", Policy.Mode)):
        if values.get(name) and values[name] not in choices.values:
            errors.append(_error(name, f"取值应为 {', '.join(choices.values)}", f"Must be one of {', '.join(choices.values)}"))
    for name in ("valid_from", "valid_until", "apply_from", "apply_until"):
        try:
            values[name] = _date(values.get(name))
        except (TypeError, ValueError):
            errors.append(_error(name, "日期格式应为 YYYY-MM-DD", "Dates are YYYY-MM-DD"))
            values[name] = None
    for name in ("benefit_amount", "benefit_cap"):
        try:
            values[name] = _amount(values.get(name))
        except (InvalidOperation, ValueError, TypeError):
            errors.append(_error(name, "金额应为非负数，最多两位小数",
                                 "An amount is a non-negative number with at most 2 decimal places"))
            values[name] = None
    for start, end in (("valid_from", "valid_until"), ("apply_from", "apply_until")):
        if values.get(start) and values.get(end) and values[end] < values[start]:
            errors.append(_error(end, "结束日期早于开始日期", "The end is before the start"))
    formula = values.get("benefit_formula")
    if formula not in (None, "", {}) and len(json.dumps(formula, ensure_ascii=False, default=str)) > MAX_FORMULA_BYTES:
        errors.append(_error("benefit_formula", "金额公式过长", "The amount formula is too long"))
    elif formula not in (None, "", {}):
        if values.get("benefit_cap") is None:
            errors.append(_error("benefit_cap", "按公式计算金额时须设定单户上限", "A formula amount needs a cap"))
        target = values.get("target") if values.get("target") in vocabulary.BY_TARGET else None
        problems = jsonlogic.validate(formula, vocabulary.types_for(target) if target else None)
        if problems:
            errors.append(_error("benefit_formula", f"金额公式有误：{problems[0]['message_zh']}",
                                 f"The amount formula has errors: {problems[0]['message_en']}"))
    else:
        values["benefit_formula"] = None
    if values.get("mode") == Policy.Mode.AUTO_GRANT and values.get("benefit_amount") is None and not values.get(
            "benefit_formula"):
        errors.append(_error("benefit_amount", "免申即享政策须写明金额或金额公式",
                             "A policy granted without application needs an amount or a formula"))
    if values.get("mode") == Policy.Mode.APPLY:
        code = values.get("service_item") or ""
        item = ServiceItem.objects.filter(code=code, status=ServiceItem.Status.PUBLISHED).first()
        if item is None:
            errors.append(_error("service_item", "一键申报政策须关联已发布的服务事项",
                                 "A one-click policy needs a published service item"))
        elif values.get("target") and item.applicant_kind != values["target"]:
            errors.append(_error("service_item", "服务事项的申请人类型与政策对象不一致",
                                 "The service item is for another kind of applicant"))
    else:
        values["service_item"] = ""
    try:
        days = values.get("handling_days")
        values["handling_days"] = 15 if days in (None, "") else int(days)  # 0 is refused, not defaulted
        if not 1 <= values["handling_days"] <= 365:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(_error("handling_days", "办理时限应为 1–365 个工作日", "Handling days are 1–365"))
    for name, limit in (("title", 200), ("title_en", 250), ("document_number", 100), ("benefit", 300)):
        if len(values.get(name) or "") > limit:
            errors.append(_error(name, f"不超过 {limit} 字", f"At most {limit} characters"))
    if errors:
        raise InvalidInput(f"政策信息有误：{errors[0]['field']} {errors[0]['message_zh']}",
                           f"The policy has errors: {errors[0]['field']} {errors[0]['message_en']}",
                           code="invalid_policy", details={"errors": errors})
    for name in ("title_en", "full_text", "benefit"):
        values[name] = values.get(name) or ""
    return values


def _next_code(department: Department) -> str:
    year = timezone.localdate().year
    prefix = f"{department.code}-{year}-"
    taken = Policy.objects.filter(code__startswith=prefix).count()
    number = taken + 1
    while Policy.objects.filter(code=f"{prefix}{number:03d}").exists():
        number += 1
    return f"{prefix}{number:03d}"


def create_policy(actor: Actor, data: dict[str, Any], *, department_code: str | None = None) -> Policy:
    """A draft policy of the actor's department (the bureau's administrator may name another)."""
    require_authenticated(actor)
    department = None
    if department_code and actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN):
        department = Department.objects.filter(code=department_code).first()
    elif actor.department_id:
        department = Department.objects.filter(pk=actor.department_id).first()
    if department is None or not may_edit(actor, department.pk):
        raise PermissionDenied("只有部门数据管理员、审批人员或管理员可以起草政策",
                               "Only a department's stewards, approvers or administrators draft policies")
    values = clean(data, department=department)
    # The department row is locked while its next code is chosen, so two drafts never collide.
    Department.objects.select_for_update().filter(pk=department.pk).first()
    author = actor.username or actor.kind
    return Policy.objects.create(code=_next_code(department), department=department, created_by=author,
                                 updated_by=author, **values)


def update_policy(actor: Actor, policy_id: int, data: dict[str, Any]) -> Policy:
    """Change a draft (a published policy is withdrawn and re-issued instead: 409)."""
    policy = editable(actor, policy_id, lock=True)
    if policy.status != Policy.Status.DRAFT:
        raise Conflict("已发布或已撤回的政策不能修改", "Only a draft can be changed", code="illegal_transition",
                       details={"status": policy.status})
    merged = {name: getattr(policy, name) for name in FIELDS}
    merged.update({k: v for k, v in data.items() if k in FIELDS})
    for name, value in clean(merged, department=policy.department).items():
        setattr(policy, name, value)
    _check_rule_fits(policy)
    policy.updated_by = actor.username or actor.kind
    policy.save()
    return policy


def _check_rule_fits(policy: Policy) -> None:
    """The current rule must still be valid for the policy's target (it may have changed)."""
    from tongban.policies.services.rules import problems

    rule = current_rule(policy)
    found = problems(rule.logic, policy.target) if rule else []
    if found:
        raise InvalidInput(f"享受条件与政策对象不符：{found[0]['message_zh']}",
                           f"The eligibility rule does not fit the target: {found[0]['message_en']}",
                           code="invalid_rule", details={"problems": found})


def publish(actor: Actor, policy_id: int) -> Policy:
    policy = editable(actor, policy_id, lock=True)
    if policy.status != Policy.Status.DRAFT:
        raise Conflict("只有草稿可以发布", "Only a draft can be published", code="illegal_transition",
                       details={"status": policy.status})
    rule = current_rule(policy)
    if rule is None:
        raise Conflict("请先设置享受条件（资格规则）再发布", "Set the eligibility rule before publishing",
                       code="rule_required")
    clean({name: getattr(policy, name) for name in FIELDS}, department=policy.department)
    _check_rule_fits(policy)
    publisher = actor.username or actor.kind
    if policy.mode == Policy.Mode.AUTO_GRANT:
        require_second_official(publisher, {policy.created_by, policy.updated_by, rule.created_by},
                                "免申即享政策直接兑现资金，须由起草、修改和设置享受条件以外的另一名工作人员发布",
                                "A policy that pays without application must be published by an official other "
                                "than those who drafted it, changed it or set its rule")
    policy.status = Policy.Status.PUBLISHED
    policy.published_at = timezone.now()
    policy.save(update_fields=["status", "published_at"])
    # Publishing confirms the rule version it publishes.
    rule.confirmed_by, rule.confirmed_at = publisher, policy.published_at
    rule.save(update_fields=["confirmed_by", "confirmed_at"])
    ledger.record(actor=publisher, action=PUBLISHED, subject=f"policy:{policy.code}",
                  department=policy.department.code,
                  payload={"title": policy.title, "document_number": policy.document_number, "mode": policy.mode,
                           "target": policy.target, "rule_version": rule.version, "rule": rule.logic,
                           "drafted_by": policy.created_by, "rule_by": rule.created_by})
    return policy


def require_second_official(actor_name: str, authors: set[str], zh: str, en: str) -> None:
    """Four-eyes (双人复核): money paid without application needs a second official, one who
    did not write what they release. 409 ``second_official_required`` otherwise."""
    if actor_name in authors:
        raise Conflict(f"{zh}（双人复核）", f"{en} (four-eyes)", code="second_official_required",
                       details={"authors": sorted(a for a in authors if a)})


def withdraw(actor: Actor, policy_id: int, reason: str) -> Policy:
    policy = editable(actor, policy_id, lock=True)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("撤回须说明理由", "A withdrawal needs a reason", code="reason_required")
    if policy.status != Policy.Status.PUBLISHED:
        raise Conflict("只有已发布的政策可以撤回", "Only a published policy can be withdrawn",
                       code="illegal_transition", details={"status": policy.status})
    policy.status = Policy.Status.WITHDRAWN
    policy.withdrawn_at = timezone.now()
    policy.save(update_fields=["status", "withdrawn_at"])
    ledger.record(actor=actor.username or actor.kind, action=WITHDRAWN, subject=f"policy:{policy.code}",
                  department=policy.department.code, payload={"reason": reason[:500]})
    return policy


# --- the library and views ------------------------------------------------------------------------------------


def is_in_force(policy: Policy, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (policy.status == Policy.Status.PUBLISHED and policy.valid_from <= today
            and (policy.valid_until is None or today <= policy.valid_until))


def accepts_applications(policy: Policy, today: datetime.date | None = None) -> bool:
    today = today or timezone.localdate()
    return (is_in_force(policy, today) and (policy.apply_from is None or policy.apply_from <= today)
            and (policy.apply_until is None or today <= policy.apply_until))


def library(*, q: str = "", theme: str = "", department: str = "", target: str = "",
            include_expired: bool = False) -> QuerySet[Policy]:
    """Published policies of every department and level, newest first (汇聚)."""
    rows = Policy.objects.filter(status=Policy.Status.PUBLISHED).select_related("department")
    if not include_expired:
        today = timezone.localdate()
        rows = rows.filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
    for word in (q or "").split()[:5]:
        rows = rows.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Q(document_number__icontains=word)
                           | Q(benefit__icontains=word) | Q(department__name__icontains=word))
    if theme:
        rows = rows.filter(theme=theme)
    if department:
        rows = rows.filter(department__code=department)
    if target:
        rows = rows.filter(target=target)
    return rows.order_by("-published_at", "code")


def department_policies(actor: Actor) -> QuerySet[Policy]:
    """The workbench list: the actor's department's policies (oversight: all)."""
    require_authenticated(actor)
    rows = Policy.objects.select_related("department").order_by("status", "-created_at")
    if may_oversee(actor):
        return rows
    if actor.kind != "official" or actor.department_id is None:
        raise PermissionDenied()
    return rows.filter(department_id=actor.department_id)


def record_view(actor: Actor, policy: Policy) -> None:
    """Count a view (查看); a beneficiary's first view marks their delivery viewed."""
    Policy.objects.filter(pk=policy.pk).update(view_count=F("view_count") + 1)
    if actor.kind in ("citizen", "enterprise") and actor.user_id:
        Delivery.objects.filter(policy=policy, user_id=actor.user_id, status=Delivery.Status.NOTIFIED).update(
            status=Delivery.Status.VIEWED, viewed_at=timezone.now())
