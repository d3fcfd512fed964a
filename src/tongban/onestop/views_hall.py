"""The service hall (/services/: search and browse by theme, life event, department) and the
guide of each item (/services/<code>/). Public pages; a signed-in applicant sees the guide
personalised. Thin: every decision is the services'."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import path

from tongban.identity.decorators import domain_errors_as_pages
from tongban.onestop.services import guide as guides
from tongban.onestop.services import items as services

FILTERS = ("theme", "life_event", "department", "kind")


def _facet(entries: list[dict], name: str, params: dict) -> list[dict]:
    base = {k: v for k, v in params.items() if v}
    out = []
    for entry in entries:
        selected = params.get(name) == entry["value"]
        query = {k: v for k, v in base.items() if k != name}
        if not selected:
            query[name] = entry["value"]
        out.append({**entry, "selected": selected, "url": f"?{urlencode(query)}" if query else "?"})
    return out


def hall(request):
    params = {name: request.GET.get(name, "").strip()[:100] for name in ("q", *FILTERS)}
    found = guides.search_items(params["q"], theme=params["theme"] or None, life_event=params["life_event"] or None,
                                department=params["department"] or None, applicant_kind=params["kind"] or None)
    facets = guides.hall_facets()
    kinds = [{"value": "citizen", "label": "citizen"}, {"value": "enterprise", "label": "enterprise"}]
    filtered = any(params.values())
    context = {
        "params": params, "items": [guides.summary(item) for item in found], "filtered": filtered,
        "life_events": _facet(facets["life_events"], "life_event", params),
        "themes": _facet(facets["themes"], "theme", params),
        "departments": _facet(facets["departments"], "department", params),
        "kinds": _facet(kinds, "kind", params),
        "hidden": {k: v for k, v in params.items() if v and k != "q"},
    }
    return render(request, "onestop/hall/hall.html", context)


@domain_errors_as_pages
def guide(request, code: str):
    actor = request.actor
    item = services.get_item(actor, code)
    context = {"item": item, "guide": guides.guide(item, actor),
               "published": item.status == item.Status.PUBLISHED, "actor_kind": actor.kind}
    return render(request, "onestop/guide/guide.html", context)


urlpatterns = [
    path("services/", hall, name="hall"),
    path("services/<str:code>/", guide, name="guide"),
]
