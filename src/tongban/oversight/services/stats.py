"""Sharing and service statistics for the cockpit, computed on demand from the other apps' tables
(nothing is stored: the figures are counts over exchange, catalog and one-stop rows).

Every public function takes the actor first and is scoped with ``access.scope``: the bureau
(administrator, chief data officer, auditor) sees every department; a department's officials see
the figures of their own department (as provider or consumer of data, as implementing department
of services); everyone else gets 403.

* ``overview(actor)`` — key figures and 30-day trends (accesses and applications per day);
* ``sharing(actor, days=30)`` — who uses whose data (provider → consumer pairs), approval times
  (median and 90th percentile hours from submission to decision), overdue requests;
* ``services(actor)`` — applications by status, in-time completion, instant approvals, materials
  reused (papers not asked for), ratings distribution, per department.

The measures (``application_measures``, ``request_measures``, ``ticket_measures``) are aggregate
expressions shared with the department assessment: a measure judges only what can be judged —
an application or request still inside its time limit counts neither as in time nor as late.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import get_language

from tongban.catalog.models import Resource
from tongban.exchange.models import Access, AccessRequest, Grant, ResourceState
from tongban.identity.models import Department
from tongban.onestop.models import Application, Rating, RectificationTicket
from tongban.oversight.models import Alert
from tongban.oversight.services import access

TIME_ZONE = ZoneInfo("Asia/Shanghai")
TREND_DAYS = 30
MAX_DAYS = 366
OVERDUE_ROWS = 50
A = Application.Status
RUNNING = (A.ACCEPTED, A.UNDER_REVIEW, A.APPROVED)  # within their time limit until finished
RequestStatus = AccessRequest.Status


def today() -> datetime.date:
    return timezone.localdate(timezone=TIME_ZONE)


def start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=TIME_ZONE)


def rate(part: int | None, whole: int | None) -> float | None:
    """``part`` of ``whole`` in percent (one decimal); None when there is nothing to judge."""
    return round(100 * (part or 0) / whole, 1) if whole else None


def department_label(department: Department | dict | None, code: str = "") -> str:
    """The department's name in the active language (its code when unknown)."""
    if department is None:
        return code
    name, name_en = (department["name"], department.get("name_en")) if isinstance(department, dict) \
        else (department.name, department.name_en)
    english = (get_language() or "").lower().startswith("en")
    return (name_en or name) if english else name


@dataclass(frozen=True)
class Window:
    """A half-open period [start, end) of local dates."""

    start: datetime.date
    end: datetime.date

    def q(self, field: str, *, dates: bool = False) -> Q:
        if dates:
            return Q(**{f"{field}__gte": self.start, f"{field}__lt": self.end})
        return Q(**{f"{field}__gte": start_of(self.start), f"{field}__lt": start_of(self.end)})


# --- measures (aggregate expressions, also used by the assessment) -------------------------------------------


def application_measures(on: datetime.date, window: Window | None = None) -> dict:
    """Counts over applications: completed (in the window), completed by their due date, running
    past their due date (due in the window), submitted (in the window), instantly approved,
    materials reused."""
    completed = Q(status=A.COMPLETED, completed_at__isnull=False)
    overdue = Q(status__in=RUNNING, due_on__lt=on)
    submitted = Q(submitted_at__isnull=False) & ~Q(status=A.DRAFT)
    if window:
        completed &= window.q("completed_at")
        overdue &= window.q("due_on", dates=True)
        submitted &= window.q("submitted_at")
    return {
        "completed": Count("pk", filter=completed),
        "completed_in_time": Count("pk", filter=completed & (Q(due_on__isnull=True)
                                                             | Q(completed_at__date__lte=F("due_on")))),
        "running_overdue": Count("pk", filter=overdue),
        "submitted": Count("pk", filter=submitted),
        "instant": Count("pk", filter=submitted & Q(rule_result__passed=True)),
        "reused": Sum("reused_count", filter=submitted),
        "reusing": Count("pk", filter=submitted & Q(reused_count__gt=0)),
    }


def application_rates(row: dict) -> dict:
    judged = (row.get("completed") or 0) + (row.get("running_overdue") or 0)
    return {"in_time_rate": rate(row.get("completed_in_time"), judged),
            "instant_share": rate(row.get("instant"), row.get("submitted"))}


