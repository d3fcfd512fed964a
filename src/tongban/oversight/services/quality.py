"""Data quality (数据质量) per resource, computed from the records: use cases.

* ``compute_resource(code)`` / ``compute_all()`` measure (``quality_checks.measure``) and store a
  new ``QualityScore`` (the history) with up to 50 ``QualityIssue`` rows, the worst records, for
  the steward. Run by ``tongban oversight quality``, the daily periodic task and the managers'
  recompute job; they take no actor (the callers are the platform itself).
* ``latest``, ``history``, ``issues``: what an actor may read (``access.scope``): the bureau and
  the auditor everything, a department its own resources; the worst rows (subjects) only the
  bureau and the department's stewards and administrators.
* ``department_quality(department_id)``: the mean of a department's latest scores (assessment).
* ``recompute(actor, code=None)``: the bureau's administrator or CDO start a job.

Computing reads outside any transaction (a large resource must not hold SQLite's write lock
for the length of its pass) and writes the score and its issues in one short transaction of its
own — the edge of this batch work, like the exchange's hot path.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.db import transaction
from django.db.models import Avg, OuterRef, Subquery
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.catalog import services as catalog
from tongban.catalog.models import Resource
from tongban.core.errors import Conflict, NotFound, PermissionDenied
from tongban.core.jobs import job_task, report_progress, start_job
from tongban.core.models import Job
from tongban.exchange.models import Record
from tongban.identity.access import Actor, Role
from tongban.identity.models import Department
from tongban.oversight.models import QualityIssue, QualityScore
from tongban.oversight.services import access
from tongban.oversight.services import quality_checks as checks

DIMENSIONS = checks.DIMENSIONS
HISTORY_LIMIT = 100
RUNNING_FOR = datetime.timedelta(hours=2)  # a quality job older than this no longer blocks another
ISSUE_READERS = (Role.STEWARD, Role.DEPT_ADMIN)


# --- computing ------------------------------------------------------------------------------------------------


def _has_records(code: str) -> bool:
    return Record.objects.filter(resource_code=code).exists()


def compute_resource(code: str, *, now: datetime.datetime | None = None,
                     progress: Callable[[int, int], None] | None = None) -> QualityScore:
    """Measure one published resource and store the score (a new row) with its worst rows.
    ``progress(done, total)`` is called after each chunk of records."""
    resource = catalog.get_published(code)
    if not _has_records(code):
        raise Conflict("该资源还没有数据", "The resource has no records yet", code="no_records")
    now = now or timezone.now()
    used = checks.weights()
    result = checks.measure(resource, catalog.items_of(resource), now=now, progress=progress)
    details = {**result.details, "weights": used}
    issues = []
    for subject, problems in result.worst:
        for dimension, item, problem in problems:
            if len(issues) < checks.MAX_ISSUES:
                issues.append((dimension, subject, item, problem))
    with transaction.atomic():
        score = QualityScore.objects.create(
            resource_code=code, resource_name=resource.name, department_id=resource.department_id, computed_at=now,
            records=result.records, score=checks.weighted(result.dimensions, used), details=details,
            **result.dimensions)
        QualityIssue.objects.bulk_create([
            QualityIssue(score=score, dimension=dimension, subject=subject[:18], item=item[:60], problem=problem[:300])
            for dimension, subject, item, problem in issues])
        # Only the latest score's worst rows are shown: older ones (naming people) are not kept.
        QualityIssue.objects.filter(score__resource_code=code).exclude(score=score).delete()
    return score


def measurable_codes() -> list[str]:
    """Codes of the published resources that have records, in code order."""
    published = Resource.objects.filter(status=Resource.Status.PUBLISHED).values("code")
    return sorted(set(Record.objects.filter(resource_code__in=published).order_by()
                      .values_list("resource_code", flat=True).distinct()))


def compute_all(*, now: datetime.datetime | None = None,
                progress: Callable[[str, int, int], None] | None = None,
                codes: list[str] | None = None) -> list[QualityScore]:
    """Measure every published resource with records (or ``codes``); ``progress(code, done, total)``.
    A resource retired or emptied meanwhile is skipped."""
    now = now or timezone.now()
    scores = []
    for code in measurable_codes() if codes is None else codes:
        report = (lambda done, total, code=code: progress(code, done, total)) if progress else None
        try:
            scores.append(compute_resource(code, now=now, progress=report))
        except (NotFound, Conflict):
            continue
    return scores


@db_periodic_task(crontab(hour="2", minute="10"), name="tongban.oversight.quality_daily")
def quality_daily() -> int:
    """The daily recomputation of every resource's data quality."""
    return len(compute_all())


