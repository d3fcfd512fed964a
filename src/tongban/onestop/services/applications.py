"""Applications (办件): the applicant's side and reading — and the one place callers import from.

``start_application`` → (``save_form`` / ``uploads.add_upload``)* → ``submit`` → the window
(``accept`` / ``refuse`` / ``request_supplement``, in ``services.window``, re-exported here) →
``decide_task`` per department → approved → completed; ``withdraw`` before a decision. The
state machine and what each transition records are in ``services.transitions``; prefill and
免证办 in ``services.prefill``; instant approval in ``services.rules``.

Starting one: a citizen or enterprise (matching the item's ``applicant_kind``) starts a draft of
a published item; their ID number / USCC is the subject; the bound fields are prefilled and the
materials the government holds are marked reused (no notification: nothing was sent yet; the
start is an event and a ledger entry ``onestop.started``). One draft per applicant and item:
starting again returns the existing draft (save and resume).

Submitting: every required field and required material must be there (422
``incomplete_application`` lists ALL that is missing); then the item's current instant-approval
rule, if any, is evaluated over the bound data fetched again now (one self-service read per
resource; a prefill-bound field without a government value fails the rule): it passes → approved at once (rule version and reasons in
``rule_result``) → completed with the certificate; it fails → submitted, with the reasons kept
for the clerk. Callers hold the transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.identity.access import Actor, require_authenticated, require_kind
from tongban.identity.models import Citizen, Enterprise
from tongban.onestop.models import Application, ApplicationEvent, Material, ServiceItem, Upload
from tongban.onestop.services import completion, forms, rules, transitions
from tongban.onestop.services import prefill as prefilling
from tongban.onestop.services.transitions import INSTANT, S, actor_name
from tongban.onestop.services.window import (  # noqa: F401 - re-exported: callers use this module
    accept,
    clerk_queue,
    complete,
    decide_task,
    flag_overdue_applications,
    handles,
    involved,
    may_see,
    overdue,
    refuse,
    request_supplement,
    sweep_overdue_applications,
    task_queue,
)

EDITABLE = (S.DRAFT, S.SUPPLEMENT_REQUESTED)
OVERSIGHT_VIEWED = "oversight_viewed"  # ledger action onestop.oversight_viewed


def _not_found() -> NotFound:
    return NotFound("没有这个办件", "No such application")


def _subject(actor: Actor) -> str:
    if actor.kind == "citizen":
        identifier = Citizen.objects.filter(user_id=actor.user_id).values_list("id_number", flat=True).first()
    else:
        identifier = Enterprise.objects.filter(user_id=actor.user_id).values_list("uscc", flat=True).first()
    if not identifier:
        raise PermissionDenied("账号尚未完成实名认证", "The account is not linked to a verified identity",
                               code="identity_not_linked")
    return identifier


def _own(actor: Actor, number: str) -> Application:
    require_kind(actor, "citizen", "enterprise")
    application = transitions.locked(number)
    if application.applicant_id != actor.user_id:
        raise _not_found()
    return application


# --- starting -------------------------------------------------------------------------------------------------


def start_application(actor: Actor, item_code: str) -> Application:
    """A prefilled draft of a published item (or the applicant's existing draft of it)."""
    require_kind(actor, "citizen", "enterprise")
    item = ServiceItem.objects.select_related("department").filter(
        code=item_code, status=ServiceItem.Status.PUBLISHED).first()
    if item is None:
        raise NotFound("没有这个服务事项或尚未发布", "No published service item with this code")
    if item.applicant_kind != actor.kind:
        raise PermissionDenied("该事项不面向您这类申请人", f"This service is for {item.applicant_kind} applicants",
                               code="wrong_applicant_kind", details={"applicant_kind": item.applicant_kind})
    existing = Application.objects.filter(applicant_id=actor.user_id, item=item, status=S.DRAFT).first()
    if existing is not None:
        return existing
    draft = Application(item=item, applicant_id=actor.user_id, subject=_subject(actor), status=S.DRAFT, form={})
    prefilling.prefill(actor, draft)
    application = transitions.create_numbered(
        settings.TONGBAN_REGION, item=item, applicant_id=actor.user_id, subject=draft.subject, status=S.DRAFT,
        form=draft.form, prefilled=draft.prefilled, reused=draft.reused, reused_count=draft.reused_count)
    who = actor_name(actor)
    transitions.event(application, "", S.DRAFT, who, "")
    transitions.record(application, who, "started", department=item.department.code,
                       payload={"prefilled": sorted(application.prefilled), "reused": sorted(application.reused),
                                "reused_count": application.reused_count})
    return application


# --- the form and what is missing ---------------------------------------------------------------------------


def save_form(actor: Actor, number: str, form: dict) -> Application:
    """Merge ``form`` into the draft (keys given are set; empty values clear); 422 ``invalid_form``
    with per-field errors; prefilled fields cannot be changed. Draft or supplement requested only."""
    application = _own(actor, number)
    if application.status not in EDITABLE:
        raise Conflict("办件已提交，不能再修改", "The application can no longer be changed", code="not_editable",
                       details={"status": application.status})
    merged, errors = forms.clean_form(application.item.form_schema or [], form, prefilled=application.prefilled or {},
                                      current=application.form)
    if errors:
        raise InvalidInput("表单有误", "The form has errors", code="invalid_form", details={"fields": errors})
    application.form = merged
    application.save(update_fields=["form", "updated_at"])
    return application


def _material_satisfied(application: Application, material: Material, uploaded: set[int]) -> bool:
    if material.source == Material.Source.FORM:
        return not material.form_section or not forms.empty((application.form or {}).get(material.form_section))
    return str(material.pk) in (application.reused or {}) or material.pk in uploaded


def missing(application: Application) -> list[dict]:
    """Everything still needed before submission: required fields left empty
    (``{"field", "label"}``) and required materials neither reused nor uploaded
    (``{"material", "name", "source"}``; a form-section material only when its field is not
    listed already)."""
    result: list[dict] = []
    for field in application.item.form_schema or []:
        if isinstance(field, dict) and field.get("required") and forms.empty((application.form or {}).get(field["key"])):
            result.append({"field": field["key"], "label": field.get("label", field["key"])})
    listed = {entry["field"] for entry in result}
    uploaded = set(Upload.objects.filter(application=application).values_list("material_id", flat=True))
    for material in application.item.materials.all():
        if material.source == Material.Source.FORM and material.form_section in listed:
            continue  # its field is listed already
        if material.necessity == Material.Necessity.REQUIRED and not _material_satisfied(application, material,
                                                                                          uploaded):
            result.append({"material": material.pk, "name": material.name, "source": material.source})
    return result


# --- submitting -------------------------------------------------------------------------------------------------


# Checks other apps add to submission (called with the actor and the application, they raise a
# DomainError to refuse): e.g. the policy service re-checks eligibility of a one-click application.
# onestop knows nothing of them (apps above it register in their AppConfig.ready()).
SUBMISSION_CHECKS: list = []


def submit(actor: Actor, number: str) -> Application:
    """draft / supplement requested → submitted; then instant approval when the item's rule passes."""
    application = _own(actor, number)
    if not transitions.may_move(application, S.SUBMITTED):
        raise transitions.illegal(application, S.SUBMITTED)
    for check in SUBMISSION_CHECKS:
        check(actor, application)
    ungoverned = prefilling.refetch(actor, application)  # the government's values now, not the draft's
    merged, errors = forms.clean_form(application.item.form_schema or [], {}, prefilled=application.prefilled or {},
                                      current=application.form, required=True)
    application.form = merged
    gaps = missing(application)
    if errors or gaps:
        raise InvalidInput(f"申请尚不完整，还缺 {len(gaps)} 项", f"The application is incomplete: {len(gaps)} "
                           "item(s) missing", code="incomplete_application",
                           details={"missing": gaps, "fields": errors,
                                    "materials": [g["material"] for g in gaps if "material" in g]})
    rule = rules.current_rule(application.item)
    application.rule_result = rules.evaluate(rule, application, ungoverned=ungoverned) if rule else None
    department = application.item.department.code
    outcome = {"rule_version": rule.version, "rule_passed": application.rule_result["passed"]} if rule else {}
    transitions.move(application, S.SUBMITTED, actor=actor_name(actor), department=department, payload=outcome,
                     extra_fields=("form", "prefilled", "reused", "reused_count", "rule_result"))
    if rule and application.rule_result["passed"]:
        reasons = "；".join(r["condition"] for r in application.rule_result["reasons"])
        completion.approve_and_complete(
            application, actor=INSTANT, department=department, note=f"秒批规则第 {rule.version} 版通过：{reasons}",
            payload={"rule_version": rule.version, "instant": True})
    return application


def withdraw(actor: Actor, number: str) -> Application:
    """The applicant withdraws before a decision; pending review tasks are cancelled."""
    application = _own(actor, number)
    if application.status not in transitions.WITHDRAWABLE:
        raise transitions.illegal(application, S.WITHDRAWN)
    application.tasks.filter(status="pending").update(status="cancelled")
    return transitions.move(application, S.WITHDRAWN, actor=actor_name(actor),
                            department=application.item.department.code)


# --- reading ----------------------------------------------------------------------------------------------------


def get_application(actor: Actor, number: str) -> Application:
    """The applicant; officials of the implementing / co-handling departments; the bureau's
    oversight (not drafts); others 404. An oversight read — by an official whose department does
    not handle the application — is a ledger entry naming the applicant by keyed hash: reading a
    citizen's papers for supervision is a consequential act too."""
    require_authenticated(actor)
    application = (Application.objects.select_related("item", "item__department", "applicant")
                   .filter(number=number).first())
    if application is None or not may_see(actor, application):
        raise _not_found()
    if actor.kind == "official" and actor.department_id not in involved(application):
        transitions.record(application, actor_name(actor), OVERSIGHT_VIEWED, department=actor.department_code,
                           payload={"status": application.status})
    return application


def my_applications(actor: Actor) -> QuerySet[Application]:
    """The caller's own applications, newest first."""
    require_kind(actor, "citizen", "enterprise")
    return (Application.objects.select_related("item", "item__department").filter(applicant_id=actor.user_id)
            .order_by("-created_at", "-id"))


def timeline(application: Application) -> list[ApplicationEvent]:
    """The application's events, oldest first."""
    return list(application.events.order_by("at", "pk"))
