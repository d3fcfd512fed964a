"""Cockpit pages: security alerts (安全预警).

* ``/cockpit/alerts/`` — open alerts first, by severity; filters (status, severity, rule); open
  alerts by severity; alerts per rule as a bar chart with its table;
* ``/cockpit/alerts/<id>/`` — one alert: summary, evidence (with links to the ledger entries),
  the workflow's notes and, for the bureau's administrator or CDO, the workflow form, which
  posts to ``/cockpit/alerts/<id>/transition/`` (POST only, CSRF-protected).

Thin: the services decide who sees what (a department its own alerts; auditors read only).
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tongban.core.errors import DomainError
from tongban.identity.decorators import actor_page
from tongban.oversight.models import Alert
from tongban.oversight.navigation import render_cockpit
from tongban.oversight.services import alerts as services

ACTIONS = {  # the workflow buttons
    Alert.Status.ACKNOWLEDGED: gettext_lazy("Acknowledge"),
    Alert.Status.RESOLVED: gettext_lazy("Resolve"),
    Alert.Status.FALSE_ALARM: gettext_lazy("Mark as false alarm"),
}
FIGURE_LABELS = {
    "accesses": gettext_lazy("Accesses"),
    "baseline_per_hour": gettext_lazy("Baseline per hour"),
    "ratio": gettext_lazy("Times the baseline"),
    "lookups": gettext_lazy("Lookups"),
    "subjects": gettext_lazy("Subjects"),
    "found": gettext_lazy("Found"),
    "distinct_subjects": gettext_lazy("Distinct subjects"),
    "not_found_share": gettext_lazy("Share not found"),
    "without_application_share": gettext_lazy("Share without an application"),
    "refusals": gettext_lazy("Refusals"),
    "codes": gettext_lazy("Error codes"),
    "lockouts": gettext_lazy("Lockouts"),
    "logins": gettext_lazy("Logins"),
    "minutes_after_lockout": gettext_lazy("Minutes after the lockout"),
    "grant": gettext_lazy("Grant"),
    "expires_at": gettext_lazy("Grant expires at"),
    "revoked_at": gettext_lazy("Grant revoked at"),
    "window_start": gettext_lazy("From"),
    "window_end": gettext_lazy("To"),
}
EVIDENCE_KINDS = {
    "access": gettext_lazy("Data access"),
    "security_event": gettext_lazy("Refused request"),
    "lockout": gettext_lazy("Lockout"),
    "login": gettext_lazy("Login"),
}


def _english() -> bool:
    return (get_language() or "").lower().startswith("en")


def _rule_name(row: dict) -> str:
    return row["name_en"] if _english() else row["name_zh"]


def _title(alert: Alert) -> str:
    return alert.title_en if _english() else alert.title_zh


def rules_chart(rows: list[dict]) -> dict:
    """Alerts per rule: open and all (the table next to it holds the same figures)."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "inverse": True, "data": [_rule_name(r) for r in rows]},
        "series": [{"type": "bar", "name": _("Still open"), "data": [r["open"] for r in rows]},
                   {"type": "bar", "name": _("All"), "data": [r["total"] for r in rows]}],
    }


def _when(value: str | None) -> str:
    """An evidence time (ISO 8601, UTC) in the site's time zone."""
    try:
        return timezone.localtime(datetime.datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return value or "—"


def _figures(evidence: list[dict]) -> list[dict]:
    found = next((item for item in evidence if item.get("kind") == "figures"), {})
    rows = []
    for key, label in FIGURE_LABELS.items():
        value = found.get(key)
        if value is None or value == []:
            continue
        if key.endswith("_share"):
            value = f"{value:.0%}"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        elif key.endswith(("_at", "_start", "_end")):
            value = _when(value)
        rows.append({"label": label, "value": value})
    return rows


def _cited(evidence: list[dict]) -> list[dict]:
    return [{**item, "kind_label": EVIDENCE_KINDS.get(item.get("kind"), item.get("kind")), "when": _when(item.get("at"))}
            for item in evidence if item.get("kind") != "figures"]


def _status_label(status: str) -> str:
    return Alert.Status(status).label if status in Alert.Status.values else status


def _summary(alert: Alert) -> str:
    """The summary in the active language (the rules write a Chinese line, then an English one)."""
    lines = [line for line in alert.summary.split("\n") if line.strip()] or [""]
    return lines[-1] if _english() else lines[0]


@actor_page
@require_GET
def alert_list(request, actor):
    status = request.GET.get("status") or ""
    severity = request.GET.get("severity") or ""
    rule = request.GET.get("rule") or ""
    rows = list(services.alerts(actor, status=status or None, severity=severity or None, rule=rule or None)[:200])
    by_rule = services.counts_by_rule(actor)
    for row in by_rule:
        row["name"] = _rule_name(row)
    counts = services.open_counts(actor)
    return render_cockpit(request, "oversight/alerts.html", {
        "rows": [{"alert": a, "title": _title(a)} for a in rows],
        "by_rule": by_rule, "chart": rules_chart(by_rule),
        "open_counts": [{"severity": s, "label": Alert.Severity(s).label, "count": n} for s, n in counts.items()],
        "statuses": [("open", _("Still open")), *Alert.Status.choices], "severities": Alert.Severity.choices,
        "status": status, "severity": severity, "rule": rule,
    })


@actor_page
@require_GET
def alert_detail(request, actor, alert_id: int):
    alert = services.get_alert(actor, alert_id)
    manager = services.may_work(actor)
    return render_cockpit(request, "oversight/alert_detail.html", {
        "alert": alert, "title": _title(alert),
        "rule_name": services.RULE_NAMES.get(alert.rule, (alert.rule, alert.rule))[1 if _english() else 0],
        "summary": _summary(alert),
        "figures": _figures(alert.evidence), "cited": _cited(alert.evidence),
        "notes": [{"note": n, "from": _status_label(n.from_status), "to": _status_label(n.to_status)}
                  for n in services.notes(alert)],
        "actions": [(s, ACTIONS[s]) for s in services.next_statuses(alert)] if manager else [],
    })


@actor_page
@require_POST
def alert_transition(request, actor, alert_id: int):
    to_status = request.POST.get("to") or ""
    try:
        with transaction.atomic():
            services.transition(actor, alert_id, to_status, request.POST.get("note") or "")
    except DomainError as error:
        if error.status in (401, 403, 404):
            raise
        messages.error(request, error.message)
        return redirect("oversight:alert", alert_id=alert_id)
    messages.success(request, _("The alert is now: %(status)s.") % {"status": Alert.Status(to_status).label})
    return redirect("oversight:alert", alert_id=alert_id)


urlpatterns = [
    path("cockpit/alerts/", alert_list, name="alerts"),
    path("cockpit/alerts/<int:alert_id>/", alert_detail, name="alert"),
    path("cockpit/alerts/<int:alert_id>/transition/", alert_transition, name="alert-transition"),
]
