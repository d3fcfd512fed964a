"""Cockpit pages (驾驶舱) for the figures: the overview (/cockpit/), the department assessment
(/cockpit/assessment/, with its XLSX download and, for the bureau's managers, "compute now"),
sharing flows (/cockpit/sharing/) and services (/cockpit/services/).

Thin: the services decide who sees what; each page builds ECharts option dicts (drawn by
``oversight/charts.js``) and shows the same figures in a table next to every chart.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tongban.core.errors import DomainError
from tongban.identity.decorators import actor_page
from tongban.oversight.navigation import render_cockpit
from tongban.oversight.services import access, assessment, stats, xlsx

GRID = {"left": 8, "right": 24, "top": 48, "bottom": 8, "containLabel": True}


def _english() -> bool:
    return (get_language() or "").lower().startswith("en")


def _label(indicator: dict) -> str:
    return indicator["label_en"] if _english() else indicator["label_zh"]


def line_chart(title: str, categories: list[str], series: dict[str, list], *, y_max: float | None = None) -> dict:
    y_axis = {"type": "value", "minInterval": 1}
    if y_max is not None:
        y_axis.update(min=0, max=y_max)
    return {"title": {"text": title, "textStyle": {"fontSize": 14}}, "tooltip": {"trigger": "axis"},
            "legend": {"top": 24}, "grid": GRID, "xAxis": {"type": "category", "data": categories}, "yAxis": y_axis,
            "series": [{"name": name, "type": "line", "data": data, "smooth": True} for name, data in series.items()]}


def bar_chart(title: str, categories: list[str], series: dict[str, list], *, horizontal: bool = False,
              value_max: float | None = None) -> dict:
    value_axis = {"type": "value", "minInterval": 1}
    if value_max is not None:
        value_axis.update(min=0, max=value_max)
    category_axis = {"type": "category", "data": categories, "axisLabel": {"interval": 0, "hideOverlap": True}}
    axes = {"xAxis": value_axis, "yAxis": {**category_axis, "inverse": True}} if horizontal \
        else {"xAxis": {**category_axis, "axisLabel": {"rotate": 30, "hideOverlap": True}}, "yAxis": value_axis}
    return {"title": {"text": title, "textStyle": {"fontSize": 14}}, "tooltip": {"trigger": "axis"},
            "legend": {"top": 24}, "grid": GRID, **axes,
            "series": [{"name": name, "type": "bar", "data": data} for name, data in series.items()]}


# --- overview ------------------------------------------------------------------------------------------------


@actor_page
@require_GET
def overview_page(request, actor):
    board = stats.overview(actor)
    f = board["figures"]
    figures = [
        ("published_resources", _("Published resources"), f["published_resources"], ""),
        ("records", _("Records"), f["records"], ""),
        ("active_grants", _("Active grants"), f["active_grants"], ""),
        ("accesses", _("Accesses (30 days)"), f["accesses"], ""),
        ("pending_requests", _("Pending requests"), f["pending_requests"], ""),
        ("overdue_requests", _("Overdue requests"), f["overdue_requests"], ""),
        ("applications", _("Applications"), f["applications"], ""),
        ("in_time_rate", _("Completed in time"), f["in_time_rate"], "%"),
        ("instant_share", _("Instant approvals"), f["instant_share"], "%"),
    ]
    if f["open_alerts"] is not None:
        figures.append(("open_alerts", _("Open alerts"), f["open_alerts"], ""))
    trend = board["trend"]
    accesses, applications = _("Accesses"), _("Applications")
    chart = line_chart(_("Accesses and applications per day (30 days)"), [d[5:] for d in trend["days"]],
                       {accesses: trend["accesses"], applications: trend["applications"]})
    rows = list(zip(trend["days"], trend["accesses"], trend["applications"], strict=True))
    return render_cockpit(request, "oversight/overview.html", {
        "board": board, "figures": figures, "trend_chart": chart, "trend_rows": rows})


# --- assessment ----------------------------------------------------------------------------------------------


def _trend_code(request, actor, ranked: dict) -> str | None:
    wanted = request.GET.get("department", "").strip()
    if wanted:
        return wanted
    if actor.department_code and access.scope(actor) is not None:
        return actor.department_code
    return ranked["rows"][0]["department"]["code"] if ranked["rows"] else None


@actor_page
@require_GET
def assessment_page(request, actor):
    ranked = assessment.ranking(actor, request.GET.get("period"))
    code = _trend_code(request, actor, ranked)
    history = assessment.trend(actor, code) if code else None
    indicators = [{**i, "label": _label(i)} for i in ranked["indicators"]]
    rows = [{**row, "values": [row["indicators"].get(i["key"]) for i in indicators]} for row in ranked["rows"]]
    total = _("Total")
    chart = bar_chart(_("Ranking, %(period)s") % {"period": ranked["period"]},
                      [r["department"]["name"] for r in rows], {total: [r["total"] for r in rows]},
                      horizontal=True, value_max=100)
    trend_chart = None
    if history and history["points"]:
        points = history["points"]
        trend_chart = line_chart(_("%(department)s over time") % {"department": history["department"]["name"]},
                                 [p["period"] for p in points], {total: [p["total"] for p in points]}, y_max=100)
    query = urlencode({"period": ranked["period"]})
    return render_cockpit(request, "oversight/assessment.html", {
        "ranked": ranked, "indicators": indicators, "rows": rows, "ranking_chart": chart, "history": history,
        "trend_chart": trend_chart, "export_url": f"/cockpit/assessment/export.xlsx?{query}",
        "may_compute": access.may_manage(actor), "period": ranked["period"]})


@actor_page
@require_GET
def assessment_export(request, actor):
    ranked = assessment.ranking(actor, request.GET.get("period"))
    response = HttpResponse(xlsx.assessment_workbook(ranked), content_type=xlsx.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="assessment-{ranked["period"]}.xlsx"'
    return response


@actor_page
@require_POST
def assessment_compute(request, actor):
    period = request.POST.get("period", "").strip() or None
    try:
        with transaction.atomic():
            scores = assessment.compute_for(actor, period)
    except DomainError as error:
        if error.status == 403:
            raise
        messages.error(request, error.message)
        return redirect("/cockpit/assessment/")
    period = period or assessment.current_period()
    messages.success(request, _("Assessment of %(period)s computed: %(count)d departments ranked.")
                     % {"period": period, "count": len(scores)})
    return redirect(f"/cockpit/assessment/?{urlencode({'period': period})}")


# --- sharing -------------------------------------------------------------------------------------------------


def sankey_chart(title: str, pairs: list[dict], metric: str) -> dict:
    nodes, links = {}, []
    for pair in pairs:
        if not pair[metric]:
            continue
        source = _("%(name)s (provides)") % {"name": pair["provider"]["name"]}
        target = _("%(name)s (uses)") % {"name": pair["consumer"]["name"]}
        nodes.setdefault(source, {"name": source})
        nodes.setdefault(target, {"name": target})
        links.append({"source": source, "target": target, "value": pair[metric]})
    return {"title": {"text": title, "textStyle": {"fontSize": 14}}, "tooltip": {"trigger": "item"},
            "series": [{"type": "sankey", "top": 40, "left": 8, "right": 120, "bottom": 8,
                        "emphasis": {"focus": "adjacency"}, "lineStyle": {"color": "source", "opacity": 0.4}, "label": {"overflow": "truncate", "width": 110},
                        "data": list(nodes.values()), "links": links}]}


@actor_page
@require_GET
def sharing_page(request, actor):
    try:
        days = max(1, min(int(request.GET.get("days", stats.TREND_DAYS)), stats.MAX_DAYS))
    except ValueError:
        days = stats.TREND_DAYS
    board = stats.sharing(actor, days=days)
    metric_labels = {"accesses": _("accesses"), "grants": _("active grants"), "requests": _("requests")}
    flow = sankey_chart(_("Who uses whose data (by %(metric)s)") % {"metric": metric_labels[board["metric"]]},
                        board["pairs"], board["metric"])
    providers = board["by_provider"]
    times = bar_chart(_("Hours from request to decision, by provider"),
                      [p["department"]["name"] for p in providers],
                      {_("Median"): [p["median_hours"] for p in providers],
                       _("90th percentile"): [p["p90_hours"] for p in providers]})
    return render_cockpit(request, "oversight/sharing.html", {
        "board": board, "flow_chart": flow, "times_chart": times, "has_flow": bool(flow["series"][0]["links"])})


# --- services ------------------------------------------------------------------------------------------------


@actor_page
@require_GET
def services_page(request, actor):
    board = stats.services(actor)
    statuses = board["by_status"]
    status_chart = bar_chart(_("Applications by status"), [s["label"] for s in statuses],
                             {_("Applications"): [s["count"] for s in statuses]})
    levels = board["ratings"]["by_level"]
    rating_chart = {"title": {"text": _("Ratings distribution"), "textStyle": {"fontSize": 14}},
                    "tooltip": {"trigger": "item"}, "legend": {"bottom": 0, "type": "scroll"},
                    "series": [{"type": "pie", "radius": ["35%", "65%"], "center": ["50%", "52%"],
                                "data": [{"name": lv["label"], "value": lv["count"]} for lv in levels]}]}
    return render_cockpit(request, "oversight/services.html", {
        "board": board, "status_chart": status_chart, "rating_chart": rating_chart})


urlpatterns = [
    path("cockpit/", overview_page, name="overview"),
    path("cockpit/assessment/", assessment_page, name="assessment"),
    path("cockpit/assessment/export.xlsx", assessment_export, name="assessment-export"),
    path("cockpit/assessment/compute/", assessment_compute, name="assessment-compute"),
    path("cockpit/sharing/", sharing_page, name="sharing"),
    path("cockpit/services/", services_page, name="services"),
]
