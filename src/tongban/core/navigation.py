"""The platform's portals. Each later app mounts its pages at the portal's path; until it
does, core shows a page saying the portal is being built."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Portal:
    slug: str
    path: str
    label: Promise
    summary: Promise


PORTALS: tuple[Portal, ...] = (
    Portal("services", "/services/", _("Service hall"),
           _("Every government service online, with everything you need told at once.")),
    Portal("policies", "/policies/", _("Policies"),
           _("Subsidies and benefits for enterprises and citizens, and whether you qualify.")),
    Portal("catalog", "/catalog/", _("Data catalog"),
           _("The resources departments share with each other, and on what terms.")),
    Portal("open-data", "/open-data/", _("Open data"),
           _("Datasets open to the public and developers, to browse, download and call.")),
    Portal("me", "/me/", _("My space"),
           _("Your applications, e-certificates, and who accessed your data and why.")),
    Portal("workbench", "/workbench/", _("Workbench"),
           _("For department staff: catalog, records, access requests and applications.")),
    Portal("cockpit", "/cockpit/", _("Cockpit"),
           _("For the big-data bureau: quality, assessment, statistics and security alerts.")),
)


def main_nav(current_path: str) -> list[dict]:
    return [
        {"url": portal.path, "label": portal.label, "current": current_path.startswith(portal.path)}
        for portal in PORTALS
    ]


@dataclass(frozen=True)
class Section:
    """A page an app offers inside a portal (listed on the portal's landing page)."""

    portal: str
    path: str
    label: Promise
    summary: Promise
    order: int = 100
    testid: str = ""
    kinds: tuple[str, ...] = ()  # account kinds the section is for (empty: everyone who reaches the portal)


_SECTIONS: list[Section] = []


def register_section(portal: str, path: str, label: Promise, summary: Promise, order: int = 100, *,
                     testid: str = "", kinds: tuple[str, ...] = ()) -> None:
    """Called from an app's ``AppConfig.ready()``; core knows no app above it."""
    if not any(s.portal == portal and s.path == path for s in _SECTIONS):
        _SECTIONS.append(Section(portal, path, label, summary, order, testid, tuple(kinds)))


def sections_of(portal: str, kind: str | None = None) -> list[Section]:
    """The portal's sections in order; with ``kind``, only those meant for that account kind."""
    chosen = (s for s in _SECTIONS if s.portal == portal and (kind is None or not s.kinds or kind in s.kinds))
    return sorted(chosen, key=lambda s: (s.order, s.path))