def request_measures(on: datetime.date, window: Window | None = None) -> dict:
    """Counts over access requests that must be answered by a date (a 无条件共享 request is granted
    at once and has none): decided, decided by the due date, pending past it; pending in all."""
    needs = Q(due_on__isnull=False) & ~Q(status=RequestStatus.WITHDRAWN)
    if window:
        needs &= window.q("submitted_at")
    decided = needs & Q(decided_at__isnull=False)
    return {
        "requests": Count("pk"),
        "decided": Count("pk", filter=decided),
        "decided_in_time": Count("pk", filter=decided & Q(decided_at__date__lte=F("due_on"))),
        "pending_overdue": Count("pk", filter=needs & Q(status=RequestStatus.PENDING, due_on__lt=on)),
        "pending": Count("pk", filter=Q(status=RequestStatus.PENDING)),
    }


def answered_rate(row: dict) -> float | None:
    return rate(row.get("decided_in_time"), (row.get("decided") or 0) + (row.get("pending_overdue") or 0))


def ticket_measures(on: datetime.date, window: Window | None = None) -> dict:
    """Counts over rectification tickets (opened in the window): replied, replied by the due
    date, open past it."""
    opened = window.q("created_at") if window else Q()
    replied = opened & Q(replied_at__isnull=False)
    return {
        "replied": Count("pk", filter=replied),
        "replied_in_time": Count("pk", filter=replied & Q(replied_at__date__lte=F("due_on"))),
        "open_overdue": Count("pk", filter=opened & Q(status=RectificationTicket.Status.OPEN, due_on__lt=on)),
    }


def rectified_rate(row: dict) -> float | None:
    return rate(row.get("replied_in_time"), (row.get("replied") or 0) + (row.get("open_overdue") or 0))


# --- scope ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What the actor may count: everything (``department_id`` None) or one department's rows."""

    department_id: int | None
    department_code: str | None

    @classmethod
    def of(cls, actor) -> Scope:
        department_id = access.scope(actor)
        code = Department.objects.filter(pk=department_id).values_list("code", flat=True).first() \
            if department_id else None
        return cls(department_id, code)

    def _both_sides(self, qs: QuerySet) -> QuerySet:
        if self.department_id is None:
            return qs
        return qs.filter(Q(provider_id=self.department_id) | Q(consumer_id=self.department_id))

    def resources(self) -> QuerySet:
        rows = Resource.objects.filter(status=Resource.Status.PUBLISHED)
        return rows if self.department_id is None else rows.filter(department_id=self.department_id)

    def states(self) -> QuerySet:
        rows = ResourceState.objects.all()
        return rows if self.department_id is None else rows.filter(department_id=self.department_id)

    def requests(self) -> QuerySet:
        return self._both_sides(AccessRequest.objects.all())

    def grants(self) -> QuerySet:
        return self._both_sides(Grant.objects.all())

    def accesses(self) -> QuerySet:
        if self.department_id is None:
            # Through the (consumer_code, at) index: no index on ``at`` alone, which would cost
            # every query of the exchange's hot path one more insert.
            return Access.objects.filter(consumer_code__in=list(Department.objects.values_list("code", flat=True)))
        own = Resource.objects.filter(department_id=self.department_id).values("code")
        return Access.objects.filter(Q(consumer_code=self.department_code) | Q(resource_code__in=own))

    def applications(self) -> QuerySet:
        rows = Application.objects.all()
        return rows if self.department_id is None else rows.filter(item__department_id=self.department_id)

    def ratings(self) -> QuerySet:
        rows = Rating.objects.filter(is_current=True)
        return rows if self.department_id is None else rows.filter(application__item__department_id=self.department_id)

    def alerts(self) -> QuerySet:
        return Alert.objects.all() if self.department_id is None else Alert.objects.filter(
            department_id=self.department_id)


def active_grants(qs: QuerySet) -> QuerySet:
    now = timezone.now()
    return qs.filter(status=Grant.Status.ACTIVE, starts_at__lte=now, expires_at__gt=now)


def _per_day(qs: QuerySet, field: str, days: list[datetime.date]) -> list[int]:
    counts = dict(qs.filter(**{f"{field}__gte": start_of(days[0])})
                  .annotate(day=TruncDate(field, tzinfo=TIME_ZONE)).values("day")
                  .annotate(n=Count("pk")).order_by().values_list("day", "n"))
    return [counts.get(day, 0) for day in days]


# --- overview ------------------------------------------------------------------------------------------------