def run_recompute(code: str | None = None, *, job_id: str | None = None) -> dict:
    """The recompute job's body: one resource or all, progress counted in records."""
    codes = [code] if code else measurable_codes()
    total = Record.objects.filter(resource_code__in=codes).count()
    if job_id:
        report_progress(job_id, 0, total)
    before = 0

    def report(_code: str, done: int, _total: int) -> None:
        if job_id:
            report_progress(job_id, before + done, total)

    scores = []
    for current in codes:
        scores += compute_all(codes=[current], progress=report)
        before = sum(score.records for score in scores)
    return {"count": len(scores), "scores": [{"resource": s.resource_code, "score": s.score, "id": s.pk}
                                             for s in scores]}


@job_task("oversight.quality")
def quality_task(job_id: str, code: str | None = None) -> dict:
    return run_recompute(code, job_id=job_id)


def recompute(actor: Actor, code: str | None = None) -> Job:
    """Start recomputing one resource (or all): the bureau's administrator or CDO. Answers the job."""
    access.require_manager(actor)
    if code:
        catalog.get_published(code)
        if not _has_records(code):
            raise Conflict("该资源还没有数据", "The resource has no records yet", code="no_records")
    running = Job.objects.filter(kind=quality_task.kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
                                 created_at__gte=timezone.now() - RUNNING_FOR).first()
    if running is not None:
        raise Conflict("已有一个数据质量计算任务在运行，请稍后再试", "A quality computation is already running; try again later",
                       code="quality_running", details={"job": str(running.pk)})
    return start_job(quality_task, code, created_by=actor.username or actor.kind,
                     department=actor.department_code or "")


# --- reading --------------------------------------------------------------------------------------------------


def _latest_rows():
    newest = (QualityScore.objects.filter(resource_code=OuterRef("resource_code"))
              .order_by("-computed_at", "-pk").values("pk")[:1])
    published = Resource.objects.filter(status=Resource.Status.PUBLISHED).values("code")
    return QualityScore.objects.filter(pk=Subquery(newest), resource_code__in=published)


def _department(code: str) -> Department:
    department = Department.objects.filter(code=code).first()
    if department is None:
        raise NotFound("没有这个部门", "No such department")
    return department


def latest(actor: Actor, department: str | None = None) -> list[QualityScore]:
    """The latest score of each published resource the actor may see, best first
    (``department``: a department's code; another department than one's own is refused)."""
    own = access.scope(actor)
    rows = _latest_rows().select_related("department")
    if department:
        chosen = _department(department)
        if own is not None and chosen.pk != own:
            raise PermissionDenied("只能查看本部门的数据质量", "You see your own department's data quality only")
        rows = rows.filter(department=chosen)
    elif own is not None:
        rows = rows.filter(department_id=own)
    return list(rows.order_by("-score", "resource_code"))


def history(actor: Actor, code: str, *, limit: int = HISTORY_LIMIT) -> list[QualityScore]:
    """A resource's scores, newest first; another department's resource is not found."""
    own = access.scope(actor)
    rows = QualityScore.objects.filter(resource_code=code).select_related("department")
    if own is not None:
        rows = rows.filter(department_id=own)
    found = list(rows.order_by("-computed_at", "-pk")[:limit])
    if not found:
        raise NotFound("该资源还没有数据质量评分", "No quality score for this resource")
    return found


def may_see_issues(actor: Actor, department_id: int) -> bool:
    """The worst rows name subjects: the bureau's administrator and CDO, or the department's stewards."""
    if access.may_manage(actor):  # the bureau's administrator and CDO (not the auditor: rows name people)
        return True
    return (actor.kind == "official" and actor.department_id == department_id
            and actor.has_role(*ISSUE_READERS))


def issues(actor: Actor, score_id: int) -> list[QualityIssue]:
    """The worst rows of one score, for the resource's stewards and the bureau."""
    own = access.scope(actor)
    score = QualityScore.objects.filter(pk=score_id).first()
    if score is None or (own is not None and score.department_id != own):
        raise NotFound("没有这条数据质量评分", "No such quality score")
    if not may_see_issues(actor, score.department_id):
        raise PermissionDenied("只有本部门数据管理员和大数据局可以查看问题数据",
                               "Only the department's stewards and the bureau see the offending rows")
    return list(score.issues.order_by("pk"))


def department_quality(department_id: int) -> float | None:
    """The mean of the department's latest resource scores (``None``: nothing measured yet)."""
    mean = _latest_rows().filter(department_id=department_id).aggregate(mean=Avg("score"))["mean"]
    return round(mean, 2) if mean is not None else None


def department_means() -> dict[int, float]:
    """Department id → mean of its latest resource scores (every department measured)."""
    rows = _latest_rows().order_by().values("department_id").annotate(mean=Avg("score"))
    return {row["department_id"]: round(row["mean"], 2) for row in rows}
