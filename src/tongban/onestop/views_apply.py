"""Applicant pages: the application wizard (/services/<code>/apply/ → form → materials → check →
done, a draft saved at every step so it can be resumed) and my applications with their timeline
(/me/applications/...). Thin: every decision is the services' (``services.applications``,
``services.uploads``); these pages only show them."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.catalog import services as catalog
from tongban.core.errors import Conflict, DomainError, InvalidInput, NotFound
from tongban.identity.access import require_kind
from tongban.identity.decorators import actor_page
from tongban.onestop.models import Application, Material, ServiceItem
from tongban.onestop.services import applications, uploads, wallet_use
from tongban.onestop.services.transitions import WITHDRAWABLE

S = Application.Status
EDITABLE = (S.DRAFT, S.SUPPLEMENT_REQUESTED)

STATUS_LABELS = {
    S.DRAFT: pgettext_lazy("application status", "Draft"),
    S.SUBMITTED: pgettext_lazy("application status", "Submitted"),
    S.ACCEPTED: pgettext_lazy("application status", "Accepted"),
    S.SUPPLEMENT_REQUESTED: pgettext_lazy("application status", "Supplement requested"),
    S.REFUSED: pgettext_lazy("application status", "Not accepted"),
    S.UNDER_REVIEW: pgettext_lazy("application status", "Under review"),
    S.APPROVED: pgettext_lazy("application status", "Approved"),
    S.DENIED: pgettext_lazy("application status", "Denied"),
    S.COMPLETED: pgettext_lazy("application status", "Completed"),
    S.WITHDRAWN: pgettext_lazy("application status", "Withdrawn"),
}
STATUS_CLASSES = {S.DRAFT: "draft", S.SUPPLEMENT_REQUESTED: "warn", S.REFUSED: "bad", S.DENIED: "bad",
                  S.APPROVED: "ok", S.COMPLETED: "ok", S.WITHDRAWN: "off"}
TIMELINE_TITLES = {
    S.DRAFT: pgettext_lazy("timeline", "Application started"),
    S.SUBMITTED: pgettext_lazy("timeline", "Submitted"),
    S.ACCEPTED: pgettext_lazy("timeline", "Accepted by the window"),
    S.REFUSED: pgettext_lazy("timeline", "Not accepted"),
    S.SUPPLEMENT_REQUESTED: pgettext_lazy("timeline", "Corrections requested"),
    S.UNDER_REVIEW: pgettext_lazy("timeline", "Review by the departments started"),
    S.APPROVED: pgettext_lazy("timeline", "Approved"),
    S.DENIED: pgettext_lazy("timeline", "Denied"),
    S.COMPLETED: pgettext_lazy("timeline", "Completed"),
    S.WITHDRAWN: pgettext_lazy("timeline", "Withdrawn"),
}
# form_schema "type" (text / number / date / choice / boolean: services.forms) → the <input> type.
INPUT_TYPES = {"number": "number", "date": "date"}


def _english() -> bool:
    return (get_language() or "").lower().startswith("en")


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


applicant_page = actor_page


def _application(actor, number) -> Application:
    """The caller's own application (an official who may see it in the workbench gets 404 here)."""
    require_kind(actor, "citizen", "enterprise")
    application = applications.get_application(actor, number)
    if application.applicant_id != actor.user_id:
        raise NotFound("没有这个办件", "No such application")
    return application


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --- what the pages show ------------------------------------------------------------------------------------


def _label(spec: dict) -> str:
    return (spec.get("label_en") if _english() else None) or spec.get("label") or spec.get("key", "")


def _options(spec: dict) -> list[tuple[str, str]]:
    options = []
    for option in spec.get("options") or ():
        if isinstance(option, dict):
            value = str(option.get("value", ""))
            label = (option.get("label_en") if _english() else None) or option.get("label") or value
            options.append((value, str(label)))
        else:
            options.append((str(option), str(option)))
    return options


def _providers(application) -> dict[str, dict]:
    """resource code → {"name", "provider"} of the resources the prefilled values came from."""
    found: dict[str, dict] = {}
    for entry in (application.prefilled or {}).values():
        code = (entry or {}).get("resource")
        if code and code not in found:
            try:
                resource = catalog.get_published(code)
            except DomainError:
                found[code] = {"name": code, "provider": code}
            else:
                found[code] = {"name": resource.name, "provider": resource.department.name}
    return found


def _shown(value) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return str(value)


