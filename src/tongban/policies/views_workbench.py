"""Policy pages for officials (/workbench/policies/...): the department's policies, the policy
form, one policy with publish / withdraw / "run matching now", the rule editor with its HTMX
test, the progress page of a bulk match, and supervision (督查) with the bureau's urging (督办).
Thin: every decision is the services'; a service's problems are shown on the field they name.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.core import jsonlogic
from tongban.core.errors import Conflict, InvalidInput, PermissionDenied
from tongban.core.jobs import job_for
from tongban.core.models import Job
from tongban.identity.access import Role
from tongban.identity.decorators import actor_page
from tongban.identity.models import Department
from tongban.policies import variables as vocabulary
from tongban.policies.forms import PolicyForm, RuleForm, UrgeForm, WithdrawForm, policy_initial
from tongban.policies.models import EligibilityRule, MatchRun, Policy
from tongban.policies.services import matching, rules, supervision
from tongban.policies.services import policies as services
from tongban.policies.views_library import language, title_of

official_page = actor_page(kinds=("official",), refusal=("政策通工作台供部门工作人员使用", "The policy workbench is for department staff"))
FUNNEL = ("matched", "notified", "viewed", "applied", "granted")


def _bureau_admin(actor) -> bool:
    return actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)


def _may_urge(actor) -> bool:
    return actor.kind == "official" and actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN, Role.CDO)


def _message(problem: dict) -> str:
    return problem.get("message_en" if language() == "en" else "message_zh") or ""


def _managed(actor, policy_id: int) -> Policy:
    """A policy its editors and platform oversight manage here (another department's draft: 404)."""
    policy = services.get_policy(actor, policy_id)
    if not (services.may_edit(actor, policy.department_id) or services.may_oversee(actor)):
        raise PermissionDenied("只有发布部门和大数据局可以管理这项政策", "Only the issuing department and the bureau manage this policy")
    return policy


# --- the list and the policy form ------------------------------------------------------------------------------


@official_page
@require_GET
def workbench(request, actor):
    page = Paginator(services.department_policies(actor), 50).get_page(request.GET.get("page"))
    versions = dict(EligibilityRule.objects.filter(policy__in=list(page.object_list), is_current=True)
                    .values_list("policy_id", "version"))
    rows = [{"policy": p, "title": title_of(p), "rule_version": versions.get(p.pk)} for p in page.object_list]
    return render(request, "policies/workbench.html", {
        "rows": rows, "page": page, "may_create": _bureau_admin(actor) or services.may_edit(actor, actor.department_id),
        "oversight": services.may_oversee(actor)})


def _show_problems(form: PolicyForm, error: InvalidInput) -> None:
    problems = error.details.get("errors") if isinstance(error.details, dict) else None
    if not problems:
        form.add_error(None, error.message)
        return
    for problem in problems:
        field = problem.get("field")
        if field in form.fields:
            form.add_error(field, _message(problem))
        else:
            form.add_error(None, f"{field}: {_message(problem)}")


def _save_policy(request, actor, form: PolicyForm, policy: Policy | None):
    """The posted form through the service: the saved policy, or None with the problems on the form."""
    if not form.is_valid():
        return None
    data, department = form.policy_data()
    if form.errors:
        return None
    try:
        with transaction.atomic():
            if policy is None:
                return services.create_policy(actor, data, department_code=department)
            return services.update_policy(actor, policy.pk, data)
    except InvalidInput as error:
        _show_problems(form, error)
    return None


@official_page
@require_http_methods(["GET", "POST"])
def new_policy(request, actor):
    if not (_bureau_admin(actor) or services.may_edit(actor, actor.department_id)):
        raise PermissionDenied("只有部门数据管理员、审批人员或管理员可以起草政策",
                               "Only a department's stewards, approvers or administrators draft policies")
    departments = ([(d.code, f"{d.name} ({d.code})") for d in Department.objects.order_by("code")]
                   if _bureau_admin(actor) else None)
    form = PolicyForm(request.POST if request.method == "POST" else None, departments=departments)
    if request.method == "POST":
        saved = _save_policy(request, actor, form, None)
        if saved is not None:
            messages.success(request, _("Draft %(code)s saved. Now write its eligibility rule.") % {"code": saved.code})
            return redirect("policies:rule", policy_id=saved.pk)
    return render(request, "policies/policy_form.html", {"form": form, "policy": None, "required": services.REQUIRED},
                  status=422 if form.errors else 200)


@official_page
@require_http_methods(["GET", "POST"])
def edit_policy(request, actor, policy_id: int):
    policy = services.editable(actor, policy_id)
    if policy.status != Policy.Status.DRAFT:
        raise Conflict("已发布或已撤回的政策不能修改", "Only a draft can be changed", code="illegal_transition")
    form = PolicyForm(request.POST if request.method == "POST" else None, initial=policy_initial(policy))
    if request.method == "POST":
        saved = _save_policy(request, actor, form, policy)
        if saved is not None:
            messages.success(request, _("Draft %(code)s saved.") % {"code": saved.code})
            return redirect("policies:manage", policy_id=saved.pk)
    return render(request, "policies/policy_form.html", {"form": form, "policy": policy, "required": services.REQUIRED},
                  status=422 if form.errors else 200)


# --- one policy: publish, withdraw, match ----------------------------------------------------------------------


@official_page
@require_GET
def manage_policy(request, actor, policy_id: int):
    policy = _managed(actor, policy_id)
    editor = services.may_edit(actor, policy.department_id)
    history = list(EligibilityRule.objects.filter(policy=policy).order_by("-version"))
    current = next((r for r in history if r.is_current), None)
    labels = vocabulary.labels_for(policy.target, language())
    awaits = rules.needs_confirmation(policy, current)
    return render(request, "policies/workbench_policy.html", {
        "awaits_confirmation": awaits,
        "may_confirm": awaits and editor and current.created_by != (actor.username or actor.kind),
        "policy": policy, "title": title_of(policy), "editor": editor, "history": history, "current": current,
        "current_text": jsonlogic.render(current.logic, labels) if current else "",
        "current_json": json.dumps(current.logic, ensure_ascii=False, indent=2) if current else "",
        "runs": MatchRun.objects.filter(policy=policy).select_related("snapshot", "job").order_by("-created_at")[:10],
        "may_publish": editor and policy.status == Policy.Status.DRAFT,
        "may_withdraw": editor and policy.status == Policy.Status.PUBLISHED,
        "may_match": (editor or _bureau_admin(actor)) and services.is_in_force(policy),
        "withdraw_form": WithdrawForm(), "in_force": services.is_in_force(policy),
    })


def _act(request, action, success: str):
    try:
        with transaction.atomic():
            result = action()
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
        return None
    messages.success(request, success)
    return result


@official_page
@require_POST
def publish_policy(request, actor, policy_id: int):
    _act(request, lambda: services.publish(actor, policy_id),
         _("Published. It is now in the public policy library."))
    return redirect("policies:manage", policy_id=policy_id)


@official_page
@require_POST
def confirm_rule(request, actor, policy_id: int):
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = 0
    _act(request, lambda: rules.confirm_rule(actor, policy_id, version),
         _("Confirmed. The next matching run grants under this version."))
    return redirect("policies:manage", policy_id=policy_id)


@official_page
@require_POST
def withdraw_policy(request, actor, policy_id: int):
    _act(request, lambda: services.withdraw(actor, policy_id, request.POST.get("reason", "")),
         _("Withdrawn. It is no longer in the library."))
    return redirect("policies:manage", policy_id=policy_id)


@official_page
@require_POST
def match_policy(request, actor, policy_id: int):
    job = _act(request, lambda: matching.start_match(actor, [policy_id]),
               _("Matching started: every profile is checked against the rule."))
    if job is None:
        return redirect("policies:manage", policy_id=policy_id)
    return redirect("policies:job", job_id=job.pk)


# --- the rule editor -------------------------------------------------------------------------------------------


def _json(text: str, what: str) -> tuple[Any, dict | None]:
    """Parsed JSON, or a problem saying where it is broken (nothing is stored then)."""
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as error:
        line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        return None, {"path": what, "code": "invalid_json",
                      "message": _("%(what)s is not valid JSON (line %(line)s, column %(column)s).")
                      % {"what": what, "line": line, "column": column}}


def _problems(found: list[dict]) -> list[dict]:
    return [{"path": p.get("path", "$"), "code": p.get("code", ""), "message": p.get("message") or _message(p)}
            for p in found]


def _try_rule(actor, policy_id: int, form: RuleForm) -> dict:
    logic_text = (form.cleaned_data.get("logic") or "").strip()
    if not logic_text:
        return {"problems": [{"path": "$", "code": "required", "message": _("Write the rule first.")}]}
    logic, problem = _json(logic_text, _("The rule"))
    if problem:
        return {"problems": [problem]}
    sample_text = (form.cleaned_data.get("sample") or "").strip()
    sample, problem = _json(sample_text, _("The sample profile")) if sample_text else (None, None)
    if problem:
        return {"problems": [problem]}
    try:
        with transaction.atomic():
            outcome = rules.test_rule(actor, policy_id, logic, sample, language())
    except InvalidInput as error:
        return {"problems": [{"path": "sample", "code": error.code, "message": error.message}]}
    return {**outcome, "problems": _problems(outcome["problems"]), "tested": True}


def _editor(request, policy: Policy, form: RuleForm, *, problems=(), result=None, status: int = 200):
    current = services.current_rule(policy)
    return render(request, "policies/rule_editor.html", {
        "policy": policy, "title": title_of(policy), "form": form, "current": current, "problems": list(problems),
        "result": result, "variables": vocabulary.variables_for(policy.target), "english": language() == "en",
    }, status=status)


@official_page
@require_http_methods(["GET", "POST"])
def rule_editor(request, actor, policy_id: int):
    policy = services.editable(actor, policy_id)
    if request.method == "GET":
        current = services.current_rule(policy)
        form = RuleForm(initial={
            "logic": json.dumps(current.logic, ensure_ascii=False, indent=2) if current else "",
            "sample": json.dumps(rules.sample_profile(policy.target), ensure_ascii=False, indent=2)})
        return _editor(request, policy, form)
    form = RuleForm(request.POST)
    form.is_valid()
    logic, problem = _json((form.cleaned_data.get("logic") or "").strip() or "null", _("The rule"))
    if problem:
        return _editor(request, policy, form, problems=[problem], status=422)
    try:
        with transaction.atomic():
            rule = rules.set_rule(actor, policy_id, logic, form.cleaned_data.get("description", ""))
    except InvalidInput as error:
        found = error.details.get("problems") if isinstance(error.details, dict) else None
        found = _problems(found) if found else [{"path": "$", "code": error.code, "message": error.message}]
        return _editor(request, policy, form, problems=found, status=422)
    messages.success(request, _("Version %(version)s of the rule saved.") % {"version": rule.version})
    return redirect("policies:manage", policy_id=policy_id)


@official_page
@require_POST
def rule_test(request, actor, policy_id: int):
    """The editor's "test" (nothing stored): an HTMX fragment, or the whole editor without JavaScript."""
    form = RuleForm(request.POST)
    form.is_valid()
    result = _try_rule(actor, policy_id, form)
    if request.headers.get("HX-Request") == "true":
        return render(request, "policies/_rule_test.html", {"result": result})
    return _editor(request, services.editable(actor, policy_id), form, result=result)


# --- the match job ---------------------------------------------------------------------------------------------


def _job(actor, job_id) -> Job:
    return job_for(actor.username, job_id, oversight=_may_urge(actor))


def _job_context(job: Job) -> dict:
    finished = job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED)
    results = []
    if job.status == Job.Status.SUCCEEDED and isinstance(job.result, dict):
        figures = job.result.get("policies") or {}
        known = {p.code: p for p in Policy.objects.filter(code__in=list(figures))}
        results = [{"code": code, "policy": known.get(code), **row} for code, row in figures.items()]
    progress = job.progress
    return {"job": job, "finished": finished, "results": results,
            "percent": round(progress * 100) if progress is not None else None}


