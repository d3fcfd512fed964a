"""The policy API (mounted at /api/v1/policies; the subject's own list at /api/v1/me/policies).

Thin: parse, call the service, shape. The library and a published policy are public
(``auth=None``); everything else needs a caller. Every call runs in one transaction, except
starting a bulk match, whose work runs in the job (``GET /api/v1/jobs/{id}``).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import get_language
from ninja import Field, Query, Router, Schema, Status

from tongban.core.errors import InvalidInput
from tongban.policies import variables as vocabulary
from tongban.policies.models import Delivery, Policy
from tongban.policies.services import delivery, matching, rules, supervision
from tongban.policies.services import policies as services

router = Router(tags=["policies"])
me_router = Router(tags=["me"])


def _language() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh"


class PolicyIn(Schema):
    title: str
    title_en: str = ""
    document_number: str
    summary: str
    full_text: str = ""
    target: str = Field(..., description="enterprise / citizen")
    theme: str
    mode: str = Field(..., description="apply (一键申报) / auto_grant (免申即享) / notify")
    benefit: str = ""
    benefit_amount: Decimal | None = None
    benefit_formula: Any = Field(None, description="JSON-Logic over the profile variables, e.g. "
                                                   '{"*": [{"var": "insured_count"}, 1000]}')
    benefit_cap: Decimal | None = None
    service_item: str = Field("", description="apply mode: the published service item's code")
    valid_from: datetime.date
    valid_until: datetime.date | None = None
    apply_from: datetime.date | None = None
    apply_until: datetime.date | None = None
    handling_days: int = 15
    department: str | None = Field(None, description="bureau administrator only: the issuing department's code")


class PolicyPatch(Schema):
    title: str | None = None
    title_en: str | None = None
    document_number: str | None = None
    summary: str | None = None
    full_text: str | None = None
    target: str | None = None
    theme: str | None = None
    mode: str | None = None
    benefit: str | None = None
    benefit_amount: Decimal | None = None
    benefit_formula: Any = None
    benefit_cap: Decimal | None = None
    service_item: str | None = None
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    apply_from: datetime.date | None = None
    apply_until: datetime.date | None = None
    handling_days: int | None = None


class RuleIn(Schema):
    logic: Any = Field(..., description="JSON-Logic over the variables of GET /policies/variables")
    description: str = ""


class RuleTestIn(Schema):
    logic: Any
    sample: dict[str, Any] | None = Field(None, description="A profile to try (default: a made-up sample)")


class ReasonOut(Schema):
    condition: str
    passed: bool


class PolicyOut(Schema):
    id: int
    code: str
    title: str
    title_en: str
    document_number: str
    department: str
    department_name: str
    summary: str
    target: str
    theme: str
    mode: str
    benefit: str
    benefit_amount: Decimal | None
    service_item: str
    valid_from: datetime.date
    valid_until: datetime.date | None
    apply_from: datetime.date | None
    apply_until: datetime.date | None
    status: str
    published_at: datetime.datetime | None
    rule_version: int | None
    rule: Any = None


class PolicyDetailOut(PolicyOut):
    full_text: str
    benefit_formula: Any = None
    benefit_cap: Decimal | None
    handling_days: int
    view_count: int
    rule_awaits_confirmation: bool = Field(
        False, description="An auto-grant policy's current rule awaits a second official (双人复核): nothing is granted")


class PolicyList(Schema):
    items: list[PolicyOut]
    count: int


class LibraryFilters(Schema):
    q: str = ""
    theme: str = ""
    department: str = ""
    target: str = ""
    page: int = Field(1, ge=1)
    page_size: int = Field(services.PAGE_SIZE, ge=1, le=100)


class VariableOut(Schema):
    name: str
    type: str
    label_zh: str
    label_en: str
    source: str
    note_zh: str
    note_en: str
    choices: list[list[str]]


class JobStarted(Schema):
    job: str
    status: str
    url: str


class MatchIn(Schema):
    deliver: bool = Field(True, description="Notify matched subjects with accounts and grant auto-grant benefits")


def policy_out(policy: Policy, *, detail: bool = False) -> dict[str, Any]:
    rule = services.current_rule(policy)
    out = {"id": policy.pk, "code": policy.code, "title": policy.title, "title_en": policy.title_en,
           "document_number": policy.document_number, "department": policy.department.code,
           "department_name": policy.department.name, "summary": policy.summary, "target": policy.target,
           "theme": policy.theme, "mode": policy.mode, "benefit": policy.benefit,
           "benefit_amount": policy.benefit_amount, "service_item": policy.service_item,
           "valid_from": policy.valid_from, "valid_until": policy.valid_until, "apply_from": policy.apply_from,
           "apply_until": policy.apply_until, "status": policy.status, "published_at": policy.published_at,
           "rule_version": rule.version if rule else None, "rule": rule.logic if rule else None}
    if detail:
        out.update({"full_text": policy.full_text, "benefit_formula": policy.benefit_formula,
                    "benefit_cap": policy.benefit_cap, "handling_days": policy.handling_days,
                    "view_count": policy.view_count,
                    "rule_awaits_confirmation": rules.needs_confirmation(policy, rule)})
    return out


@router.get("", response=PolicyList, auth=None, summary="The policy library (published, in force; public)")
def list_policies(request, filters: Query[LibraryFilters]):
    rows = services.library(q=filters.q, theme=filters.theme, department=filters.department, target=filters.target)
    start = (filters.page - 1) * filters.page_size
    count = rows.count()
    # A page past the end is empty without asking the database (an offset past 2**63 would be an error).
    page = list(rows[start:start + filters.page_size]) if start < count else []
    return {"items": [policy_out(p) for p in page], "count": count}


@router.get("/variables", response=list[VariableOut], auth=None,
            summary="The profile variables eligibility rules may read (target=enterprise|citizen)")
def list_variables(request, target: str = "enterprise"):
    if target not in vocabulary.BY_TARGET:
        raise InvalidInput("target 应为 enterprise 或 citizen", "target is enterprise or citizen", code="invalid_target")
    return [{"name": v.name, "type": v.type, "label_zh": v.label_zh, "label_en": v.label_en, "source": v.source,
             "note_zh": v.note_zh, "note_en": v.note_en, "choices": [list(c) for c in v.choices]}
            for v in vocabulary.variables_for(target)]


@router.get("/supervision", summary="Supervision figures of the policies I may supervise (督查)")
def supervision_dashboard(request):
    with transaction.atomic():
        board = supervision.dashboard(request.auth)
    return {"policies": [_figures_out(row) for row in board["policies"]],
            "totals": {k: (str(v) if isinstance(v, Decimal) else v) for k, v in board["totals"].items()}}


def _figures_out(row: dict[str, Any]) -> dict[str, Any]:
    policy = row["policy"]
    out = {k: v for k, v in row.items() if k != "policy"}
    out.update({"id": policy.pk, "code": policy.code, "title": policy.title, "mode": policy.mode,
                "department": policy.department.code, "amount": str(row["amount"])})
    return out


@router.get("/{policy_id}", response=PolicyDetailOut, auth=None, summary="One policy (public once published)")
def get_policy(request, policy_id: int):
    with transaction.atomic():
        policy = services.get_policy(request.actor, policy_id)
        if policy.status == Policy.Status.PUBLISHED:  # an editor's preview of a draft is no view
            services.record_view(request.actor, policy)
        return policy_out(policy, detail=True)


@router.post("", response={201: PolicyDetailOut}, summary="Draft a policy (issuing department)")
def create_policy(request, payload: PolicyIn):
    data = payload.dict()
    department = data.pop("department", None)
    with transaction.atomic():
        policy = services.create_policy(request.auth, data, department_code=department)
        return Status(201, policy_out(policy, detail=True))


@router.patch("/{policy_id}", response=PolicyDetailOut, summary="Change a draft policy")
def update_policy(request, policy_id: int, payload: PolicyPatch):
    with transaction.atomic():
        policy = services.update_policy(request.auth, policy_id, payload.dict(exclude_unset=True))
        return policy_out(policy, detail=True)


@router.post("/{policy_id}/publish", response=PolicyDetailOut, summary="Publish a draft (发布; needs a rule)")
def publish(request, policy_id: int):
    with transaction.atomic():
        return policy_out(services.publish(request.auth, policy_id), detail=True)


class ReasonIn(Schema):
    reason: str


@router.post("/{policy_id}/withdraw", response=PolicyDetailOut, summary="Withdraw a published policy")
def withdraw(request, policy_id: int, payload: ReasonIn):
    with transaction.atomic():
        return policy_out(services.withdraw(request.auth, policy_id, payload.reason), detail=True)


@router.post("/{policy_id}/rule", response={201: dict}, summary="Set the eligibility rule (a new version)")
def set_rule(request, policy_id: int, payload: RuleIn):
    with transaction.atomic():
        rule = rules.set_rule(request.auth, policy_id, payload.logic, payload.description)
        return Status(201, {"version": rule.version, "logic": rule.logic, "description": rule.description})


class ConfirmIn(Schema):
    version: int = Field(..., ge=1, description="The current rule version being confirmed")


class ConfirmOut(Schema):
    version: int
    confirmed_by: str
    confirmed_at: datetime.datetime


@router.post("/{policy_id}/rule/confirm", response=ConfirmOut,
             summary="Confirm the current rule of a published auto-grant policy (双人复核; not its author)")
def confirm_rule(request, policy_id: int, payload: ConfirmIn):
    with transaction.atomic():
        rule = rules.confirm_rule(request.auth, policy_id, payload.version)
        return {"version": rule.version, "confirmed_by": rule.confirmed_by, "confirmed_at": rule.confirmed_at}


@router.post("/{policy_id}/rule/test", summary="Try a rule on a sample profile (nothing stored)")
def test_rule(request, policy_id: int, payload: RuleTestIn):
    with transaction.atomic():
        return rules.test_rule(request.auth, policy_id, payload.logic, payload.sample, _language())


@router.post("/{policy_id}/match", response={202: JobStarted},
             summary="Bulk-match the policy against every subject's profile → job (GET /api/v1/jobs/{id})")
def match(request, policy_id: int, payload: MatchIn | None = None):
    with transaction.atomic():
        job = matching.start_match(request.auth, [policy_id], deliver=payload.deliver if payload else True)
    return Status(202, {"job": str(job.pk), "status": job.status, "url": f"/api/v1/jobs/{job.pk}"})


@router.get("/{policy_id}/supervision", summary="Supervision figures of one policy")
def policy_supervision(request, policy_id: int):
    with transaction.atomic():
        out = _figures_out(supervision.policy_figures(request.auth, policy_id))
    return out


class UrgeIn(Schema):
    note: str


@router.post("/{policy_id}/urge", summary="督办: remind the issuing department (bureau)")
def urge(request, policy_id: int, payload: UrgeIn):
    with transaction.atomic():
        return {"notified": supervision.urge(request.auth, policy_id, payload.note)}


class RatingIn(Schema):
    score: int = Field(..., description="1 (very dissatisfied) .. 5 (very satisfied)")
    comment: str = ""


@router.post("/{policy_id}/rating", response={201: dict}, summary="Rate a policy delivered to me (评价)")
def rate(request, policy_id: int, payload: RatingIn):
    with transaction.atomic():
        rating = delivery.rate(request.auth, policy_id, payload.score, payload.comment)
        return Status(201, {"score": rating.score, "comment": rating.comment, "created_at": rating.created_at})


@router.post("/{policy_id}/apply", response={201: dict},
             summary="One-click application (一键申报): starts the prefilled application if I qualify")
def apply(request, policy_id: int):
    with transaction.atomic():
        application = delivery.apply(request.auth, policy_id, language=_language())
        return Status(201, {"application": application.number, "status": application.status,
                            "url": f"/me/applications/{application.number}/"})


class MyPolicyOut(Schema):
    policy: PolicyOut
    matched: bool
    reasons: list[ReasonOut]
    amount: Decimal | None
    rule_version: int | None
    delivery: str | None = Field(None, description="notified / viewed / applied / granted when delivered to me")


class MyPoliciesOut(Schema):
    items: list[MyPolicyOut]
    count: int


@me_router.get("/me/policies", response=MyPoliciesOut,
               summary="Policies I match, with reasons (all=true: every policy for me, matched or not)")
def my_policies(request, all: bool = False):  # noqa: A002 - the query parameter's name
    with transaction.atomic():
        rows = matching.my_policies(request.auth, language=_language(), matched_only=not all)
    items = [{"policy": policy_out(r["policy"]), "matched": r["matched"], "reasons": r["reasons"],
              "amount": r["amount"], "rule_version": r["rule_version"],
              "delivery": r["delivery"].status if isinstance(r["delivery"], Delivery) else None} for r in rows]
    return {"items": items, "count": len(items)}