def _input_value(value) -> str:
    """A stored value as an input's value (booleans as "true" / "false")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _fields(application, values: dict | None = None, errors: dict | None = None) -> list[dict]:
    """The form's fields: value, whether it came from government records (and whose), error."""
    providers = _providers(application)
    prefilled = application.prefilled or {}
    values = application.form if values is None else values
    errors = errors or {}
    fields = []
    for spec in application.item.form_schema or ():
        key = spec.get("key")
        if not key:
            continue
        kind = spec.get("type", "text")
        source = prefilled.get(key)
        value = source.get("value") if source else values.get(key)
        options = _options(spec)
        fields.append({
            "key": key, "label": _label(spec), "required": bool(spec.get("required")),
            "help": spec.get("help", ""), "input_type": INPUT_TYPES.get(kind, "text"),
            "is_select": kind == "choice", "is_boolean": kind == "boolean",
            "options": options, "value": _input_value(value),
            "shown": dict(options).get(str(value), _shown(value)) if options else _shown(value),
            "prefilled": bool(source),
            "resource": providers.get(source.get("resource"), {}) if source else {},
            "error": errors.get(key, ""),
        })
    return fields


def _materials(application, upload_errors: dict | None = None, wallet: dict | None = None) -> list[dict]:
    """Each material and where it comes from: ``state`` wallet / shared / form / uploaded / missing.
    ``wallet`` (type code → usable credentials, on the materials step): a certificate material with
    two or more of them gets ``choices`` (each ``{"credential", "number", "selected"}``)."""
    reused = {str(k): v for k, v in (application.reused or {}).items()}
    files: dict[int, list] = {}
    for upload in application.uploads.all():
        files.setdefault(upload.material_id, []).append(upload)
    rows = []
    for material in application.item.materials.all():
        entry = reused.get(str(material.pk))
        row = {"material": material, "reused": entry, "uploads": files.get(material.pk, []),
               "error": (upload_errors or {}).get(material.pk, ""), "get_it_url": "",
               "required": material.necessity == Material.Necessity.REQUIRED}
        if entry and material.source == Material.Source.CERTIFICATE:
            row["state"], row["credential_name"] = "wallet", entry.get("name") or material.certificate_type
        elif entry:
            row["state"] = "shared"
        elif material.source == Material.Source.FORM:
            row["state"] = "form"
        else:
            row["state"] = "uploaded" if row["uploads"] else "missing"
        if material.source == Material.Source.CERTIFICATE and not entry:
            producer = ServiceItem.objects.filter(certificate_type=material.certificate_type,
                                                  status=ServiceItem.Status.PUBLISHED).first() \
                if material.certificate_type else None
            row["get_it_url"] = reverse("onestop:guide", args=[producer.code]) if producer \
                else reverse("credentials:wallet")
        row["needs_upload"] = row["state"] in ("missing", "uploaded")
        held = (wallet or {}).get(material.certificate_type) or [] \
            if material.source == Material.Source.CERTIFICATE and material.certificate_type else []
        row["choices"] = [{"credential": c, "number": str(c.pk)[:8].upper(),
                           "selected": bool(entry) and entry.get("credential") == str(c.pk)}
                          for c in held] if len(held) > 1 else []
        rows.append(row)
    return rows


def _message(entry) -> str:
    """A message from an error or problem entry: a string, or a dict with messages / a reason."""
    if not isinstance(entry, dict):
        return str(entry)
    for key in ("message_en" if _english() else "message_zh", "message", "reason"):
        if entry.get(key):
            return str(entry[key])
    return _("This is missing or not valid.")


def _fix_link(entry: dict, application) -> dict:
    """``{"label", "message", "url"}`` of a field or material entry (a supplement problem or a gap)."""
    number = application.number
    message = _message(entry) if any(k.startswith(("message", "reason")) for k in entry) else ""
    if entry.get("field"):
        key = str(entry["field"])
        labels = {spec.get("key"): _label(spec) for spec in application.item.form_schema or ()}
        return {"label": labels.get(key) or entry.get("label") or key, "message": message,
                "url": f"{reverse('onestop:apply-form', args=[number])}#field-{key}"}
    if entry.get("material") not in (None, ""):
        return {"label": entry.get("name") or str(entry["material"]), "message": message,
                "url": f"{reverse('onestop:apply-materials', args=[number])}#material-{entry['material']}"}
    return {"label": message or _message(entry), "message": "", "url": ""}