def overview(actor, *, days: int = TREND_DAYS) -> dict:
    """Key figures and trends. ``figures``: published_resources, records, active_grants,
    accesses (last ``days`` days), pending_requests, overdue_requests, applications (submitted),
    in_time_rate and instant_share (percent or None), open_alerts (in scope);
    ``trend``: ``days`` (ISO dates), ``accesses`` and ``applications`` per day."""
    scope = Scope.of(actor)
    on = today()
    since = timezone.now() - datetime.timedelta(days=days)
    requests = scope.requests().aggregate(**request_measures(on))
    apps = scope.applications().aggregate(**application_measures(on))
    figures = {
        "published_resources": scope.resources().count(),
        "records": scope.states().aggregate(n=Sum("record_count"))["n"] or 0,
        "active_grants": active_grants(scope.grants()).count(),
        "accesses": scope.accesses().filter(at__gte=since).count(),
        "pending_requests": requests["pending"],
        "overdue_requests": scope.requests().filter(status=RequestStatus.PENDING, due_on__lt=on).count(),
        "applications": apps["submitted"],
        **application_rates(apps),
        "open_alerts": scope.alerts().filter(status__in=(Alert.Status.NEW, Alert.Status.ACKNOWLEDGED)).count(),
    }
    trend_days = [on - datetime.timedelta(days=n) for n in range(days - 1, -1, -1)]
    applications = scope.applications().exclude(status=A.DRAFT).filter(submitted_at__isnull=False)
    return {
        "department": scope.department_code,
        "days": days,
        "figures": figures,
        "trend": {"days": [d.isoformat() for d in trend_days],
                  "accesses": _per_day(scope.accesses(), "at", trend_days),
                  "applications": _per_day(applications, "submitted_at", trend_days)},
    }


# --- sharing -------------------------------------------------------------------------------------------------


def _hours(rows) -> dict:
    hours = sorted((decided - submitted).total_seconds() / 3600 for submitted, decided in rows)
    if not hours:
        return {"decided": 0, "median_hours": None, "p90_hours": None}
    p90 = hours[0] if len(hours) == 1 else statistics.quantiles(hours, n=10, method="inclusive")[8]
    return {"decided": len(hours), "median_hours": round(statistics.median(hours), 1), "p90_hours": round(p90, 1)}


def sharing(actor, *, days: int = TREND_DAYS) -> dict:
    """Who uses whose data. ``pairs``: one row per provider → consumer with ``resources`` (with an
    active grant), ``requests``, ``pending``, ``grants`` (active), ``accesses`` and ``records``
    (records returned) in the last ``days`` days; ``metric``: what the flow chart weighs
    (accesses, else grants, else requests); ``approval``: decided requests with median and p90
    hours, overall and ``by_provider``; ``overdue``: pending requests past their due date."""
    days = max(1, min(int(days), MAX_DAYS))
    scope = Scope.of(actor)
    on = today()
    pairs: dict[tuple[str, str], dict] = defaultdict(lambda: dict.fromkeys(
        ("resources", "requests", "pending", "grants", "accesses", "records"), 0))
    for provider, consumer, n, pending in (scope.requests().values("provider__code", "consumer__code")
                                           .annotate(n=Count("pk"), p=Count("pk", filter=Q(status=RequestStatus.PENDING)))
                                           .order_by().values_list("provider__code", "consumer__code", "n", "p")):
        pairs[(provider, consumer)].update(requests=n, pending=pending)
    for provider, consumer, n, resources in (active_grants(scope.grants()).values("provider__code", "consumer__code")
                                             .annotate(n=Count("pk"), r=Count("resource_code", distinct=True))
                                             .order_by().values_list("provider__code", "consumer__code", "n", "r")):
        pairs[(provider, consumer)].update(grants=n, resources=resources)
    since = timezone.now() - datetime.timedelta(days=days)
    used = list(scope.accesses().filter(at__gte=since).values("consumer_code", "resource_code")
                .annotate(n=Count("pk"), found=Sum("found")).order_by()
                .values_list("consumer_code", "resource_code", "n", "found"))
    owners = dict(Resource.objects.filter(code__in={row[1] for row in used}).values_list("code", "department__code")
                  .order_by())
    for consumer, resource_code, n, found in used:
        pair = pairs[(owners.get(resource_code, "?"), consumer)]
        pair["accesses"] += n
        pair["records"] += found or 0
    codes = {code for pair in pairs for code in pair}
    departments = {d["code"]: d for d in Department.objects.filter(code__in=codes).values("code", "name", "name_en")}

    def who(code: str) -> dict:
        return {"code": code, "name": department_label(departments.get(code), code)}

    rows = [{"provider": who(p), "consumer": who(c), **figures} for (p, c), figures in pairs.items()]
    rows.sort(key=lambda r: (-r["accesses"], -r["grants"], -r["requests"], r["provider"]["code"], r["consumer"]["code"]))
    metric = next((m for m in ("accesses", "grants", "requests") if any(r[m] for r in rows)), "requests")

    decided = (scope.requests().filter(due_on__isnull=False, decided_at__isnull=False)
               .values_list("provider__code", "submitted_at", "decided_at"))
    by_provider_times: dict[str, list] = defaultdict(list)
    for provider, submitted, decided_at in decided:
        by_provider_times[provider].append((submitted, decided_at))
    per_provider = {p: dict(zip(("requests", "decided", "decided_in_time", "pending_overdue", "pending"), values,
                                strict=True))
                    for p, *values in scope.requests().values("provider__code").annotate(**request_measures(on))
                    .order_by().values_list("provider__code", "requests", "decided", "decided_in_time",
                                            "pending_overdue", "pending")}
    provider_names = {d["code"]: d for d in Department.objects.filter(code__in=per_provider)
                      .values("code", "name", "name_en")}
    by_provider = [{"department": {"code": p, "name": department_label(provider_names.get(p), p)},
                    **_hours(by_provider_times.get(p, [])), "requests": m["requests"], "pending": m["pending"],
                    "overdue": m["pending_overdue"], "in_time_rate": answered_rate(m)}
                   for p, m in sorted(per_provider.items())]
    overdue_rows = (scope.requests().filter(status=RequestStatus.PENDING, due_on__lt=on)
                    .select_related("provider", "consumer").order_by("due_on", "pk"))
    return {
        "department": scope.department_code,
        "days": days,
        "metric": metric,
        "pairs": rows,
        "approval": _hours(pair for times in by_provider_times.values() for pair in times),
        "by_provider": by_provider,
        "overdue": {"count": overdue_rows.count(), "rows": [
            {"id": r.pk, "resource_code": r.resource_code, "resource_name": r.resource_name,
             "provider": who_of(r.provider), "consumer": who_of(r.consumer), "due_on": r.due_on.isoformat(),
             "days_overdue": (on - r.due_on).days} for r in overdue_rows[:OVERDUE_ROWS]]},
    }


