"""The cockpit's own sub-navigation (every cockpit page extends ``oversight/base.html``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PAGES = (
    ("/cockpit/", _("Overview")),
    ("/cockpit/quality/", _("Data quality")),
    ("/cockpit/assessment/", _("Department assessment")),
    ("/cockpit/sharing/", _("Sharing flows")),
    ("/cockpit/services/", _("Services")),
    ("/cockpit/alerts/", _("Security alerts")),
)


def cockpit_nav(path: str) -> list[dict]:
    """The links, the current one marked (the overview only on its own path)."""
    return [{"url": url, "label": label,
             "current": path == url if url == "/cockpit/" else path.startswith(url)} for url, label in PAGES]


def render_cockpit(request, template: str, context: dict, *, status: int = 200):
    """Render a cockpit page with the sub-navigation."""
    from django.shortcuts import render

    return render(request, template, {**context, "cockpit_nav": cockpit_nav(request.path)}, status=status)
