"""Security alerts (安全预警): detection runs, deduplication, notification, the workflow, reading.

``detect`` runs every rule of ``detection`` (a huey periodic task every 5 minutes, and
``tongban oversight alerts``) and records what they found: one open alert per (rule, caller,
window) — a finding that an open alert already covers updates its count, last_seen and evidence
instead of raising another, and activity an administrator already judged (resolved / false
alarm) raises nothing until there is more of it. New high and critical alerts are sent to the
bureau's administrators and chief data officers.

Workflow: new → acknowledged → resolved / false_alarm (or new → resolved / false_alarm
directly), by the bureau's administrator or CDO only, each step an ``AlertNote`` and a ledger
entry ``oversight.alert_<status>``; closing needs a note. Auditors read every alert, a
department the alerts about its own systems and users.
"""

from __future__ import annotations

import datetime
import hashlib
import json

from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.logredact import redact
from tongban.core.notifications import notify
from tongban.exchange.models import Access
from tongban.identity.access import Actor, Role
from tongban.identity.models import Department, User
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.ledger.privacy import find_identifier
from tongban.oversight.models import Alert, AlertNote
from tongban.oversight.services import detection
from tongban.oversight.services.access import require_manager, scope
from tongban.oversight.services.detection import Finding

Status, Severity = Alert.Status, Alert.Severity
OPEN = (Status.NEW, Status.ACKNOWLEDGED)
CLOSED = (Status.RESOLVED, Status.FALSE_ALARM)
SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}
SEVERITY_ZH = {Severity.LOW: "低", Severity.MEDIUM: "中", Severity.HIGH: "高", Severity.CRITICAL: "严重"}
NOTIFY_SEVERITIES = (Severity.HIGH, Severity.CRITICAL)
TRANSITIONS = {
    Status.NEW: (Status.ACKNOWLEDGED, Status.RESOLVED, Status.FALSE_ALARM),
    Status.ACKNOWLEDGED: (Status.RESOLVED, Status.FALSE_ALARM),
}
EVIDENCE_LIMIT = 30  # cited items kept on an alert (its figures first)
NOTE_MAX = 2000
RULE_NAMES = {  # (中文, English)
    "volume_spike": ("访问量激增", "Access volume spike"),
    "night_bulk": ("夜间批量查询", "Bulk lookups at night"),
    "enumeration": ("遍历查询", "Enumeration of subjects"),
    "repeated_forbidden": ("频繁越权被拒", "Repeated refusals (403)"),
    "login_after_lockout": ("锁定后登录", "Login after a lockout"),
    "grant_after_period": ("授权期满后调用", "Grant used after its period"),
}


# --- detection -------------------------------------------------------------------------------------------------


def detect(now: datetime.datetime | None = None) -> list[Alert]:
    """Run every rule once; returns the alerts raised or updated (``alert.is_new`` tells which,
    ``alert.escalated`` whether an update raised the severity).

    A job entry point, like the sweeps: the rules read outside any transaction (on SQLite a
    transaction holds the write lock from its start, and the scans must not block the exchange's
    writers), then the findings are recorded in one short transaction of their own.
    """
    now = now or timezone.now()
    findings = detection.evaluate(now)
    with transaction.atomic():
        return record_findings(findings, now)


@db_periodic_task(crontab(minute="*/5"), name="tongban.oversight.detect_alerts")
def detect_alerts_task() -> int:
    return sum(1 for alert in detect() if alert.is_new)


def record_findings(findings: list[Finding], now: datetime.datetime) -> list[Alert]:
    """Turn findings into alerts (in the caller's transaction); notify about new serious ones (and
    about alerts an update made serious)."""
    changed = []
    for finding in findings:
        alert = _record(finding, now)
        if alert is not None:
            changed.append(alert)
    for alert in changed:
        if (alert.is_new or alert.escalated) and alert.severity in NOTIFY_SEVERITIES:
            _notify_managers(alert)
    return changed


