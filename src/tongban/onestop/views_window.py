"""Department pages for applications: the clerk window (一窗受理: the queue of submitted
applications, one application with its form, prefilled fields, reused materials and uploads,
and accept / refuse / request a supplement — every problem listed at once) and the department
review queue (并联审批: approve or deny one department's task with an opinion, the other
departments' tasks in view). Thin: every decision is the services' (``services.applications``)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import RedirectView

from tongban.core.errors import InvalidInput
from tongban.identity.access import require_same_department
from tongban.identity.decorators import actor_page
from tongban.onestop.models import Application, Material, ReviewTask
from tongban.onestop.services import prefill as prefilling

Status = Application.Status
TASK_CLASSES = {"pending": "status-warn", "approved": "status-ok", "denied": "status-off", "cancelled": "status-off"}
SOURCE_LABELS = dict(Material.Source.choices)


def _services():
    from tongban.onestop.services import applications

    return applications


official_page = actor_page(kinds=("official",), refusal=("窗口与审查页面供部门工作人员使用", "These pages are for department staff"))


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _errors(error: InvalidInput, labels: list[str] | None = None) -> dict:
    """Messages of a service's InvalidInput: per-field ``errors``, or the supplement's indexed
    ``problems`` (``labels``: what each posted problem was about)."""
    details = error.details if isinstance(error.details, dict) else {}
    problems = details.get("errors")
    if not problems:
        other = [error.message]
        for problem in details.get("problems") or []:
            index = problem.get("index") if isinstance(problem, dict) else None
            if labels and isinstance(index, int) and index < len(labels):
                other.append(f"{labels[index]}: {problem.get('error', '')}")
        return {"fields": {}, "other": other}
    fields: dict[str, list[str]] = {}
    for problem in problems:
        message = problem.get("message_en" if _english() else "message_zh") or error.message
        fields.setdefault(str(problem.get("field") or problem.get("material") or ""), []).append(message)
    return {"fields": fields, "other": []}


def _rule_failure(application: Application) -> dict | None:
    """Why instant approval did not pass (shown to the clerk), or None."""
    result = application.rule_result
    if not isinstance(result, dict) or result.get("passed", True):
        return None
    reasons = [r.get("condition", "") for r in result.get("reasons") or [] if isinstance(r, dict)
               and not r.get("passed")]
    return {"version": result.get("version"), "description": result.get("description", ""),
            "reasons": [r for r in reasons if r] or [result.get("reason", "")]}


def _fields(application: Application, shown: dict) -> list[dict]:
    """The form as the clerk reads it: each field's value, and whether it came from records
    (``shown``: ``prefill.shown_to`` — other departments' values masked unless granted in clear)."""
    rows = []
    english = _english()
    form = shown["form"]
    for spec in application.item.form_schema or []:
        key = spec.get("key")
        prefilled = shown["prefilled"].get(key)
        value = form.get(key) if key in form else None
        if value is None and isinstance(prefilled, dict):
            value = prefilled.get("value")
        rows.append({"key": key, "label": (spec.get("label_en") if english else None) or spec.get("label") or key,
                     "value": value, "prefilled": prefilled if isinstance(prefilled, dict) else None,
                     "required": spec.get("required", False)})
    return rows


def _materials(application: Application, shown: dict) -> list[dict]:
    uploads: dict[int, list] = {}
    for upload in application.uploads.all():
        uploads.setdefault(upload.material_id, []).append(upload)
    reused = shown["reused"]
    rows = []
    for material in application.item.materials.all():
        how = reused.get(str(material.pk)) or reused.get(material.pk)
        rows.append({"material": material, "reused": how if isinstance(how, dict) else None,
                     "uploads": uploads.get(material.pk, []), "source": SOURCE_LABELS.get(material.source, "")})
    return rows


def _timeline(application: Application) -> list[dict]:
    labels = dict(Status.choices)
    return [{"at": event.at, "label": labels.get(event.to_status, event.to_status), "actor": event.actor,
             "note": event.note} for event in _services().timeline(application)]


def _application_context(application: Application, actor) -> dict:
    shown = prefilling.shown_to(actor, application)
    return {"application": application, "item": application.item, "fields": _fields(application, shown),
            "materials": _materials(application, shown), "rule_failure": _rule_failure(application),
            "timeline": _timeline(application), "tasks": list(application.tasks.select_related("department"))}


# --- the clerk window -------------------------------------------------------------------------------------------


@official_page
def window(request, actor):
    with transaction.atomic():
        rows = [{"application": a, "rule_failure": _rule_failure(a)} for a in _services().clerk_queue(actor)]
    return render(request, "onestop/window/queue.html", {"rows": rows})


def _detail(request, actor, number: str, *, errors: dict | None = None, status: int = 200, posted=None):
    with transaction.atomic():
        application = _services().get_application(actor, number)
        context = _application_context(application, actor)
    posted = posted or {}
    reasons = posted.get("reasons", {})
    checklist = [{"kind": "field", "value": f["key"], "label": f["label"], "material": False,
                  "checked": f["key"] in posted.get("fields", ()), "reason": reasons.get(f"field-{f['key']}", "")}
                 for f in context["fields"]]
    checklist += [{"kind": "material", "value": r["material"].pk, "label": r["material"].name, "material": True,
                   "checked": str(r["material"].pk) in posted.get("materials", ()),
                   "reason": reasons.get(f"material-{r['material'].pk}", "")} for r in context["materials"]]
    context.update({"errors": errors, "posted": posted, "checklist": checklist,
                    "can_decide": application.status == Status.SUBMITTED
                    and _services().handles(actor, application.item.department_id)})
    return render(request, "onestop/window/detail.html", context, status=status)


@official_page
def window_detail(request, actor, number: str):
    return _detail(request, actor, number)


@official_page
@require_POST
def window_accept(request, actor, number: str):
    with transaction.atomic():
        _services().accept(actor, number)
    messages.success(request, _("Application %(number)s accepted.") % {"number": number})
    return redirect("onestop:window")


@official_page
@require_POST
def window_refuse(request, actor, number: str):
    reason = request.POST.get("reason", "")
    try:
        with transaction.atomic():
            _services().refuse(actor, number, reason)
    except InvalidInput as error:
        return _detail(request, actor, number, errors=_errors(error), status=422, posted={"reason": reason})
    messages.success(request, _("Application %(number)s was not accepted; the applicant is told why.")
                     % {"number": number})
    return redirect("onestop:window")


def _supplement_problems(post) -> tuple[list[dict], list[str], dict]:
    """The ticked fields and materials with their reasons (every one at once), a label of each
    for error messages, and what was posted (to show it again)."""
    problems, labels = [], []
    posted = {"fields": post.getlist("field"), "materials": post.getlist("material"), "reasons": {}}
    for key in posted["fields"]:
        reason = post.get(f"reason-field-{key}", "").strip()
        posted["reasons"][f"field-{key}"] = reason
        problems.append({"field": key, "reason": reason})
        labels.append(key)
    for material_id in posted["materials"]:
        reason = post.get(f"reason-material-{material_id}", "").strip()
        posted["reasons"][f"material-{material_id}"] = reason
        problems.append({"material": material_id, "reason": reason})
        labels.append(_("material %(id)s") % {"id": material_id})
    return problems, labels, posted


@official_page
@require_POST
def window_supplement(request, actor, number: str):
    problems, labels, posted = _supplement_problems(request.POST)
    if not problems:
        errors = {"fields": {}, "other": [_("Tick at least one field or material and say what is wrong.")]}
        return _detail(request, actor, number, errors=errors, status=422, posted=posted)
    try:
        with transaction.atomic():
            _services().request_supplement(actor, number, problems)
    except InvalidInput as error:
        return _detail(request, actor, number, errors=_errors(error, labels), status=422, posted=posted)
    messages.success(request, _("The applicant was asked to supplement %(number)s (%(count)s items).")
                     % {"number": number, "count": len(problems)})
    return redirect("onestop:window")


@official_page
def upload_file(request, actor, number: str, upload_id: int):
    """An uploaded file, for an official who may see the application."""
    with transaction.atomic():
        application = _services().get_application(actor, number)
        upload = application.uploads.filter(pk=upload_id).first()
    if upload is None:
        raise Http404()
    return FileResponse(upload.file.open("rb"), content_type=upload.content_type, filename=upload.original_name)


# --- the department review queue ---------------------------------------------------------------------------------


def _task(actor, task_id: int) -> ReviewTask:
    """A review task of the actor's department (the bureau: any); others are not found. (Read
    only: deciding goes through ``decide_task``, which checks again.)"""
    task = ReviewTask.objects.select_related("application__item", "department").filter(pk=task_id).first()
    require_same_department(actor, task.department_id if task else None)
    return task


def _task_row(task: ReviewTask) -> dict:
    return {"task": task, "status_class": TASK_CLASSES.get(task.status, "")}


@official_page
def tasks(request, actor):
    with transaction.atomic():
        rows = []
        for task in _services().task_queue(actor):  # the earliest deadline first
            others = [_task_row(t) for t in task.application.tasks.select_related("department") if t.pk != task.pk]
            rows.append({"task": task, "application": task.application, "others": others})
    return render(request, "onestop/window/tasks.html", {"rows": rows})


@official_page
@require_http_methods(["GET", "POST"])
def task_detail(request, actor, task_id: int):
    errors, status, opinion = None, 200, ""
    if request.method == "POST":
        opinion = request.POST.get("opinion", "")
        decision = request.POST.get("decision")
        if decision not in ("approve", "deny"):
            errors, status = {"fields": {}, "other": [_("Choose approve or deny.")]}, 422
        else:
            try:
                with transaction.atomic():
                    _services().decide_task(actor, task_id, approve=decision == "approve", opinion=opinion)
            except InvalidInput as error:
                errors, status = _errors(error), 422
            else:
                messages.success(request, _("Your department's opinion is recorded."))
                return redirect("onestop:tasks")
    with transaction.atomic():
        task = _task(actor, task_id)
        context = _application_context(task.application, actor)
    context.update({"task": task, "task_class": TASK_CLASSES.get(task.status, ""),
                    "others": [_task_row(t) for t in context["tasks"] if t.pk != task.pk],
                    "can_decide": task.status == ReviewTask.Status.PENDING
                    and _services().handles(actor, task.department_id)
                    and task.application.status == Status.UNDER_REVIEW,
                    "errors": errors, "opinion": opinion})
    return render(request, "onestop/window/task.html", context, status=status)


urlpatterns = [
    path("workbench/onestop/window/", window, name="window"),
    # The link the state machine's messages to officials carry (e.g. "overdue"): the same page.
    path("workbench/onestop/applications/<str:number>/",
         RedirectView.as_view(pattern_name="onestop:window-detail", permanent=False), name="official-application"),
    path("workbench/onestop/window/<str:number>/", window_detail, name="window-detail"),
    path("workbench/onestop/window/<str:number>/accept/", window_accept, name="window-accept"),
    path("workbench/onestop/window/<str:number>/refuse/", window_refuse, name="window-refuse"),
    path("workbench/onestop/window/<str:number>/supplement/", window_supplement, name="window-supplement"),
    path("workbench/onestop/window/<str:number>/uploads/<int:upload_id>/", upload_file, name="window-upload"),
    path("workbench/onestop/tasks/", tasks, name="tasks"),
    path("workbench/onestop/tasks/<int:task_id>/", task_detail, name="task-detail"),
]
