"""Catalog pages: search (with facets and HTMX live results), resource detail, the open-data
portal, the steward's editor and import, the bureau's review queue, and ``/catalog.jsonld``.
Thin: every decision is the services'."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tongban.catalog import dcat, services, spreadsheet
from tongban.catalog.forms import DeprecateForm, ImportForm, ItemFormSet, ResourceForm, ReviewForm
from tongban.catalog.models import Resource
from tongban.core.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.identity.decorators import error_page, needs_second_factor

FACET_LABELS = {
    "department": gettext_lazy("Provider department"), "sharing": gettext_lazy("Sharing class"),
    "opening": gettext_lazy("Open class"), "theme": gettext_lazy("Theme"),
    "format": gettext_lazy("Resource format"), "update_cycle": gettext_lazy("Update cycle"),
}
SEARCH_PARAMS = ("q", "department", "sharing", "opening", "theme", "format", "update_cycle")


def _actor(request):
    user = request.user
    if not user.is_authenticated:
        return ANONYMOUS
    if needs_second_factor(request):
        return ANONYMOUS  # a session that has not passed the second factor is not a login
    return actor_for_user(user)


def official_page(view):
    """Logged in (second factor passed where required); domain errors become error pages."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        actor = _actor(request)
        if not actor.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, actor, *args, **kwargs)
        except DomainError as error:
            return error_page(request, error)

    return wrapper


# --- search and detail -----------------------------------------------------------------------------------


def _int(value, default=1) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


def _search_page(request, *, public_portal: bool, template_title: str):
    actor = _actor(request)
    params = {name: request.GET.get(name, "").strip() for name in SEARCH_PARAMS}
    page = _int(request.GET.get("page"))
    try:
        result = services.search_resources(actor, params["q"], page=page, page_size=20, public_portal=public_portal,
                                           with_facets=True, **{k: v or None for k, v in params.items() if k != "q"})
    except DomainError as error:
        return error_page(request, error)
    base_query = {k: v for k, v in params.items() if v}
    facets = []
    for name, entries in result.facets.items():
        selected = params.get(name, "")
        if not entries:
            continue
        for entry in entries:
            entry["url"] = f"?{urlencode({**base_query, name: entry['value']})}"
            entry["selected"] = str(entry["value"]) == selected
        facets.append({"name": name, "label": FACET_LABELS[name], "entries": entries, "selected": selected,
                       "clear_url": f"?{urlencode({k: v for k, v in base_query.items() if k != name})}"})
    context = {
        "result": result, "params": params, "facets": facets, "public_portal": public_portal,
        "page_title": template_title, "action": request.path,
        "prev_url": f"?{urlencode({**base_query, 'page': page - 1})}" if page > 1 else None,
        "next_url": f"?{urlencode({**base_query, 'page': page + 1})}" if page < result.pages else None,
        "facet_base": base_query,
    }
    template = "catalog/_results.html" if request.headers.get("HX-Request") else "catalog/search.html"
    return render(request, template, context)


def catalog_search(request):
    return _search_page(request, public_portal=False, template_title=_("Data catalog"))


def open_data(request):
    return _search_page(request, public_portal=True, template_title=_("Open data"))


def resource_detail(request, code: str):
    actor = _actor(request)
    version = request.GET.get("version")
    try:
        resource = services.get_resource(actor, code, int(version) if version and version.isdigit() else None)
    except DomainError as error:
        return error_page(request, error)
    items = services.items_of(resource)
    subject = next((i for i in items if i.is_subject_key), None)
    context = {
        "resource": resource, "items": items, "quality": services.quality_of(resource),
        "versions": services.versions_of(actor, resource), "reviews": services.reviews_of(actor, resource),
        "subject_kind": services.SUBJECT_TYPES.get(subject.effective_type) if subject else None,
        "can_edit": services.is_steward(actor) and actor.department_id == resource.department_id,
        "is_reviewer": services.is_reviewer(actor),
        "request_url": f"/workbench/exchange/requests/new?{urlencode({'resource': resource.code})}",
        "english": (request.LANGUAGE_CODE or "").startswith("en"),
    }
    return render(request, "catalog/detail.html", context)


def catalog_jsonld(request):
    body = dcat.open_catalog_jsonld(request.build_absolute_uri("/"))
    return HttpResponse(body, content_type="application/ld+json; charset=utf-8")


# --- the steward's workbench --------------------------------------------------------------------------------


@official_page
def workbench(request, actor):
    if not services.is_steward(actor):
        if services.is_reviewer(actor):
            return redirect("catalog:review-queue")
        raise PermissionDenied(_("Only data stewards maintain the catalog."), "Only data stewards maintain the catalog.")
    rows = services.department_resources(actor)
    return render(request, "catalog/workbench/list.html", {"resources": rows, "deprecate_form": DeprecateForm()})


def _form_data(form: ResourceForm, formset) -> dict:
    data = dict(form.cleaned_data)
    data["keywords"] = data.get("keywords") or ""
    data["related_codes"] = data.get("related_codes") or ""
    items = []
    for item_form in formset.forms:
        values = getattr(item_form, "cleaned_data", None) or {}
        if not values or values.get("DELETE") or not values.get("name"):
            continue
        values = {k: v for k, v in values.items() if k != "DELETE"}
        if values.get("data_element"):
            values.pop("data_type", None)
        items.append(values)
    data["items"] = items
    return data


