from django.http import Http404
from django.shortcuts import render

from tongban.core.navigation import PORTALS, sections_of


def home(request):
    return render(request, "core/home.html", {"portals": PORTALS})


def portal(request, slug: str):
    for candidate in PORTALS:
        if candidate.slug == slug:
            return render(request, "core/portal.html", {"portal": candidate, "sections": sections_of(slug)})
    raise Http404(slug)