def _record(finding: Finding, now: datetime.datetime) -> Alert | None:
    key = finding.dedup_key
    # The newest alert of this key (a key whose alert was closed continues as key#2, key#3, …).
    same = Alert.objects.select_for_update().filter(Q(dedup_key=key) | Q(dedup_key__startswith=f"{key}#"))
    alert = same.order_by("-id").first()
    if alert is not None and alert.status in CLOSED and finding.last_seen > alert.last_seen:
        # New activity after an administrator closed the alert: a new alert, never silence.
        key, alert = f"{key}#{same.count() + 1}", None
    elif alert is None:
        latest = (Alert.objects.select_for_update()
                  .filter(rule=finding.rule, actor=finding.actor, dedup_key__startswith=finding.stem)
                  .order_by("-last_seen", "-id").first())
        if latest is not None and latest.status in OPEN and finding.first_seen <= latest.last_seen + finding.span:
            alert = latest  # the same incident, still open: continue it
        elif latest is not None and latest.status in CLOSED and finding.last_seen <= latest.last_seen:
            return None  # activity already judged by an administrator
    if alert is not None:
        if alert.status in CLOSED or finding.last_seen <= alert.last_seen:
            return None  # judged, or nothing new since the last run
        alert.count += 1
        alert.last_seen = finding.last_seen
        alert.summary = finding.summary
        alert.escalated = SEVERITY_RANK[finding.severity] > SEVERITY_RANK[alert.severity]
        if alert.escalated:  # e.g. a threshold raised meanwhile: the alert takes the higher severity
            alert.severity = finding.severity
        alert.evidence = _merge(alert.evidence, finding.evidence)
        alert.save(update_fields=["count", "last_seen", "summary", "severity", "evidence"])
        alert.is_new = False
        return alert
    department = Department.objects.filter(code=finding.department_code).first() if finding.department_code else None
    alert = Alert.objects.create(
        rule=finding.rule, severity=finding.severity, department=department, actor=finding.actor[:150],
        title_zh=finding.title_zh[:200], title_en=finding.title_en[:250], summary=finding.summary,
        evidence=_merge([], finding.evidence), dedup_key=key, first_seen=finding.first_seen or now,
        last_seen=finding.last_seen or now)
    alert.is_new, alert.escalated = True, False
    return alert


def _identity(item: dict) -> tuple:
    return (item.get("kind"), item.get("access") or item.get("event") or item.get("ledger_event"), item.get("at"))


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    """The newest figures first, then the cited items of both (each once), the latest kept."""
    figures = [item for item in new if item.get("kind") == "figures"][:1]
    seen, items = set(), []
    for item in [*old, *new]:
        if item.get("kind") == "figures" or _identity(item) in seen:
            continue
        seen.add(_identity(item))
        items.append(item)
    items.sort(key=lambda item: item.get("at") or "")
    evidence = figures + items[-(EVIDENCE_LIMIT - len(figures)):]
    if find_identifier(evidence) is not None:  # a safety net: the rules cite ids, times and counts only
        evidence = json.loads(redact(json.dumps(evidence, ensure_ascii=False)))
    return evidence


def _notify_managers(alert: Alert) -> None:
    managers = (User.objects.filter(is_active=True, kind=User.Kind.OFFICIAL, department__is_bureau=True,
                                    role_assignments__role__in=[Role.BUREAU_ADMIN, Role.CDO]).distinct())
    for user in managers:
        notify(user, category="oversight.alert",
               title_zh=f"安全预警（{SEVERITY_ZH[alert.severity]}）：{alert.title_zh}",
               title_en=f"Security alert ({alert.severity}): {alert.title_en}",
               body_zh=alert.summary.split("\n")[0], body_en=alert.summary.split("\n")[-1],
               link=f"/cockpit/alerts/{alert.pk}/")


# --- the workflow ------------------------------------------------------------------------------------------------


def transition(actor: Actor, alert_id: int, to_status: str, note: str = "") -> Alert:
    """Move an alert on (managers only); a note is required to resolve or dismiss it."""
    require_manager(actor)
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("未找到该预警", "No such alert", code="alert_not_found")
    if to_status not in Status.values:
        raise InvalidInput("预警状态无效", "Unknown alert status", code="invalid_status",
                           details={"allowed": list(Status.values)})
    if to_status not in TRANSITIONS.get(alert.status, ()):
        raise Conflict("预警当前状态下不能执行此操作", "The alert cannot move to that status from its current one",
                       code="illegal_transition", details={"from": alert.status, "to": to_status})
    if to_status in CLOSED and alert.actor and alert.actor == actor.username:
        raise PermissionDenied("不能处置关于本人的预警，请由另一位管理员处理",
                               "An alert about yourself is closed by another administrator", code="own_alert")
    note = (note or "").strip()
    if to_status in CLOSED and not note:
        raise InvalidInput("处置或认定误报须填写说明", "Resolving or dismissing an alert needs a note",
                           code="note_required")
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"说明不超过 {NOTE_MAX} 字", f"The note is at most {NOTE_MAX} characters", code="note_too_long")
    if find_identifier(note) is not None:
        raise InvalidInput("说明中不得出现身份证号码或统一社会信用代码", "Keep ID numbers and credit codes out of the note",
                           code="identifier_in_clear")
    from_status = alert.status
    AlertNote.objects.create(alert=alert, author=actor.username, from_status=from_status, to_status=to_status, text=note)
    alert.status = to_status
    alert.save(update_fields=["status"])
    ledger.record(actor=actor.username, action=f"oversight.alert_{to_status}", subject=f"alert:{alert.pk}",
                  department=actor.department_code,
                  payload={"alert": alert.pk, "rule": alert.rule, "severity": alert.severity, "from": from_status,
                           "to": to_status, "note_sha256": hashlib.sha256(note.encode()).hexdigest() if note else None})
    return alert


