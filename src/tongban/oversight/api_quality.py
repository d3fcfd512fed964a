"""Oversight API: data quality (数据质量), mounted at /api/v1/oversight.

* ``GET /quality?department=CODE`` — the latest score of each resource in the caller's scope;
* ``GET /quality/{code}`` — a resource's history, its latest dimensions and details, and the worst
  rows for those allowed (the bureau, the department's stewards);
* ``POST /quality/recompute`` ``{"resource": code?}`` — the bureau's administrator or CDO start a
  job (``202``, followed at ``GET /api/v1/jobs/{id}``); the worker computes, never the request.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from ninja import Field, Router, Schema, Status

from tongban.oversight.services import quality

router = Router(tags=["oversight"])


class ScoreOut(Schema):
    id: int
    resource: str
    resource_name: str
    department: str
    department_name: str
    computed_at: datetime.datetime
    records: int
    completeness: float | None
    validity: float | None
    timeliness: float | None
    uniqueness: float | None
    consistency: float | None
    score: float


class ScoreListOut(Schema):
    items: list[ScoreOut]
    count: int


class IssueOut(Schema):
    dimension: str
    subject: str
    item: str
    problem: str


class ResourceQualityOut(Schema):
    resource: str
    resource_name: str
    department: str
    latest: ScoreOut
    details: dict[str, Any]
    history: list[ScoreOut]
    issues_visible: bool
    issues: list[IssueOut] | None = Field(None, description="the worst rows (null when not yours to see)")


class RecomputeIn(Schema):
    resource: str | None = Field(None, description="one resource's code (default: every published resource)")


class JobStarted(Schema):
    job: str
    status: str
    url: str


def score_out(score) -> dict:
    return {"id": score.pk, "resource": score.resource_code, "resource_name": score.resource_name,
            "department": score.department.code, "department_name": score.department.name,
            "computed_at": score.computed_at, "records": score.records,
            **{d: getattr(score, d) for d in quality.DIMENSIONS}, "score": score.score}


@router.get("/quality", response=ScoreListOut, summary="Data quality: the latest score of each resource in scope")
def quality_list(request, department: str | None = None):
    rows = quality.latest(request.auth, department=department)
    return {"items": [score_out(s) for s in rows], "count": len(rows)}


@router.post("/quality/recompute", response={202: JobStarted},
             summary="Recompute data quality (bureau administrator or CDO) → job (GET /api/v1/jobs/{id})")
def quality_recompute(request, payload: RecomputeIn | None = None):
    with transaction.atomic():
        job = quality.recompute(request.auth, payload.resource if payload else None)
    return Status(202, {"job": str(job.pk), "status": job.status, "url": f"/api/v1/jobs/{job.pk}"})


@router.get("/quality/{code}", response=ResourceQualityOut,
            summary="A resource's data quality: history, dimensions and (for its stewards) the worst rows")
def quality_detail(request, code: str):
    actor = request.auth
    rows = quality.history(actor, code)
    newest = rows[0]
    visible = quality.may_see_issues(actor, newest.department_id)
    found = [{"dimension": i.dimension, "subject": i.subject, "item": i.item, "problem": i.problem}
             for i in quality.issues(actor, newest.pk)] if visible else None
    return {"resource": code, "resource_name": newest.resource_name, "department": newest.department.code,
            "latest": score_out(newest), "details": newest.details, "history": [score_out(s) for s in rows],
            "issues_visible": visible, "issues": found}
