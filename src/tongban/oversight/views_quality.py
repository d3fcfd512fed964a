"""Cockpit pages: data quality (数据质量).

* ``/cockpit/quality/`` — the ranking of resources by their latest score with the five
  dimensions, a department filter (the bureau), a bar chart with its table, and for the bureau's
  administrator or CDO a button to recompute (a background job);
* ``/cockpit/quality/<code>/`` — a resource's trend (line chart with its table), the latest
  dimensions, per-item figures, and the worst rows for the department's stewards and the bureau.

Thin: the services decide who sees what (a department sees its own resources only).
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tongban.catalog.models import Resource
from tongban.core.errors import DomainError
from tongban.identity.decorators import actor_page
from tongban.identity.models import Department
from tongban.oversight.navigation import render_cockpit
from tongban.oversight.services import access, quality

DIMENSION_LABELS = {
    "completeness": gettext_lazy("Completeness"),
    "validity": gettext_lazy("Validity"),
    "timeliness": gettext_lazy("Timeliness"),
    "uniqueness": gettext_lazy("Uniqueness"),
    "consistency": gettext_lazy("Consistency"),
}
CHART_ZOOM_FROM = 15  # more bars than this: the ranking chart scrolls


def _dimensions(score) -> list[dict]:
    return [{"key": key, "label": label, "value": getattr(score, key)} for key, label in DIMENSION_LABELS.items()]


def _timeliness(score) -> dict:
    figures = dict((score.details or {}).get("timeliness") or {})
    cycle = figures.get("update_cycle")
    if cycle in Resource.UpdateCycle.values:
        figures["cycle_label"] = Resource.UpdateCycle(cycle).label
    return figures


def ranking_chart(rows) -> dict:
    """A bar chart of the latest score per resource (the ranking table holds the same figures)."""
    option = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 72},
        "xAxis": {"type": "category", "data": [s.resource_code for s in rows],
                  "axisLabel": {"rotate": 45, "fontSize": 10}},
        "yAxis": {"type": "value", "min": 0, "max": 100, "name": _("Score")},
        "series": [{"type": "bar", "name": _("Score"), "data": [s.score for s in rows]}],
    }
    if len(rows) > CHART_ZOOM_FROM:
        option["dataZoom"] = [{"type": "slider", "startValue": 0, "endValue": CHART_ZOOM_FROM - 1, "bottom": 0},
                              {"type": "inside"}]
        option["grid"]["bottom"] = 96
    return option


def trend_chart(rows) -> dict:
    """A line chart of the score and the dimensions over the computations (oldest first)."""
    labels = [s.computed_at.strftime("%Y-%m-%d %H:%M") for s in rows]
    series = [{"type": "line", "name": _("Score"), "data": [s.score for s in rows], "lineStyle": {"width": 3}}]
    series += [{"type": "line", "name": str(label), "data": [getattr(s, key) for s in rows], "connectNulls": False}
               for key, label in DIMENSION_LABELS.items()]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 0},
        "grid": {"left": 48, "right": 16, "top": 40, "bottom": 48},
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"fontSize": 10}},
        "yAxis": {"type": "value", "min": 0, "max": 100},
        "series": series,
    }


@actor_page
@require_GET
def quality_index(request, actor):
    department = request.GET.get("department") or None
    rows = quality.latest(actor, department=department)
    everything = access.sees_all(actor)
    departments = (Department.objects.filter(quality_scores__isnull=False).distinct().order_by("code")
                   if everything else [])
    return render_cockpit(request, "oversight/quality.html", {
        "rows": [{"score": s, "dimensions": _dimensions(s)} for s in rows],
        "dimension_labels": list(DIMENSION_LABELS.values()),
        "chart": ranking_chart(rows),
        "departments": departments, "department": department or "",
        "may_recompute": access.may_manage(actor),
    })


@actor_page
@require_GET
def quality_resource(request, actor, code: str):
    rows = quality.history(actor, code)
    newest = rows[0]
    visible = quality.may_see_issues(actor, newest.department_id)
    items = (newest.details or {}).get("items") or {}
    chronological = list(reversed(rows))
    return render_cockpit(request, "oversight/quality_resource.html", {
        "code": code, "latest": newest, "dimensions": _dimensions(newest),
        "dimension_labels": list(DIMENSION_LABELS.values()),
        "history": [{"score": s, "dimensions": _dimensions(s)} for s in rows],
        "chart": trend_chart(chronological),
        "items": [{"key": key, **figures} for key, figures in items.items()],
        "timeliness": _timeliness(newest),
        "issues_visible": visible,
        "issues": [{"issue": issue, "dimension": DIMENSION_LABELS.get(issue.dimension, issue.dimension)}
                   for issue in (quality.issues(actor, newest.pk) if visible else [])],
        "may_recompute": access.may_manage(actor),
    })


@actor_page
@require_POST
def quality_recompute(request, actor):
    code = (request.POST.get("resource") or "").strip() or None
    try:
        with transaction.atomic():
            quality.recompute(actor, code)
    except DomainError as error:
        if error.status in (401, 403):
            raise
        messages.error(request, error.message)
        return redirect("oversight:quality")
    messages.success(request, _("The data quality is being recomputed; refresh this page in a while."))
    return redirect("oversight:quality-resource", code=code) if code else redirect("oversight:quality")


urlpatterns = [
    path("cockpit/quality/", quality_index, name="quality"),
    path("cockpit/quality/recompute/", quality_recompute, name="quality-recompute"),
    path("cockpit/quality/<str:code>/", quality_resource, name="quality-resource"),
]
