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
import logging

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q, Sum

from tongban.exchange.models import Access, AccessSubject
from tongban.ledger import services as ledger
from tongban.onestop.models import Application, ServiceItem
from tongban.oversight.services.detection_auth import (
    grant_after_period,
    login_after_lockout,
    repeated_forbidden,
)

# The shared vocabulary, re-exported: callers and tests use detection.DEFAULT_RULES, Finding, …
from tongban.oversight.services.detection_base import (  # noqa: F401
    DEFAULT_RULES,
    EVIDENCE_ITEMS,
    HOUR,
    LOCAL,
    Finding,
    _accesses,
    _bucket,
    _finding,
    _indexes,
    _latest,
    access_evidence,
    event_evidence,
    iso,
    ledger_evidence,
    ledger_link,
    local,
    rule_settings,
    safe_caller,
)

logger = logging.getLogger("tongban.oversight")


def volume_spike(now: datetime.datetime) -> list[Finding]:
    """A caller read far more in the last hour than its hourly mean of the previous days — counted
    in calls and in subjects (150 lookups of 1,000 subjects each are a spike too)."""
    config = rule_settings("volume_spike")
    since, days = now - HOUR, int(config["baseline_days"])
    least_calls, least_subjects = config["min_accesses"], config["min_subjects"]
    candidates = (_accesses(since, now).values("actor", "consumer_code")
                  .annotate(n=Count("id"), subjects=Sum("subject_count"))
                  .filter(Q(n__gt=least_calls) | Q(subjects__gt=least_subjects)))
    findings = []
    for row in candidates:
        caller, code, count, subjects = row["actor"], row["consumer_code"], row["n"], row["subjects"] or 0
        mine = Access.objects.filter(consumer_code=code, actor=caller)
        before = mine.filter(at__gte=since - datetime.timedelta(days=days), at__lt=since).aggregate(
            n=Count("id"), subjects=Sum("subject_count"))
        baseline, baseline_subjects = before["n"] / (days * 24), (before["subjects"] or 0) / (days * 24)
        by_calls = count > least_calls and count > config["ratio"] * baseline
        by_subjects = subjects > least_subjects and subjects > config["ratio"] * baseline_subjects
        if not (by_calls or by_subjects):
            continue
        recent = mine.filter(at__gte=since, at__lt=now)
        times = recent.order_by("at").values_list("at", flat=True)
        ratio = round(count / baseline, 1) if baseline else None
        times_text = (f"（{ratio} 倍）", f" ({ratio}×)") if ratio else ("", "")
        findings.append(_finding(
            "volume_spike", config["severity"], caller, code, window=_bucket(now, 60), span=HOUR,
            first=times.first(), last=times.last(),
            zh=f"近1小时访问 {count} 次、{subjects} 个主体，过去 {days} 天平均每小时 {baseline:.1f} 次、"
               f"{baseline_subjects:.1f} 个主体{times_text[0]}。",
            en=f"{count} accesses of {subjects} subjects in the last hour; the mean of the previous {days} days is "
               f"{baseline:.1f} accesses and {baseline_subjects:.1f} subjects per hour{times_text[1]}.",
            evidence=[{"kind": "figures", "accesses": count, "subjects": subjects,
                       "baseline_per_hour": round(baseline, 2), "baseline_subjects_per_hour": round(baseline_subjects, 2),
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
        end = datetime.datetime.combine(day, datetime.time(end_hour % 24), LOCAL)
        if end <= start:  # a night across midnight (e.g. 22:00–06:00) ends the next day
            end += datetime.timedelta(days=1)
        if end > now - datetime.timedelta(hours=24) and start < now:
            windows.append((start, min(end, now)))
    return windows


READ_MODES = ("query", "lookup", "verify")


def night_bulk(now: datetime.datetime) -> list[Finding]:
    """Lookups of many subjects at night (00:00–06:00 Asia/Shanghai by default) by one caller."""
    config = rule_settings("night_bulk")
    findings = []
    for start, end in _nights(now, int(config["night_start_hour"]), int(config["night_end_hour"])):
        # Every read of subjects counts (single queries add up too), not only bulk lookups.
        lookups = _accesses(start, end).filter(mode__in=READ_MODES)
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
        try:
            if rule_settings(name).get("enabled", True):
                findings.extend(rule(now))
        except ImproperlyConfigured:
            raise  # a wrong threshold is the operator's to fix, loudly
        except Exception:  # noqa: BLE001 - one failing rule must not stop the others
            logger.exception("detection rule %s failed", name)
    return findings