def _missing(error: InvalidInput, application) -> list[dict]:
    """Every gap of a 422 ``incomplete_application`` (details ``missing``: empty required fields and
    materials; ``fields``: per-field errors), each linking to where to fix it."""
    details = error.details if isinstance(error.details, dict) else {}
    entries = [dict(e) for e in details.get("missing") or () if isinstance(e, dict)]
    for entry in entries:
        entry.setdefault("message", _("not given yet") if entry.get("field") else _("not provided yet"))
    listed = {e.get("field") for e in entries}
    for key, problem in (details.get("fields") or {}).items():
        if key not in listed:
            problem = problem if isinstance(problem, dict) else {"message": str(problem)}
            entries.append({"field": key, **problem})
    return [_fix_link(entry, application) for entry in entries] or [{"label": error.message, "url": ""}]


def _supplement(application) -> list[dict]:
    """What the department asked to correct (all at once), each linking to where to fix it."""
    if application.status != S.SUPPLEMENT_REQUESTED:
        return []
    return [_fix_link(entry, application) for entry in application.supplement or ()
            if isinstance(entry, dict)]


def _credential_url(application) -> str:
    if not application.credential_id:
        return ""
    return f"{reverse('credentials:wallet')}#credential-{application.credential_id}"


def _who(actor: str, applicant: str) -> str:
    if actor == applicant:
        return _("you")
    if actor.startswith("system:instant"):
        return _("instant approval (automatic)")
    return _("the platform") if actor.startswith("system:") else actor


def _timeline(application) -> list[dict]:
    """The application's events, oldest first, as the applicant reads them."""
    steps = []
    for event in applications.timeline(application):
        decision = event.from_status == event.to_status
        if decision and event.to_status == S.UNDER_REVIEW:
            title = pgettext_lazy("timeline", "Department review decision")
        elif decision:
            title = pgettext_lazy("timeline", "Note")
        else:
            title = TIMELINE_TITLES.get(event.to_status, event.to_status)
        steps.append({"at": event.at, "title": title, "by": _who(event.actor, application.applicant.username),
                      "note": event.note, "status": event.to_status, "decision": decision})
    return steps


def _wizard(application, step: str, **context) -> dict:
    return {"application": application, "item": application.item, "step": step,
            "supplement": _supplement(application), **context}


# --- the wizard ---------------------------------------------------------------------------------------------


@applicant_page
def apply_start(request, actor, code):
    """POST: start an application for item ``code`` (or resume the draft) and go to its form.
    GET creates nothing (a link or an image must not start an application): back to the guide."""
    if request.method != "POST":
        return redirect("onestop:guide", code)
    with transaction.atomic():
        application = applications.start_application(actor, code)
    return redirect("onestop:apply-form", application.number)


@applicant_page
@require_http_methods(["GET", "POST"])
def form_page(request, actor, number):
    application = _application(actor, number)
    if application.status not in EDITABLE:
        return redirect("onestop:application", number)
    errors: dict[str, str] = {}
    values = None
    if request.method == "POST":
        # Only the editable fields: values from government records are never taken from a post.
        prefilled = application.prefilled or {}
        keys = [spec.get("key") for spec in application.item.form_schema or ()]
        values = {key: request.POST.get(key, "").strip() for key in keys if key and key not in prefilled}
        try:
            with transaction.atomic():
                applications.save_form(actor, number, values)
        except InvalidInput as error:
            problems = (error.details or {}).get("fields") if isinstance(error.details, dict) else None
            errors = {key: _message(problem) for key, problem in (problems or {}).items()}
            errors = errors or {"": error.message}
        else:
            if request.POST.get("action") == "later":
                messages.success(request, _("Your application %(number)s has been saved. You can continue it "
                                            "from “My applications” at any time.") % {"number": number})
                return redirect("onestop:my-applications")
            return redirect("onestop:apply-materials", number)
    fields = _fields(application, values, errors)
    return render(request, "onestop/apply/form.html", _wizard(
        application, "form", fields=fields, errors=[f for f in fields if f["error"]],
        general_errors=[errors[""]] if "" in errors else [],
        prefilled_count=sum(1 for f in fields if f["prefilled"])))


