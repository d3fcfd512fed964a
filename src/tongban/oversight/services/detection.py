"""Detection rules of security monitoring (安全预警): read-only scans of the access and auth events.

Each rule returns ``Finding``s (what it saw, for whom, in which window, with the evidence);
``alerts.record_findings`` turns them into ``Alert`` rows (deduplicated). The thresholds are
``settings.TONGBAN_ALERT_RULES`` merged over ``DEFAULT_RULES`` rule by rule, so an operator (or a
test) overrides one number without restating the rest.

Sources: the exchange's ``Access`` rows (one per query / lookup / verify, subjects as keyed
hashes), our ``SecurityEvent`` rows (API 403 and 429, written by ``oversight.middleware``),
django-axes' tables and the ledger's identity events (``identity.locked_out`` files the typed
username as a keyed hash, ``identity.login_succeeded`` names the account). Evidence never holds
an ID number or credit code in clear: accesses are cited by id, time, counts and ledger entry.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, F, Q, Sum

from tongban.exchange.models import Access, AccessSubject
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent, LedgerSubject
from tongban.ledger.privacy import find_identifier
from tongban.onestop.models import Application, ServiceItem
from tongban.oversight.models import SecurityEvent

LOCAL = ZoneInfo("Asia/Shanghai")
HOUR = datetime.timedelta(hours=1)
EVIDENCE_ITEMS = 10  # cited rows per finding (the figures say how many there were in all)
LOGIN_SUCCEEDED, LOCKED_OUT = "identity.login_succeeded", "identity.locked_out"
GRANT_CODES = ("grant_expired", "grant_revoked")
SEVERITIES = ("low", "medium", "high", "critical")

DEFAULT_RULES: dict[str, dict] = {
    "volume_spike": {"enabled": True, "severity": "high", "ratio": 5.0, "min_accesses": 200, "baseline_days": 7},
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


def volume_spike(now: datetime.datetime) -> list[Finding]:
    """A caller made far more accesses in the last hour than its hourly mean of the previous days."""
    config = rule_settings("volume_spike")
    since, days = now - HOUR, int(config["baseline_days"])
    candidates = (_accesses(since, now).values("actor", "consumer_code").annotate(n=Count("id"))
                  .filter(n__gt=config["min_accesses"]))
    findings = []
    for row in candidates:
        caller, code, count = row["actor"], row["consumer_code"], row["n"]
        mine = Access.objects.filter(consumer_code=code, actor=caller)
        baseline = mine.filter(at__gte=since - datetime.timedelta(days=days), at__lt=since).count() / (days * 24)
        if count <= config["ratio"] * baseline:
            continue
        recent = mine.filter(at__gte=since, at__lt=now)
        times = recent.order_by("at").values_list("at", flat=True)
        ratio = round(count / baseline, 1) if baseline else None
        times_text = (f"（{ratio} 倍）", f" ({ratio}×)") if ratio else ("", "")
        findings.append(_finding(
            "volume_spike", config["severity"], caller, code, window=_bucket(now, 60), span=HOUR,
            first=times.first(), last=times.last(),
            zh=f"近1小时访问 {count} 次，过去 {days} 天平均每小时 {baseline:.1f} 次{times_text[0]}。",
            en=f"{count} accesses in the last hour; the mean of the previous {days} days is {baseline:.1f} per hour"
               f"{times_text[1]}.",
            evidence=[{"kind": "figures", "accesses": count, "baseline_per_hour": round(baseline, 2),
                       "ratio": ratio, "window_start": iso(since), "window_end": iso(now)},
                      *access_evidence(_latest(recent))]))
    return findings


# --- 2. bulk lookups at night ----------------------------------------------------------------------------------


def _nights(now: datetime.datetime, start_hour: int, end_hour: int) -> list[tuple[datetime.datetime, ...]]:
    """The night windows (local time) that overlap the last 24 hours, cut at ``now``."""
    today = local(now).date()
    windows = []
    for day in (today - datetime.timedelta(days=1), today):
        start = datetime.datetime.combine(day, datetime.time(start_hour), LOCAL)
        end = datetime.datetime.combine(day, datetime.time(end_hour), LOCAL)
        if end > now - datetime.timedelta(hours=24) and start < now:
            windows.append((start, min(end, now)))
    return windows


def night_bulk(now: datetime.datetime) -> list[Finding]:
    """Lookups of many subjects at night (00:00–06:00 Asia/Shanghai by default) by one caller."""
    config = rule_settings("night_bulk")
    findings = []
    for start, end in _nights(now, int(config["night_start_hour"]), int(config["night_end_hour"])):
        lookups = _accesses(start, end).filter(mode="lookup")
        sums = (lookups.values("actor", "consumer_code")
                .annotate(subjects=Sum("subject_count"), found=Sum("found"), n=Count("id"))
                .filter(subjects__gt=config["min_subjects"]))
        for row in sums:
            caller, code = row["actor"], row["consumer_code"]
            mine = lookups.filter(actor=caller, consumer_code=code)
            times = mine.order_by("at").values_list("at", flat=True)
            night, hours = local(start).date().isoformat(), f"{local(start):%H:%M}–{local(end):%H:%M}"
            findings.append(_finding(
                "night_bulk", config["severity"], caller, code, window=night, span=end - start + HOUR,
                first=times.first(), last=times.last(),
                zh=f"{night} 夜间 {hours} 批量查询 {row['n']} 次，共 {row['subjects']} 个主体，查得 {row['found']} 条。",
                en=f"{row['n']} lookups of {row['subjects']} subjects ({row['found']} found) in the night of {night}, "
                   f"{hours}.",
                evidence=[{"kind": "figures", "lookups": row["n"], "subjects": row["subjects"], "found": row["found"],
                           "window_start": iso(start), "window_end": iso(end)},
                          *access_evidence(list(mine.order_by("-subject_count", "-id")[:EVIDENCE_ITEMS]))]))
    return findings


# --- 3. enumeration ---------------------------------------------------------------------------------------------


def _application_hashes(department_code: str, days: int, now: datetime.datetime) -> set[str] | None:
    """Keyed hashes of the subjects of the department's recent one-stop applications (None: the
    department handles no one-stop item, so "no application behind it" does not apply)."""
    items = ServiceItem.objects.filter(Q(department__code=department_code) | Q(co_departments__code=department_code))
    if not items.exists():
        return None
    subjects = (Application.objects.filter(item__in=items, created_at__gte=now - datetime.timedelta(days=days))
                .values_list("subject", flat=True).distinct())
    return {ledger.subject_hash(subject) for subject in subjects}


def enumeration(now: datetime.datetime) -> list[Finding]:
    """Many distinct subjects from one caller, mostly not found or with no application behind them."""
    config = rule_settings("enumeration")
    minutes = int(config["window_minutes"])
    since = now - datetime.timedelta(minutes=minutes)
    window = _accesses(since, now).filter(subject_count__gt=0)
    candidates = (window.values("actor", "consumer_code").annotate(subjects=Sum("subject_count"))
                  .filter(subjects__gte=config["min_subjects"]))
    findings = []
    for row in candidates:
        caller, code = row["actor"], row["consumer_code"]
        mine = window.filter(actor=caller, consumer_code=code)
        counts = mine.aggregate(asked=Sum("subject_count"), found=Sum("found"))
        hashes = set(mine.exclude(subject_hash="").values_list("subject_hash", flat=True))
        hashes.update(AccessSubject.objects.filter(access__in=mine.filter(subject_hash=""))
                      .values_list("subject_hash", flat=True))
        if len(hashes) < config["min_subjects"]:
            continue
        not_found = max(0, counts["asked"] - counts["found"]) / counts["asked"]
        applied = _application_hashes(code, int(config["application_days"]), now)
        without = len(hashes - applied) / len(hashes) if applied is not None else None
        if not (not_found >= config["not_found_share"]
                or (without is not None and without >= config["no_application_share"])):
            continue
        times = mine.order_by("at").values_list("at", flat=True)
        without_text = f"{without:.0%}" if without is not None else "—"
        findings.append(_finding(
            "enumeration", config["severity"], caller, code, window=_bucket(now, 60),
            span=datetime.timedelta(minutes=minutes), first=times.first(), last=times.last(),
            zh=f"{minutes} 分钟内查询 {len(hashes)} 个不同主体，未查得占 {not_found:.0%}，无办件依据占 {without_text}。",
            en=f"{len(hashes)} distinct subjects in {minutes} minutes: {not_found:.0%} not found, {without_text} "
               "without a one-stop application behind them.",
            evidence=[{"kind": "figures", "distinct_subjects": len(hashes), "accesses": mine.count(),
                       "not_found_share": round(not_found, 3),
                       "without_application_share": round(without, 3) if without is not None else None,
                       "window_start": iso(since), "window_end": iso(now)},
                      *access_evidence(_latest(mine))]))
    return findings


# --- 4. repeated 403 ---------------------------------------------------------------------------------------------


def _densest(times: list[datetime.datetime], width: datetime.timedelta, least: int) -> tuple[int, int] | None:
    """The first run of at least ``least`` times within ``width`` (start, end indexes), extended
    as far as it stays dense; None when there is none."""
    for start in range(len(times) - least + 1):
        if times[start + least - 1] - times[start] <= width:
            end = start + least - 1
            while end + 1 < len(times) and times[end + 1] - times[end + 2 - least] <= width:
                end += 1
            return start, end
    return None


def repeated_forbidden(now: datetime.datetime) -> list[Finding]:
    """At least N refusals (403) of one caller within a few minutes."""
    config = rule_settings("repeated_forbidden")
    minutes, least = int(config["window_minutes"]), int(config["min_events"])
    recent = SecurityEvent.objects.filter(kind="forbidden", at__gte=now - datetime.timedelta(
        minutes=int(config["lookback_minutes"])), at__lte=now).exclude(actor="")
    callers = recent.values("actor").annotate(n=Count("id")).filter(n__gte=least)
    findings = []
    for row in callers:
        events = list(recent.filter(actor=row["actor"]).order_by("at", "id"))
        run = _densest([e.at for e in events], datetime.timedelta(minutes=minutes), least)
        if run is None:
            continue
        burst = events[run[0]:run[1] + 1]
        codes = sorted({e.code for e in burst if e.code})
        findings.append(_finding(
            "repeated_forbidden", config["severity"], row["actor"], burst[-1].department_code,
            window=_bucket(burst[0].at, minutes), span=datetime.timedelta(minutes=minutes),
            first=burst[0].at, last=burst[-1].at,
            zh=f"{minutes} 分钟内 {len(burst)} 次请求被拒绝（{', '.join(codes) or '403'}）。",
            en=f"{len(burst)} requests refused within {minutes} minutes ({', '.join(codes) or '403'}).",
            evidence=[{"kind": "figures", "refusals": len(burst), "codes": codes,
                       "window_start": iso(burst[0].at), "window_end": iso(burst[-1].at)},
                      *event_evidence(burst[-EVIDENCE_ITEMS:])]))
    return findings


# --- 5. login after lockout ---------------------------------------------------------------------------------------


def _lockouts(since: datetime.datetime, now: datetime.datetime) -> tuple[list, dict[str, list]]:
    """Lockouts: ledger events with their subject hashes, and axes rows by username."""
    from axes.models import AccessAttempt, AccessFailureLog

    events = list(LedgerEvent.objects.filter(action=LOCKED_OUT, recorded_at__gte=since, recorded_at__lte=now))
    hashes = defaultdict(set)
    for event_id, value in LedgerSubject.objects.filter(event__in=events).values_list("event_id", "hash"):
        hashes[event_id].add(value)
    by_name: dict[str, list] = defaultdict(list)
    limit = int(getattr(settings, "AXES_FAILURE_LIMIT", 5))
    for row in AccessFailureLog.objects.filter(locked_out=True, attempt_time__gte=since, attempt_time__lte=now):
        by_name[row.username or ""].append(("failure_log", row.attempt_time, row.ip_address))
    for row in AccessAttempt.objects.filter(failures_since_start__gte=limit, attempt_time__gte=since,
                                            attempt_time__lte=now):
        by_name[row.username or ""].append(("attempt", row.attempt_time, row.ip_address))
    return [(e, hashes[e.pk]) for e in events], by_name


def login_after_lockout(now: datetime.datetime) -> list[Finding]:
    """A successful login of an account shortly after it was locked out for failed logins."""
    from axes.models import AccessLog

    from tongban.identity.models import User

    config = rule_settings("login_after_lockout")
    within = datetime.timedelta(minutes=int(config["within_minutes"]))
    since = now - datetime.timedelta(hours=int(config["lookback_hours"]))
    ledger_lockouts, axes_lockouts = _lockouts(since - within, now)
    if not ledger_lockouts and not axes_lockouts:
        return []
    logins: dict[str, list] = defaultdict(list)  # username → [(time, evidence item)]
    for row in AccessLog.objects.filter(attempt_time__gte=since, attempt_time__lte=now).exclude(username=None):
        logins[row.username].append((row.attempt_time, {"kind": "login", "source": "axes", "at": iso(row.attempt_time),
                                                        "ip": row.ip_address}))
    for event in LedgerEvent.objects.filter(action=LOGIN_SUCCEEDED, recorded_at__gte=since, recorded_at__lte=now):
        logins[event.actor].append((event.recorded_at, ledger_evidence([event], "login")[0]))
    findings = []
    for username, seen in logins.items():
        hashed = ledger.subject_hash(username) if ledger_lockouts else ""
        locks = [(e.recorded_at, ledger_evidence([e], "lockout")[0]) for e, h in ledger_lockouts if hashed in h]
        locks += [(at, {"kind": "lockout", "source": f"axes_{source}", "at": iso(at), "ip": ip})
                  for source, at, ip in axes_lockouts.get(username, ())]
        pairs = [(lock, login) for login in sorted(seen, key=lambda x: x[0])
                 for lock in locks if lock[0] < login[0] <= lock[0] + within]
        if not pairs:
            continue
        first_lock = min(lock[0] for lock, _login in pairs)
        after = [login for _lock, login in pairs]
        gap = min((login[0] - lock[0]) for lock, login in pairs)
        user = User.objects.filter(username=username).select_related("department").first()
        minutes = int(gap.total_seconds() // 60)
        lock_items = sorted({id(lock): lock for lock, _login in pairs}.values(), key=lambda x: x[0])
        login_items = sorted({id(login): login for login in after}.values(), key=lambda x: x[0])
        findings.append(_finding(
            "login_after_lockout", config["severity"], username, user.department.code if user and user.department_id
            else "", window=_bucket(first_lock, 1), span=within, first=first_lock, last=login_items[-1][0],
            zh=f"账号因多次登录失败被锁定后 {minutes} 分钟内成功登录，请核实是否本人。",
            en=f"The account logged in {minutes} minutes after being locked out for failed logins; check it was its "
               "owner.",
            evidence=[{"kind": "figures", "lockouts": len(lock_items), "logins": len(login_items),
                       "minutes_after_lockout": minutes},
                      *[item for _at, item in lock_items][-EVIDENCE_ITEMS:],
                      *[item for _at, item in login_items][-EVIDENCE_ITEMS:]]))
    return findings


# --- 6. grant used after its period ---------------------------------------------------------------------------------


def grant_after_period(now: datetime.datetime) -> list[Finding]:
    """Calls under an expired or revoked grant: refused ones (403 grant_expired / grant_revoked),
    and — critical, it should never happen — accesses served after the grant's end."""
    config = rule_settings("grant_after_period")
    since = now - datetime.timedelta(hours=int(config["lookback_hours"]))
    findings = []
    refused = SecurityEvent.objects.filter(code__in=GRANT_CODES, at__gte=since, at__lte=now)
    for row in (refused.values("actor", "department_code").annotate(n=Count("id"))
                .filter(n__gte=config["min_refusals"])):
        events = list(refused.filter(actor=row["actor"], department_code=row["department_code"]).order_by("at", "id"))
        findings.append(_finding(
            "grant_after_period", config["severity"], row["actor"], row["department_code"], family="refused",
            window=local(events[0].at).date().isoformat(), span=datetime.timedelta(hours=24),
            first=events[0].at, last=events[-1].at,
            zh=f"{len(events)} 次调用因授权已到期或已撤销被拒绝，对方系统仍在使用失效的授权。",
            en=f"{len(events)} calls refused because the grant has expired or was revoked: the caller still uses it.",
            evidence=[{"kind": "figures", "refusals": len(events)}, *event_evidence(events[-EVIDENCE_ITEMS:])]))
    served = (_accesses(since, now).filter(grant__isnull=False)
              .filter(Q(at__gt=F("grant__expires_at")) | Q(grant__revoked_at__isnull=False, at__gt=F("grant__revoked_at")))
              .select_related("grant"))
    groups: dict[tuple, list[Access]] = defaultdict(list)
    for access in served.order_by("at", "id"):
        groups[(access.actor, access.consumer_code, access.grant_id)].append(access)
    for (caller, code, grant_id), rows in groups.items():
        grant = rows[0].grant
        findings.append(_finding(
            "grant_after_period", config["served_severity"], caller, code, family="served",
            window=f"grant-{grant_id}", span=datetime.timedelta(hours=24), first=rows[0].at, last=rows[-1].at,
            zh=f"授权 #{grant_id} 到期或撤销后仍有 {len(rows)} 次访问得到数据，须立即核查。",
            en=f"{len(rows)} accesses were served under grant #{grant_id} after it expired or was revoked: "
               "investigate at once.",
            evidence=[{"kind": "figures", "accesses": len(rows), "grant": grant_id,
                       "expires_at": iso(grant.expires_at), "revoked_at": iso(grant.revoked_at)},
                      *access_evidence(rows[-EVIDENCE_ITEMS:])]))
    return findings


RULES = {
    "volume_spike": volume_spike,
    "night_bulk": night_bulk,
    "enumeration": enumeration,
    "repeated_forbidden": repeated_forbidden,
    "login_after_lockout": login_after_lockout,
    "grant_after_period": grant_after_period,
}


def evaluate(now: datetime.datetime) -> list[Finding]:
    """Every enabled rule's findings at ``now`` (read only)."""
    findings: list[Finding] = []
    for name, rule in RULES.items():
        if rule_settings(name).get("enabled", True):
            findings.extend(rule(now))
    return findings
