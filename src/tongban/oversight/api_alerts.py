"""Security alerts under /api/v1/oversight: list, one alert, its workflow. Thin: the service decides."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from ninja import Field, Query, Router, Schema

from tongban.oversight.models import Alert
from tongban.oversight.services import alerts as services

router = Router(tags=["oversight"])
LIMIT = 500  # alerts per answer (``count`` is the number of all that match)


class AlertFilter(Schema):
    status: str | None = Field(None, description="new, acknowledged, resolved, false_alarm, or open (new and acknowledged)")
    severity: str | None = Field(None, description="low, medium, high or critical")
    rule: str | None = Field(None, description="volume_spike, night_bulk, enumeration, repeated_forbidden, "
                                               "login_after_lockout or grant_after_period")


class NoteOut(Schema):
    author: str
    from_status: str
    to_status: str
    text: str
    created_at: datetime.datetime


class AlertOut(Schema):
    id: int
    rule: str
    severity: str
    status: str
    department: str | None
    actor: str
    title_zh: str
    title_en: str
    summary: str
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    count: int
    created_at: datetime.datetime
    link: str


class AlertDetailOut(AlertOut):
    evidence: list[dict[str, Any]] = Field(..., description="Figures first, then the cited accesses, refusals and "
                                                            "login events, with their ledger entries (link once "
                                                            "sealed)")
    notes: list[NoteOut]
    next_statuses: list[str]


class AlertList(Schema):
    items: list[AlertOut]
    count: int = Field(..., description="How many alerts match (at most 500 are listed)")


class TransitionIn(Schema):
    to: str = Field(..., description="acknowledged, resolved or false_alarm")
    note: str = Field("", description="Required to resolve or dismiss (false_alarm)")


def alert_out(alert: Alert) -> dict:
    return {"id": alert.pk, "rule": alert.rule, "severity": alert.severity, "status": alert.status,
            "department": alert.department.code if alert.department_id else None, "actor": alert.actor,
            "title_zh": alert.title_zh, "title_en": alert.title_en, "summary": alert.summary,
            "first_seen": alert.first_seen, "last_seen": alert.last_seen, "count": alert.count,
            "created_at": alert.created_at, "link": f"/cockpit/alerts/{alert.pk}/"}


def detail_out(alert: Alert) -> dict:
    return {**alert_out(alert), "evidence": alert.evidence,
            "notes": [{"author": n.author, "from_status": n.from_status, "to_status": n.to_status, "text": n.text,
                       "created_at": n.created_at} for n in services.notes(alert)],
            "next_statuses": list(services.next_statuses(alert))}


@router.get("/alerts", response=AlertList, summary="Security alerts (open first); a department sees its own")
def list_alerts(request, filters: Query[AlertFilter]):
    found = services.alerts(request.auth, status=filters.status, severity=filters.severity, rule=filters.rule)
    rows = [alert_out(a) for a in found[:LIMIT]]
    return {"items": rows, "count": found.count()}


@router.get("/alerts/{alert_id}", response=AlertDetailOut, summary="One security alert with evidence and notes")
def get_alert(request, alert_id: int):
    return detail_out(services.get_alert(request.auth, alert_id))


@router.post("/alerts/{alert_id}/transition", response=AlertDetailOut,
             summary="Acknowledge, resolve or dismiss an alert (bureau administrator or CDO)")
def transition(request, alert_id: int, payload: TransitionIn):
    with transaction.atomic():
        services.transition(request.auth, alert_id, payload.to, payload.note)
        return detail_out(services.get_alert(request.auth, alert_id))