@official_page
@require_GET
def job_page(request, actor, job_id):
    return render(request, "policies/job.html", _job_context(_job(actor, job_id)))


@official_page
@require_GET
def job_status(request, actor, job_id):
    return render(request, "policies/_job_status.html", _job_context(_job(actor, job_id)))


# --- supervision -----------------------------------------------------------------------------------------------


@official_page
@require_GET
def supervision_page(request, actor):
    with transaction.atomic():
        board = supervision.dashboard(actor)
    for row in board["policies"]:
        row["title"] = title_of(row["policy"])
    labels = [_("Matched"), _("Notified"), _("Viewed"), _("Applied"), _("Granted")]
    chart = {"title": _("From matching to benefit (all policies)"), "labels": labels,
             "values": [board["totals"][key] for key in FUNNEL]}
    return render(request, "policies/supervision.html", {**board, "chart": chart,
                                                         "funnel": list(zip(labels, chart["values"], strict=True))})


@official_page
@require_GET
def policy_supervision_page(request, actor, policy_id: int):
    with transaction.atomic():
        figures = supervision.policy_figures(actor, policy_id)
    rated = max(figures["ratings"], 1)
    distribution = [{"score": score, "count": count, "percent": round(100 * count / rated)}
                    for score, count in sorted(figures["rating_distribution"].items(), reverse=True)]
    return render(request, "policies/policy_supervision.html", {
        "figures": figures, "policy": figures["policy"], "title": title_of(figures["policy"]),
        "distribution": distribution, "may_urge": _may_urge(actor), "urge_form": UrgeForm()})


