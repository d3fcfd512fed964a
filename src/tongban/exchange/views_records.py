"""Steward pages for records (归集): the department's resources with their record counts, and
per resource a CSV upload (every bad row listed when the batch is rejected), the batch
history and a CSV template. Thin: every decision is ``services.records``'."""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from tongban.catalog import services as catalog
from tongban.core.errors import InvalidInput
from tongban.exchange.services import records
from tongban.identity.access import actor_for_user
from tongban.identity.decorators import domain_errors_as_pages, verified_login_required

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Records file (CSV)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 200 MB; load it through the API instead."))
        return upload


@verified_login_required
@domain_errors_as_pages
def index(request):
    actor = actor_for_user(request.user)
    rows = records.department_overview(actor)
    return render(request, "exchange/records/index.html", {"rows": rows})


def _english() -> bool:
    return (get_language() or "").lower().startswith("en")


def _error_rows(error: InvalidInput, items) -> list[dict]:
    names = {item.key: item.name for item in items}
    english = _english()
    out = []
    for entry in (error.details or {}).get("errors", []):
        out.append({"row": entry["row"], "line": entry["row"] + 1, "item": entry["item"],
                    "item_name": names.get(entry["item"], ""), "code": entry["code"],
                    "message": entry["message_en"] if english else entry["message_zh"]})
    return out


@verified_login_required
@domain_errors_as_pages
@require_http_methods(["GET", "POST"])
def resource(request, code: str):
    actor = actor_for_user(request.user)
    published = catalog.get_published(code)
    records.require_history_reader(actor, published)
    items = catalog.items_of(published)
    can_load = records.may_load(actor, published)
    form = UploadForm()
    error, error_rows = None, []
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                with transaction.atomic():
                    batch = records.load_csv(actor, code, form.cleaned_data["file"], channel="csv")
                return redirect(f"{reverse('exchange:records-resource', args=[code])}?batch={batch.pk}")
            except InvalidInput as problem:
                error = problem
                error_rows = _error_rows(problem, items)
                if not error_rows:
                    form.add_error("file", problem.message)
    history = records.batch_history(actor, code)
    loaded = None
    if request.GET.get("batch", "").isdigit():
        loaded = next((b for b in history if b.pk == int(request.GET["batch"])), None)
    context = {
        "resource": published, "items": items, "state": records.state_of(code), "history": history,
        "form": form, "can_load": can_load, "error": error, "error_rows": error_rows, "loaded": loaded,
        "error_details": error.details if error is not None and isinstance(error.details, dict) else {},
    }
    return render(request, "exchange/records/resource.html", context)


@verified_login_required
@domain_errors_as_pages
def template(request, code: str):
    actor = actor_for_user(request.user)
    records.require_history_reader(actor, catalog.get_published(code))
    response = HttpResponse(records.csv_template(code), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{code}-template.csv"'
    return response


urlpatterns = [
    path("workbench/exchange/records/", index, name="records"),
    path("workbench/exchange/records/<slug:code>/", resource, name="records-resource"),
    path("workbench/exchange/records/<slug:code>/template.csv", template, name="records-template"),
]
