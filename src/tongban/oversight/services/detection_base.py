"""Shared parts of the detection rules (``detection``: accesses; ``detection_auth``: refusals
and logins): thresholds from settings, the ``Finding`` a rule returns, time windows and
evidence that never holds an identifier in clear."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tongban.exchange.models import Access
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.ledger.privacy import find_identifier
from tongban.oversight.models import SecurityEvent

LOCAL = ZoneInfo("Asia/Shanghai")
HOUR = datetime.timedelta(hours=1)
EVIDENCE_ITEMS = 10  # cited rows per finding (the figures say how many there were in all)
LOGIN_SUCCEEDED, LOCKED_OUT = "identity.login_succeeded", "identity.locked_out"
GRANT_CODES = ("grant_expired", "grant_revoked")
SEVERITIES = ("low", "medium", "high", "critical")

DEFAULT_RULES: dict[str, dict] = {
    "volume_spike": {"enabled": True, "severity": "high", "ratio": 5.0, "min_accesses": 200,
                     "min_subjects": 20000, "baseline_days": 7},
    "night_bulk": {"enabled": True, "severity": "high", "min_subjects": 2000, "night_start_hour": 0,
                   "night_end_hour": 6},
    "enumeration": {"enabled": True, "severity": "high", "window_minutes": 60, "min_subjects": 100,
                    "not_found_share": 0.5, "no_application_share": 0.9, "application_days": 30},
    "repeated_forbidden": {"enabled": True, "severity": "medium", "window_minutes": 10, "min_events": 10,
                           "lookback_minutes": 60},
    "login_after_lockout": {"enabled": True, "severity": "high", "within_minutes": 60, "lookback_hours": 24},
    "grant_after_period": {"enabled": True, "severity": "medium", "served_severity": "critical",
                           "min_refusals": 1, "lookback_hours": 24},
}


def rule_settings(rule: str) -> dict:
    """The thresholds of ``rule``: the defaults overridden by ``TONGBAN_ALERT_RULES[rule]``."""
    configured = getattr(settings, "TONGBAN_ALERT_RULES", None) or {}
    merged = {**DEFAULT_RULES[rule], **(configured.get(rule) or {})}
    if {merged["severity"], merged.get("served_severity", "high")} - set(SEVERITIES):
        raise ImproperlyConfigured(f"TONGBAN_ALERT_RULES[{rule!r}]: a severity is one of {', '.join(SEVERITIES)}")
    return merged


@dataclass
class Finding:
    rule: str
    severity: str
    actor: str  # the caller: a username or ``system:<token prefix>``
    department_code: str
    window: str  # the window's id: one alert per (rule, caller, window)
    span: datetime.timedelta  # an open alert of the same rule and caller this close is the same incident
    first_seen: datetime.datetime
    last_seen: datetime.datetime
    title_zh: str
    title_en: str
    summary: str
    evidence: list[dict] = field(default_factory=list)
    family: str = ""  # kinds of one rule that are separate incidents (grant_after_period: refused / served)

    @property
    def stem(self) -> str:
        """The dedup key up to the window: an open alert continued by this finding starts with it."""
        return f"{self.rule}:{self.actor}:{self.family + ':' if self.family else ''}"

    @property
    def dedup_key(self) -> str:
        return f"{self.stem}{self.window}"[:200]


TITLES = {  # an alert's title, followed by the caller: (中文, English)
    "volume_spike": ("访问量异常激增", "Access volume far above the baseline"),
    "night_bulk": ("夜间批量查询", "Bulk lookups at night"),
    "enumeration": ("疑似遍历查询", "Possible enumeration of subjects"),
    "repeated_forbidden": ("频繁越权访问被拒", "Repeated refusals (403)"),
    "login_after_lockout": ("锁定后又成功登录", "Login soon after a lockout"),
    "grant_after_period:refused": ("授权期满后仍在调用", "Calls after the grant's period"),
    "grant_after_period:served": ("授权失效后仍返回了数据", "Data served after the grant ended"),
}


def _finding(rule: str, severity: str, caller: str, code: str, *, window: str, span: datetime.timedelta,
             first: datetime.datetime, last: datetime.datetime, zh: str, en: str, evidence: list[dict],
             family: str = "") -> Finding:
    name = safe_caller(caller)
    title_zh, title_en = TITLES[f"{rule}:{family}" if family else rule]
    return Finding(rule=rule, severity=severity, actor=name, department_code=code, window=window, span=span,
                   first_seen=first, last_seen=last, title_zh=f"{title_zh}：{name}", title_en=f"{title_en}: {name}",
                   summary=f"{zh}\n{en}", evidence=evidence, family=family)


def safe_caller(name: str) -> str:
    """A caller name fit to show: a username that is an ID number or credit code becomes its hash."""
    if name and find_identifier(name) is not None:
        return f"subject:{ledger.subject_hash(name)[:16]}"
    return name


def local(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(LOCAL)


def iso(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds") if moment else None


def _bucket(moment: datetime.datetime, minutes: int) -> str:
    moment = local(moment)
    floored = moment.replace(minute=moment.minute - moment.minute % minutes if minutes < 60 else 0,
                             second=0, microsecond=0)
    return floored.strftime("%Y%m%dT%H%M")


# --- evidence -------------------------------------------------------------------------------------------------


def ledger_link(index: int | None) -> str | None:
    return f"/ledger/entries/{index}/" if index is not None else None


def _indexes(event_ids) -> dict[int, int | None]:
    ids = [i for i in event_ids if i]
    return dict(LedgerEvent.objects.filter(pk__in=ids).values_list("pk", "index")) if ids else {}


def access_evidence(rows: list[Access]) -> list[dict]:
    """Cited accesses: id, time, mode, resource, counts and the ledger entry (link once sealed)."""
    indexes = _indexes(row.ledger_event_id for row in rows)
    items = []
    for row in rows:
        index = indexes.get(row.ledger_event_id)
        items.append({"kind": "access", "access": row.pk, "at": iso(row.at), "mode": row.mode,
                      "resource": row.resource_code, "subjects": row.subject_count, "found": row.found,
                      "grant": row.grant_id, "ledger_event": row.ledger_event_id, "ledger_index": index,
                      "link": ledger_link(index)})
    return items


def event_evidence(events: list[SecurityEvent]) -> list[dict]:
    return [{"kind": "security_event", "event": e.pk, "at": iso(e.at), "type": e.kind, "code": e.code,
             "method": e.method, "path": e.path} for e in events]


def ledger_evidence(events: list[LedgerEvent], kind: str) -> list[dict]:
    return [{"kind": kind, "source": "ledger", "at": iso(e.recorded_at), "action": e.action,
             "ledger_event": e.pk, "ledger_index": e.index, "link": ledger_link(e.index)} for e in events]


def _accesses(since: datetime.datetime, until: datetime.datetime):
    """Accesses in [since, until), through the (consumer_code, at) index."""
    codes = list(Department.objects.values_list("code", flat=True))
    return Access.objects.filter(consumer_code__in=codes, at__gte=since, at__lt=until)


def _latest(rows, limit: int = EVIDENCE_ITEMS) -> list:
    return list(rows.order_by("-at", "-id")[:limit])


# --- 1. volume spike ------------------------------------------------------------------------------------------