@official_page
@require_POST
def urge_page(request, actor, policy_id: int):
    try:
        with transaction.atomic():
            sent = supervision.urge(actor, policy_id, request.POST.get("note", ""))
    except InvalidInput as error:
        messages.error(request, error.message)
    else:
        messages.success(request, ngettext("Urged: %(count)s official of the issuing department was notified.",
                                           "Urged: %(count)s officials of the issuing department were notified.",
                                           sent) % {"count": sent})
    return redirect("policies:supervision-policy", policy_id=policy_id)


urlpatterns = [
    path("workbench/policies/", workbench, name="workbench"),
    path("workbench/policies/new/", new_policy, name="new"),
    path("workbench/policies/supervision/", supervision_page, name="supervision"),
    path("workbench/policies/jobs/<uuid:job_id>/", job_page, name="job"),
    path("workbench/policies/jobs/<uuid:job_id>/status/", job_status, name="job-status"),
    path("workbench/policies/<int:policy_id>/", manage_policy, name="manage"),
    path("workbench/policies/<int:policy_id>/edit/", edit_policy, name="edit"),
    path("workbench/policies/<int:policy_id>/publish/", publish_policy, name="publish"),
    path("workbench/policies/<int:policy_id>/withdraw/", withdraw_policy, name="withdraw"),
    path("workbench/policies/<int:policy_id>/match/", match_policy, name="match"),
    path("workbench/policies/<int:policy_id>/rule/", rule_editor, name="rule"),
    path("workbench/policies/<int:policy_id>/rule/test/", rule_test, name="rule-test"),
    path("workbench/policies/<int:policy_id>/rule/confirm/", confirm_rule, name="rule-confirm"),
    path("workbench/policies/<int:policy_id>/supervision/", policy_supervision_page, name="supervision-policy"),
    path("workbench/policies/<int:policy_id>/supervision/urge/", urge_page, name="urge"),
]