@applicant_page
@require_http_methods(["GET", "POST"])
def materials_page(request, actor, number):
    application = _application(actor, number)
    if application.status not in EDITABLE:
        return redirect("onestop:application", number)
    upload_errors: dict[int, str] = {}
    if request.method == "POST":
        here = reverse("onestop:apply-materials", args=[number])
        material_id = _int(request.POST.get("material"))
        if request.POST.get("action") == "choose":
            chosen = request.POST.get("credential", "").strip()
            if not chosen:
                upload_errors[material_id] = _("Choose the certificate to use.")
            else:
                try:
                    with transaction.atomic():
                        wallet_use.choose_credential(actor, number, material_id, chosen)
                except (InvalidInput, NotFound, Conflict) as error:
                    upload_errors[material_id] = error.message
                else:
                    messages.success(request, _("The certificate you chose will be used."))
                    return redirect(f"{here}#material-{material_id}")
        elif request.POST.get("remove"):
            with transaction.atomic():
                uploads.remove_upload(actor, number, _int(request.POST["remove"]))
            messages.success(request, _("The file has been removed."))
            return redirect(f"{here}#material-{material_id}")
        elif (uploaded := request.FILES.get("file")) is None:
            upload_errors[material_id] = _("Choose a file to upload.")
        else:
            try:
                with transaction.atomic():
                    uploads.add_upload(actor, number, material_id, uploaded)
            except InvalidInput as error:
                upload_errors[material_id] = error.message
            else:
                messages.success(request, _("“%(name)s” has been uploaded.") % {"name": uploaded.name})
                return redirect(f"{here}#material-{material_id}")
    rows = _materials(application, upload_errors, wallet_use.usable_credentials(actor))
    shown = [r for r in rows if r["error"]]
    return render(request, "onestop/apply/materials.html", _wizard(
        application, "materials", materials=rows, upload_errors=shown,
        choosing=request.POST.get("action") == "choose",
        unknown_error="" if shown else next(iter(upload_errors.values()), "")),
        status=422 if upload_errors else 200)


@applicant_page
@require_http_methods(["GET", "POST"])
def check_page(request, actor, number):
    """Check your answers, then submit: a 422 lists everything still missing at once."""
    application = _application(actor, number)
    if application.status not in EDITABLE:
        return redirect("onestop:application", number)
    missing: list[dict] = []
    if request.method == "POST":
        try:
            with transaction.atomic():
                applications.submit(actor, number)
        except InvalidInput as error:
            missing = _missing(error, application)
        else:
            return redirect("onestop:apply-done", number)
    return render(request, "onestop/apply/check.html", _wizard(
        application, "check", fields=_fields(application), materials=_materials(application),
        missing=missing),
        status=422 if missing else 200)


@applicant_page
def done_page(request, actor, number):
    """The confirmation: the number and what happens next (approved at once, or the time limit)."""
    application = _application(actor, number)
    if application.status in EDITABLE:
        return redirect("onestop:apply-check", number)
    decided = application.status in (S.APPROVED, S.COMPLETED)
    passed = bool((application.rule_result or {}).get("passed"))
    return render(request, "onestop/apply/done.html", {
        "application": application, "item": application.item, "decided": decided,
        "instant": decided and passed and application.accepted_at is None,
        "inbox_url": reverse("onestop:inbox"), "credential_url": _credential_url(application),
    })


# --- my applications ----------------------------------------------------------------------------------------


@applicant_page
def my_applications_page(request, actor):
    rows = [{"application": a, "status_label": status_label(a.status),
             "status_class": STATUS_CLASSES.get(a.status, "")} for a in applications.my_applications(actor)]
    return render(request, "onestop/mine/list.html", {"rows": rows})


@applicant_page
def application_page(request, actor, number):
    application = _application(actor, number)
    ratable = application.status == S.COMPLETED and not application.ratings.filter(is_current=True).exists()
    return render(request, "onestop/mine/detail.html", {
        "application": application, "item": application.item,
        "status_label": status_label(application.status),
        "status_class": STATUS_CLASSES.get(application.status, ""), "timeline": _timeline(application),
        "tasks": list(application.tasks.select_related("department")), "supplement": _supplement(application),
        "can_withdraw": application.status in WITHDRAWABLE, "credential_url": _credential_url(application),
        "rate_url": reverse("onestop:rate", args=[number]) if ratable else "",
        "fields": _fields(application), "materials": _materials(application),
    })


@applicant_page
@require_POST
def withdraw_page(request, actor, number):
    _application(actor, number)
    with transaction.atomic():
        applications.withdraw(actor, number)
    messages.success(request, _("Application %(number)s has been withdrawn.") % {"number": number})
    return redirect("onestop:application", number)


urlpatterns = [
    path("services/<str:code>/apply/", apply_start, name="apply"),
    path("me/applications/", my_applications_page, name="my-applications"),
    path("me/applications/<str:number>/", application_page, name="application"),
    path("me/applications/<str:number>/form/", form_page, name="apply-form"),
    path("me/applications/<str:number>/materials/", materials_page, name="apply-materials"),
    path("me/applications/<str:number>/check/", check_page, name="apply-check"),
    path("me/applications/<str:number>/done/", done_page, name="apply-done"),
    path("me/applications/<str:number>/withdraw/", withdraw_page, name="apply-withdraw"),
]