def _show_problems(form: ResourceForm, formset, error: InvalidInput) -> None:
    problems = (error.details or {}).get("errors", []) if isinstance(error.details, dict) else []
    if not problems:
        form.add_error(None, error.message)
    for problem in problems:
        message = problem["message_en"] if (form.data.get("_lang") == "en") else problem["message_zh"]
        field = problem["field"]
        if field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, f"{field}: {message}")


def _initial(resource: Resource | None):
    if resource is None:
        return {}, [{"data_type": "id_number", "is_subject_key": True, "required": True, "grade": "core",
                     "personal_sensitive": True, "name": "", "data_element": "DE00001"}]
    data = services.resource_input(resource)
    items = data.pop("items")
    data["keywords"] = "、".join(data["keywords"])
    data["related_codes"] = ", ".join(data["related_codes"])
    return data, items


@official_page
@require_http_methods(["GET", "POST"])
def edit(request, actor, code: str | None = None):
    resource = None
    if code is not None:
        resource = services.get_resource(actor, code)
        resource = Resource.objects.filter(code=code, status=Resource.Status.DRAFT).order_by("-version").first() \
            or resource
        if resource.department_id != actor.department_id or resource.status != Resource.Status.DRAFT:
            raise PermissionDenied(_("Only a draft can be edited."), "Only a draft can be edited.")
    elif not services.is_steward(actor):
        raise PermissionDenied(_("Only data stewards maintain the catalog."), "Only data stewards maintain the catalog.")
    if request.method == "POST":
        form = ResourceForm(request.POST)
        formset = ItemFormSet(request.POST, prefix="items")
        if form.is_valid() and formset.is_valid():
            try:
                with transaction.atomic():
                    data = _form_data(form, formset)
                    if resource is None:
                        saved = services.create_resource(actor, data)
                    else:
                        saved = services.update_draft(actor, resource.code, data)
                    if "submit" in request.POST:
                        services.submit(actor, saved.code)
                messages.success(request, _("Saved %(code)s.") % {"code": saved.code})
                return redirect("catalog:workbench")
            except InvalidInput as error:
                _show_problems(form, formset, error)
    else:
        initial, items = _initial(resource)
        form = ResourceForm(initial=initial)
        formset = ItemFormSet(initial=items, prefix="items")
    return render(request, "catalog/workbench/edit.html", {"form": form, "formset": formset, "resource": resource})


@official_page
@require_POST
def action(request, actor, code: str, verb: str):
    try:
        return _act(request, actor, code, verb)
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
        return redirect("catalog:workbench")


def _act(request, actor, code: str, verb: str):
    with transaction.atomic():
        if verb == "submit":
            services.submit(actor, code)
            messages.success(request, _("Submitted %(code)s for review.") % {"code": code})
        elif verb == "revise":
            draft = services.revise(actor, code)
            messages.success(request, _("Version %(version)s of %(code)s is a draft now.")
                             % {"version": draft.version, "code": code})
            return redirect("catalog:edit", code=code)
        elif verb == "deprecate":
            services.deprecate(actor, code, request.POST.get("reason", ""))
            messages.success(request, _("Deprecated %(code)s.") % {"code": code})
    return redirect("catalog:review-queue" if services.is_reviewer(actor) and not services.is_steward(actor)
                    else "catalog:workbench")


@official_page
@require_http_methods(["GET", "POST"])
def import_file(request, actor):
    if not services.is_steward(actor):
        raise PermissionDenied(_("Only data stewards maintain the catalog."), "Only data stewards maintain the catalog.")
    errors, created = [], []
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            with transaction.atomic():
                created = spreadsheet.import_resources(actor, upload.name,
                                                       upload.read(spreadsheet.MAX_IMPORT_BYTES + 1))
            messages.success(request, _("Imported %(count)s resources as drafts.") % {"count": len(created)})
        except InvalidInput as error:
            form.add_error("file", error.message)
            errors = error.details if isinstance(error.details, list) else []
    return render(request, "catalog/workbench/import.html",
                  {"form": form, "errors": errors, "created": created, "columns": spreadsheet.COLUMNS,
                   "required_columns": spreadsheet.REQUIRED_COLUMNS})


# --- the bureau's review queue ---------------------------------------------------------------------------------


@official_page
def review_queue(request, actor):
    rows = services.review_queue(actor)
    return render(request, "catalog/workbench/review.html", {"resources": rows, "form": ReviewForm()})


@official_page
@require_POST
def review_decide(request, actor, code: str):
    approve = request.POST.get("decision") == "publish"
    try:
        with transaction.atomic():
            services.review(actor, code, approve=approve, comment=request.POST.get("comment", ""))
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
        return redirect("catalog:review-queue")
    if approve:
        messages.success(request, _("Published %(code)s.") % {"code": code})
    else:
        messages.info(request, _("Returned %(code)s to its steward.") % {"code": code})
    return redirect("catalog:review-queue")
