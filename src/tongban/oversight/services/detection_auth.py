"""Detection rules over refusals and logins (安全预警): repeated 403s, a login right after a
lockout, a grant used after its period. Read only; see ``detection`` for the whole set."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.conf import settings
from django.db.models import Count, F, Q

from tongban.exchange.models import Access
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent, LedgerSubject
from tongban.oversight.models import SecurityEvent
from tongban.oversight.services.detection_base import (
    EVIDENCE_ITEMS,
    GRANT_CODES,
    LOCKED_OUT,
    LOGIN_SUCCEEDED,
    Finding,
    _accesses,
    _bucket,
    _finding,
    access_evidence,
    event_evidence,
    iso,
    ledger_evidence,
    local,
    rule_settings,
)


def _densest(times: list[datetime.datetime], width: datetime.timedelta, least: int) -> tuple[int, int] | None:
    """The LATEST run of at least ``least`` times within ``width`` (start, end indexes), extended
    back as far as it stays dense; None when there is none. The latest, so a new burst is seen at
    once even while an older one is still in the lookback."""
    for end in range(len(times) - 1, least - 2, -1):
        if times[end] - times[end - least + 1] <= width:
            start = end - least + 1
            while start > 0 and times[start + least - 2] - times[start - 1] <= width:
                start -= 1
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
    # Only logins that can follow a lockout: between the first lockout and the last one + ``within``
    # (not every login of the lookback — on a citizen platform that is most of them).
    lock_times = [e.recorded_at for e, _h in ledger_lockouts]
    lock_times += [at for rows in axes_lockouts.values() for _source, at, _ip in rows]
    since, until = max(since, min(lock_times)), min(now, max(lock_times) + within)
    logins: dict[str, list] = defaultdict(list)  # username → [(time, evidence item)]
    for row in AccessLog.objects.filter(attempt_time__gte=since, attempt_time__lte=until).exclude(username=None):
        logins[row.username].append((row.attempt_time, {"kind": "login", "source": "axes", "at": iso(row.attempt_time),
                                                        "ip": row.ip_address}))
    for event in LedgerEvent.objects.filter(action=LOGIN_SUCCEEDED, recorded_at__gte=since, recorded_at__lte=until):
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
