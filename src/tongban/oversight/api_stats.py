"""Oversight API (under /api/v1/oversight): statistics and the department assessment. Thin: each
operation calls ``services.stats`` or ``services.assessment`` (which check who may see what) in
one transaction and shapes the answer."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema

from tongban.oversight.services import assessment, stats, xlsx

router = Router(tags=["oversight"])


class DepartmentRef(Schema):
    code: str
    name: str


class Figures(Schema):
    published_resources: int
    records: int
    active_grants: int
    accesses: int = Field(..., description="Accesses in the last `days` days")
    pending_requests: int
    overdue_requests: int
    applications: int = Field(..., description="Applications submitted (drafts left out)")
    in_time_rate: float | None = Field(..., description="Percent completed by the due date (None: nothing to judge)")
    instant_share: float | None = Field(..., description="Percent approved at once by an instant-approval rule")
    open_alerts: int | None = Field(..., description="New or acknowledged alerts (None while there is no alert)")


class Trend(Schema):
    days: list[str]
    accesses: list[int]
    applications: list[int]


class OverviewOut(Schema):
    department: str | None = Field(..., description="The department in scope (None: every department)")
    days: int
    figures: Figures
    trend: Trend


class PairOut(Schema):
    provider: DepartmentRef
    consumer: DepartmentRef
    resources: int
    requests: int
    pending: int
    grants: int
    accesses: int
    records: int


class ApprovalOut(Schema):
    decided: int
    median_hours: float | None
    p90_hours: float | None


class ProviderOut(ApprovalOut):
    department: DepartmentRef
    requests: int
    pending: int
    overdue: int
    in_time_rate: float | None


class OverdueRow(Schema):
    id: int
    resource_code: str
    resource_name: str
    provider: DepartmentRef
    consumer: DepartmentRef
    due_on: str
    days_overdue: int


class OverdueOut(Schema):
    count: int
    rows: list[OverdueRow]


class SharingOut(Schema):
    department: str | None
    days: int
    metric: str
    pairs: list[PairOut]
    approval: ApprovalOut
    by_provider: list[ProviderOut]
    overdue: OverdueOut


class StatusCount(Schema):
    status: str
    label: str
    count: int


class InTime(Schema):
    completed: int
    completed_in_time: int
    running_overdue: int
    rate: float | None


class Instant(Schema):
    submitted: int
    instant: int
    share: float | None


class Reuse(Schema):
    materials: int = Field(..., description="Materials reused from shared data and e-certificates (papers not asked for)")
    applications: int


class LevelCount(Schema):
    level: int
    label: str
    count: int


class Ratings(Schema):
    count: int
    by_level: list[LevelCount]
    average: float | None
    satisfaction: float | None


class ServiceDepartment(Schema):
    department: DepartmentRef
    applications: int
    completed: int
    in_time_rate: float | None
    instant_share: float | None
    reused: int
    rating_average: float | None


class ServicesOut(Schema):
    department: str | None
    applications: int
    by_status: list[StatusCount]
    in_time: InTime
    instant: Instant
    reuse: Reuse
    ratings: Ratings
    by_department: list[ServiceDepartment]


class IndicatorOut(Schema):
    key: str
    label_zh: str
    label_en: str
    weight: float
    share: float


class AssessedDepartment(DepartmentRef):
    name_zh: str
    name_en: str


class RankingRow(Schema):
    rank: int
    department: AssessedDepartment
    total: float
    indicators: dict[str, float | None]


class RankingOut(Schema):
    period: str
    stored: bool = Field(..., description="False: nothing stored for the period, evaluated now")
    computed_at: datetime.datetime | None
    indicators: list[IndicatorOut]
    rows: list[RankingRow]
    periods: list[str]


class TrendPoint(Schema):
    period: str
    total: float
    rank: int
    indicators: dict[str, float | None]


class TrendOut(Schema):
    department: AssessedDepartment
    points: list[TrendPoint]


class PeriodFilter(Schema):
    period: str | None = Field(None, description="YYYY-MM (month) or YYYY-Qn (quarter); default: the newest stored")


class ComputeIn(Schema):
    period: str | None = Field(None, description="YYYY-MM or YYYY-Qn; default: the current month")


class DaysFilter(Schema):
    days: int = Field(stats.TREND_DAYS, ge=1, le=stats.MAX_DAYS, description="Window of the access figures (days)")


@router.get("/statistics", response=OverviewOut, summary="Key figures and 30-day trends (驾驶舱概览)")
def overview(request):
    return stats.overview(request.auth)


@router.get("/statistics/sharing", response=SharingOut,
            summary="Sharing by department pair (provider → consumer), approval times, overdue requests")
def sharing(request, filters: Query[DaysFilter]):
    return stats.sharing(request.auth, days=filters.days)


@router.get("/statistics/services", response=ServicesOut,
            summary="Applications by status, in-time completion, instant approvals, reuse, ratings")
def services(request):
    return stats.services(request.auth)


@router.get("/assessment", response=RankingOut, summary="Department assessment ranking (考核排名) in the caller's scope")
def ranking(request, filters: Query[PeriodFilter]):
    return assessment.ranking(request.auth, filters.period)


@router.get("/assessment/export.xlsx", summary="The assessment ranking as XLSX (ranking and weights sheets)")
def export(request, filters: Query[PeriodFilter]):
    ranked = assessment.ranking(request.auth, filters.period)
    response = HttpResponse(xlsx.assessment_workbook(ranked), content_type=xlsx.CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="assessment-{ranked["period"]}.xlsx"'
    return response


@router.get("/assessment/trend", response=TrendOut, summary="A department's assessment over its last periods")
def trend(request, department: str = "", periods: int = assessment.TREND_PERIODS):
    return assessment.trend(request.auth, department, periods)


@router.post("/assessment/compute", response=RankingOut,
             summary="Compute and store a period's assessment (bureau administrator, chief data officer)")
def compute(request, payload: ComputeIn):
    with transaction.atomic():
        scores = assessment.compute_for(request.auth, payload.period)
        period = scores[0].period if scores else (payload.period or assessment.current_period()).strip()
        return assessment.ranking(request.auth, period)