def who_of(department: Department) -> dict:
    return {"code": department.code, "name": department_label(department)}


# --- services ------------------------------------------------------------------------------------------------


def services(actor) -> dict:
    """One-stop figures: ``by_status`` (counts, drafts left out), ``in_time`` and ``instant``
    (counts and percent), ``reuse`` (materials reused — papers not asked for — and applications
    reusing any), ``ratings`` (distribution by level 5..1, average, satisfaction: share rated
    基本满意 or better), ``by_department`` (the implementing departments)."""
    scope = Scope.of(actor)
    on = today()
    applications = scope.applications()
    labels = dict(A.choices)
    counts = dict(applications.exclude(status=A.DRAFT).values("status").annotate(n=Count("pk")).order_by()
                  .values_list("status", "n"))
    by_status = [{"status": s, "label": str(labels[s]), "count": counts.get(s, 0)} for s in A.values if s != A.DRAFT]
    totals = applications.aggregate(**application_measures(on))
    rated = scope.ratings()
    levels = dict(rated.values("level").annotate(n=Count("pk")).order_by().values_list("level", "n"))
    level_labels = dict(Rating.Level.choices)
    rating_count = sum(levels.values())
    per_department = (applications.values("item__department__code", "item__department__name",
                                          "item__department__name_en")
                      .annotate(**application_measures(on)).order_by("item__department__code"))
    averages = dict(scope.ratings().values("application__item__department__code").annotate(avg=Avg("level"))
                    .order_by().values_list("application__item__department__code", "avg"))
    by_department = []
    for row in per_department:
        code = row["item__department__code"]
        if not (row["submitted"] or row["completed"] or row["running_overdue"]):
            continue
        by_department.append({
            "department": {"code": code, "name": department_label(
                {"name": row["item__department__name"], "name_en": row["item__department__name_en"]})},
            "applications": row["submitted"], "completed": row["completed"], **application_rates(row),
            "reused": row["reused"] or 0,
            "rating_average": round(averages[code], 2) if averages.get(code) is not None else None})
    return {
        "department": scope.department_code,
        "applications": totals["submitted"],
        "by_status": by_status,
        "in_time": {"completed": totals["completed"], "completed_in_time": totals["completed_in_time"],
                    "running_overdue": totals["running_overdue"], "rate": application_rates(totals)["in_time_rate"]},
        "instant": {"submitted": totals["submitted"], "instant": totals["instant"],
                    "share": application_rates(totals)["instant_share"]},
        "reuse": {"materials": totals["reused"] or 0, "applications": totals["reusing"]},
        "ratings": {
            "count": rating_count,
            "by_level": [{"level": level, "label": str(level_labels[level]), "count": levels.get(level, 0)}
                         for level in (5, 4, 3, 2, 1)],
            "average": round(sum(k * n for k, n in levels.items()) / rating_count, 2) if rating_count else None,
            "satisfaction": rate(sum(n for k, n in levels.items() if k >= 3), rating_count),
        },
        "by_department": by_department,
    }
