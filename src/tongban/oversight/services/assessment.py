"""Department assessment (考核): a weighted score per department per period.

Indicators, each 0–100 (``None``: not applicable to the department in that period):

| key | 中文 | what is measured |
|---|---|---|
| catalog_completeness | 数据挂接率 | share of the department's published resources that have records loaded |
| metadata_quality | 元数据质量 | mean metadata quality (``catalog.quality.assess`` percent; the score stored on publication when there is one) of its published resources |
| data_quality | 数据质量 | ``oversight.services.quality.department_quality(department_id)`` (data quality computed from the records) |
| sharing_responsiveness | 共享申请按时答复率 | requests to the department as provider, submitted in the period, decided by their due date (pending past it: late; still within it: not judged; 无条件共享 requests need no answer) |
| service_in_time | 按时办结率 | its applications completed in the period by their due date, of those completed plus those running past a due date in the period |
| service_instant | 秒批率 | share of applications submitted in the period that were approved at once by an instant-approval rule |
| service_rating | 好差评满意度 | mean current rating (1–5) of ratings given in the period, as a percentage of 5 |
| service_rectification | 差评整改及时率 | bad-rating tickets opened in the period replied by their due date (open past it: late) |

The catalog, metadata and data quality indicators describe the department's state when the
score is computed; the others count what happened in the period.

Weights: ``DEFAULT_WEIGHTS`` below, overridden key by key by the setting
``TONGBAN_ASSESSMENT_WEIGHTS`` (a dict such as ``{"data_quality": 30, "service_instant": 0}``;
an unknown key or a negative weight is a configuration error, weight 0 leaves an indicator out).
The total is the weighted mean over the applicable indicators: the weights of the others are
left out and the rest renormalised. A department none of whose indicators applies is not ranked.

Periods: a month ``"YYYY-MM"`` (the default: the current month) or a quarter ``"YYYY-Qn"``.
``compute(period)`` stores one ``AssessmentScore`` per department (upsert, rank 1..n by total,
ties by department code); the cockpit reads them with ``ranking`` and ``trend``; ``export_xlsx``
writes the ranking as a spreadsheet. Recomputed daily by huey (``oversight_assessment``) and by
``tongban oversight assessment [--period YYYY-MM]``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Avg, Count, Exists, OuterRef
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.catalog.models import Resource
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import AccessRequest, Record
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.onestop.models import Application, Rating, RectificationTicket
from tongban.oversight.models import AssessmentScore, QualityScore
from tongban.oversight.services import access
from tongban.oversight.services import stats as measures
from tongban.oversight.services.stats import Window, department_label, today

INDICATORS: dict[str, tuple[str, str]] = {
    "catalog_completeness": ("数据挂接率", "Catalog completeness (resources with records)"),
    "metadata_quality": ("元数据质量", "Metadata quality"),
    "data_quality": ("数据质量", "Data quality"),
    "sharing_responsiveness": ("共享申请按时答复率", "Sharing requests answered in time"),
    "service_in_time": ("按时办结率", "Applications completed in time"),
    "service_instant": ("秒批率", "Instant-approval share"),
    "service_rating": ("好差评满意度", "Mean rating"),
    "service_rectification": ("差评整改及时率", "Bad ratings rectified in time"),
}
DEFAULT_WEIGHTS: dict[str, float] = {
    "catalog_completeness": 15, "metadata_quality": 10, "data_quality": 20, "sharing_responsiveness": 20,
    "service_in_time": 15, "service_instant": 5, "service_rating": 10, "service_rectification": 5,
}
TREND_PERIODS = 12
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def weights() -> dict[str, float]:
    """The weights in force: the defaults with ``settings.TONGBAN_ASSESSMENT_WEIGHTS`` applied."""
    configured = getattr(settings, "TONGBAN_ASSESSMENT_WEIGHTS", None) or {}
    unknown = set(configured) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ImproperlyConfigured(f"TONGBAN_ASSESSMENT_WEIGHTS: unknown indicator(s) {sorted(unknown)}; "
                                   f"known: {sorted(DEFAULT_WEIGHTS)}")
    merged = {**DEFAULT_WEIGHTS, **configured}
    for key, value in merged.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ImproperlyConfigured(f"TONGBAN_ASSESSMENT_WEIGHTS[{key!r}] must be a number ≥ 0")
    return {key: float(value) for key, value in merged.items()}


def current_period(on: datetime.date | None = None) -> str:
    return (on or today()).strftime("%Y-%m")


def previous_period(on: datetime.date | None = None) -> str:
    first = (on or today()).replace(day=1)
    return current_period(first - datetime.timedelta(days=1))


def period_window(period: str) -> Window:
    """The local dates [start, end) of a period ``YYYY-MM`` or ``YYYY-Qn`` (422 otherwise)."""
    text = (period or "").strip()
    if match := MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        span = 1
    elif match := QUARTER.match(text):
        year, month = int(match[1]), 3 * int(match[2]) - 2
        span = 3
    else:
        raise InvalidInput("考核周期格式应为 YYYY-MM 或 YYYY-Qn", "The period must be YYYY-MM or YYYY-Qn",
                           code="invalid_period", details={"period": period})
    if not 2000 <= year <= 2100:
        raise InvalidInput("考核周期超出范围", "The period is out of range", code="invalid_period",
                           details={"period": period})
    end_month = month + span
    end = datetime.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return Window(datetime.date(year, month, 1), end)


def total_of(indicators: dict[str, float | None], used: dict[str, float]) -> float | None:
    """The weighted mean over the applicable indicators (weights renormalised); None when none applies."""
    applicable = [(used[k], v) for k, v in indicators.items() if v is not None and used.get(k, 0) > 0]
    weight = sum(w for w, _ in applicable)
    return round(sum(w * v for w, v in applicable) / weight, 2) if weight else None


# --- the indicators ------------------------------------------------------------------------------------------


def _metadata_percent(resource: Resource) -> float:
    if resource.quality_score is not None:
        return float(resource.quality_score)
    from tongban.catalog.quality import assess

    return float(assess(resource)["percent"])


def _data_quality(department_id: int) -> float | None:
    try:
        from tongban.oversight.services.quality import department_quality
    except ImportError:
        return None
    value = department_quality(department_id)
    return None if value is None else round(float(value), 2)


def indicators_by_department(window: Window, on: datetime.date | None = None) -> dict[int, dict[str, float | None]]:
    """Every indicator of every department that has at least one applicable indicator."""
    on = on or today()
    found: dict[int, dict[str, float | None]] = defaultdict(lambda: dict.fromkeys(INDICATORS))
    published = (Resource.objects.filter(status=Resource.Status.PUBLISHED)
                 .annotate(loaded=Exists(Record.objects.filter(resource_code=OuterRef("code")))))
    by_department: dict[int, list[Resource]] = defaultdict(list)
    for resource in published:
        by_department[resource.department_id].append(resource)
    for department_id, resources in by_department.items():
        found[department_id]["catalog_completeness"] = measures.rate(sum(r.loaded for r in resources), len(resources))
        found[department_id]["metadata_quality"] = round(
            sum(_metadata_percent(r) for r in resources) / len(resources), 1)
    for row in (AccessRequest.objects.values("provider_id").annotate(**measures.request_measures(on, window))
                .order_by()):
        value = measures.answered_rate(row)
        if value is not None:
            found[row["provider_id"]]["sharing_responsiveness"] = value
    for row in (Application.objects.values("item__department_id")
                .annotate(**measures.application_measures(on, window)).order_by()):
        rates = measures.application_rates(row)
        for key, source in (("service_in_time", "in_time_rate"), ("service_instant", "instant_share")):
            if rates[source] is not None:
                found[row["item__department_id"]][key] = rates[source]
    for department_id, mean, n in (Rating.objects.filter(window.q("created_at"), is_current=True)
                                   .values("application__item__department_id")
                                   .annotate(mean=Avg("level"), n=Count("pk")).order_by()
                                   .values_list("application__item__department_id", "mean", "n")):
        if n:
            found[department_id]["service_rating"] = round(mean * 20, 1)  # of 5, in percent
    for row in (RectificationTicket.objects.values("department_id")
                .annotate(**measures.ticket_measures(on, window)).order_by()):
        value = measures.rectified_rate(row)
        if value is not None:
            found[row["department_id"]]["service_rectification"] = value
    scored = set(QualityScore.objects.order_by().values_list("department_id", flat=True).distinct())
    for department_id in set(found) | scored:
        found[department_id]["data_quality"] = _data_quality(department_id)
    return {d: values for d, values in found.items() if any(v is not None for v in values.values())}


def evaluate(period: str, on: datetime.date | None = None) -> list[dict]:
    """The period's scores, ranked, without storing them: ``[{"department_id", "indicators",
    "total", "rank"}]``."""
    used = weights()
    rows = []
    for department_id, values in indicators_by_department(period_window(period), on).items():
        total = total_of(values, used)
        if total is not None:
            rows.append({"department_id": department_id, "indicators": values, "total": total})
    codes = dict(Department.objects.filter(pk__in=[r["department_id"] for r in rows]).values_list("pk", "code"))
    rows.sort(key=lambda r: (-r["total"], codes[r["department_id"]]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def compute(period: str | None = None, *, on: datetime.date | None = None) -> list[AssessmentScore]:
    """Compute and store the period's scores (upsert by department and period; departments no
    longer ranked lose their row). The caller holds the transaction."""
    period = (period or current_period(on)).strip()
    used = weights()
    now = timezone.now()
    scores = []
    rows = evaluate(period, on)
    for row in rows:
        score, _ = AssessmentScore.objects.update_or_create(
            department_id=row["department_id"], period=period,
            defaults={"indicators": row["indicators"], "weights": used, "total": row["total"], "rank": row["rank"],
                      "computed_at": now})
        scores.append(score)
    AssessmentScore.objects.filter(period=period).exclude(department_id__in=[r["department_id"] for r in rows]).delete()
    return scores


def compute_for(actor, period: str | None = None) -> list[AssessmentScore]:
    """``compute`` on behalf of the bureau's administrator or chief data officer. A period that
    has ended and has its scores is closed (the official result: 409 ``period_closed``); every
    computation is recorded in the ledger with the weights and a digest of the results."""
    access.require_manager(actor)
    period = (period or current_period()).strip()
    window = period_window(period)
    if window.end <= timezone.localdate() and AssessmentScore.objects.filter(period=period).exists():
        raise Conflict("该考核周期已结束并已出结果，不能重新计算", "That period has ended and its result stands",
                       code="period_closed", details={"period": period})
    scores = compute(period)
    results = [[s.department.code, round(s.total, 4), s.rank] for s in scores]
    ledger.record(actor=actor.username or actor.kind, action="oversight.assessment_computed",
                  subject=f"assessment:{period}", department="bureau",
                  payload={"period": period, "weights": weights(), "departments": len(results),
                           "sha256": hashlib.sha256(json.dumps(results, sort_keys=True).encode()).hexdigest()})
    return scores


# --- reading -------------------------------------------------------------------------------------------------


def indicator_list(used: dict[str, float]) -> list[dict]:
    weight = sum(used.get(k, 0) for k in INDICATORS) or 1
    return [{"key": key, "label_zh": zh, "label_en": en, "weight": used.get(key, 0),
             "share": round(100 * used.get(key, 0) / weight, 1)} for key, (zh, en) in INDICATORS.items()]


def _department(d: Department) -> dict:
    return {"code": d.code, "name": department_label(d), "name_zh": d.name, "name_en": d.name_en}


def periods() -> list[str]:
    """The periods with stored scores, newest first."""
    return list(AssessmentScore.objects.values_list("period", flat=True).distinct().order_by("-period"))


def ranking(actor, period: str | None = None) -> dict:
    """The period's ranking in the actor's scope (a department: its own row, with its rank among
    all). Without a period: the newest stored one (else the current month). When nothing is
    stored for the period the scores are evaluated now and not stored (``stored`` False).
    Answers ``{"period", "stored", "computed_at", "indicators": [{"key", "label_zh", "label_en",
    "weight", "share"}], "rows": [{"rank", "department": {"code", "name", ...}, "total",
    "indicators": {key: value | None}}], "periods"}``."""
    department_id = access.scope(actor)
    known = periods()
    period = (period or "").strip() or (known[0] if known else current_period())
    period_window(period)  # 422 on a malformed period
    stored = list(AssessmentScore.objects.filter(period=period).select_related("department").order_by("rank"))
    if stored:
        used = stored[0].weights or weights()
        computed_at = max(s.computed_at for s in stored)
        rows = [{"rank": s.rank, "department": s.department, "total": s.total,
                 "indicators": {k: s.indicators.get(k) for k in INDICATORS}} for s in stored]
    elif not access.may_manage(actor):
        # Evaluating a period on the fly is a full computation: the bureau's managers may ask for
        # it; everyone else sees stored periods only.
        used, computed_at, rows = weights(), None, []
    else:
        used, computed_at = weights(), None
        evaluated = evaluate(period)
        departments = Department.objects.in_bulk([r["department_id"] for r in evaluated])
        rows = [{"rank": r["rank"], "department": departments[r["department_id"]], "total": r["total"],
                 "indicators": r["indicators"]} for r in evaluated]
    if department_id is not None:
        rows = [r for r in rows if r["department"].pk == department_id]
    for row in rows:
        row["department"] = _department(row["department"])
    return {"period": period, "stored": bool(stored), "computed_at": computed_at, "indicators": indicator_list(used),
            "rows": rows, "periods": known}


def trend(actor, department_code: str | None, periods: int = TREND_PERIODS) -> dict:
    """A department's stored scores over its last ``periods`` periods, oldest first:
    ``{"department": {...}, "points": [{"period", "total", "rank", "indicators"}]}``.
    Without a code: the caller's own department."""
    department_id = access.scope(actor)
    if not department_code:
        department = Department.objects.filter(pk=department_id or actor.department_id).first()
    else:
        department = Department.objects.filter(code=department_code).first()
    if department is None:
        raise NotFound("没有这个部门", "No such department")
    if department_id is not None and department.pk != department_id:
        raise PermissionDenied("部门只能查看本部门的考核", "A department sees only its own assessment")
    count = max(1, min(int(periods), 60))
    rows = list(AssessmentScore.objects.filter(department=department).order_by("-period")[:count])
    return {"department": _department(department), "points": [
        {"period": s.period, "total": s.total, "rank": s.rank,
         "indicators": {k: s.indicators.get(k) for k in INDICATORS}} for s in reversed(rows)]}


def export_xlsx(actor, period: str | None = None) -> bytes:
    """The ranking in the actor's scope as an XLSX workbook (see ``services.xlsx``)."""
    from tongban.oversight.services import xlsx

    return xlsx.assessment_workbook(ranking(actor, period))


# --- schedule ------------------------------------------------------------------------------------------------


def scheduled(on: datetime.date | None = None) -> list[str]:
    """What the daily run computes: the current month, and on the first of a month also the
    month just ended (its final scores)."""
    on = on or today()
    done = [current_period(on)]
    if on.day == 1:
        done.insert(0, previous_period(on))
    for period in done:
        compute(period, on=on)
    return done


@db_periodic_task(crontab(minute="40", hour="3"), name="tongban.oversight.assessment")  # after quality (02:10)
def oversight_assessment() -> list[str]:
    from django.db import transaction

    with transaction.atomic():
        return scheduled()