# --- reading -------------------------------------------------------------------------------------------------------


def _visible(actor: Actor) -> QuerySet[Alert]:
    department_id = scope(actor)
    rows = Alert.objects.select_related("department")
    return rows if department_id is None else rows.filter(department_id=department_id)


def alerts(actor: Actor, status: str | None = None, severity: str | None = None,
           rule: str | None = None) -> QuerySet[Alert]:
    """The alerts the actor may see: open ones first, then by severity and recency. ``status``
    may be a status or ``open`` (new and acknowledged)."""
    rows = _visible(actor)
    if status:
        if status != "open" and status not in Status.values:
            raise InvalidInput("预警状态无效", "Unknown alert status", code="invalid_status")
        rows = rows.filter(status__in=OPEN) if status == "open" else rows.filter(status=status)
    if severity:
        if severity not in Severity.values:
            raise InvalidInput("预警级别无效", "Unknown alert severity", code="invalid_severity")
        rows = rows.filter(severity=severity)
    if rule:
        if rule not in detection.RULES:
            raise InvalidInput("预警规则无效", "Unknown detection rule", code="invalid_rule")
        rows = rows.filter(rule=rule)
    open_first = Case(When(status__in=OPEN, then=Value(0)), default=Value(1), output_field=IntegerField())
    rank = Case(*[When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()], output_field=IntegerField())
    return rows.annotate(open_rank=open_first, severity_rank=rank).order_by("open_rank", "-severity_rank", "-last_seen", "-id")


def get_alert(actor: Actor, alert_id: int) -> Alert:
    """One alert (another department's: 404), its evidence's ledger links brought up to date."""
    alert = _visible(actor).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound("未找到该预警", "No such alert", code="alert_not_found")
    alert.evidence = fresh_links(alert.evidence)
    return alert


def fresh_links(evidence: list[dict]) -> list[dict]:
    """Accesses sealed and entries integrated since detection get their ledger index and link."""
    pending = [i.get("access") for i in evidence if i.get("access") and i.get("ledger_event") is None]
    events = dict(Access.objects.filter(pk__in=pending).values_list("pk", "ledger_event_id")) if pending else {}
    items = [{**i, "ledger_event": events.get(i["access"])} if i.get("access") in events else i for i in evidence]
    wanted = [i["ledger_event"] for i in items if i.get("ledger_event") and i.get("ledger_index") is None]
    indexes = dict(LedgerEvent.objects.filter(pk__in=wanted).values_list("pk", "index")) if wanted else {}
    return [{**i, "ledger_index": indexes[i["ledger_event"]], "link": detection.ledger_link(indexes[i["ledger_event"]])}
            if i.get("ledger_event") in indexes and i.get("ledger_index") is None else i for i in items]


def notes(alert: Alert) -> list[AlertNote]:
    return list(alert.notes.all())


def may_work(actor: Actor) -> bool:
    from tongban.oversight.services.access import may_manage

    return may_manage(actor)


def next_statuses(alert: Alert) -> tuple[str, ...]:
    return TRANSITIONS.get(alert.status, ())


def counts_by_rule(actor: Actor) -> list[dict]:
    """Per rule (every rule, in order): open alerts, all alerts and the open ones by severity."""
    rows = (_visible(actor).values("rule")
            .annotate(total=Count("id"), open=Count("id", filter=Q(status__in=OPEN)),
                      serious=Count("id", filter=Q(status__in=OPEN, severity__in=NOTIFY_SEVERITIES))))
    found = {row["rule"]: row for row in rows}
    return [{"rule": rule, "name_zh": RULE_NAMES[rule][0], "name_en": RULE_NAMES[rule][1],
             "open": found.get(rule, {}).get("open", 0), "serious": found.get(rule, {}).get("serious", 0),
             "total": found.get(rule, {}).get("total", 0)} for rule in detection.RULES]


def open_counts(actor: Actor) -> dict[str, int]:
    """Open alerts by severity (every severity listed)."""
    rows = dict(_visible(actor).filter(status__in=OPEN).values_list("severity").annotate(n=Count("id")))
    return {severity: rows.get(severity, 0) for severity in reversed(Severity.values)}
