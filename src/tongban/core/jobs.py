"""Background jobs: one job system (huey) for everything that runs outside a request.

Huey keeps its queue in SQLite under the data directory by default, or in Redis when
``TONGBAN_REDIS_URL`` is set; ``tongban worker`` runs the consumer. A task that a person waits
for is started with ``start_job``: it gets a ``Job`` row whose status and progress pages and
the API read, while the task reports progress with ``report_progress``.

Tasks are enqueued only after the starting transaction commits, so a worker never picks up a
job whose row (or whose input) it cannot see yet.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task

from tongban.core.errors import NotFound
from tongban.core.models import Job

logger = logging.getLogger("tongban.jobs")


def job_task(kind: str) -> Callable:
    """Declare a huey task whose first argument is the ``Job`` id it reports to."""

    def decorate(function: Callable) -> Callable:
        @wraps(function)
        def run(job_id: str, *args, **kwargs):
            Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING, started_at=timezone.now())
            try:
                result = function(job_id, *args, **kwargs)
            except Exception as exc:
                logger.exception("job %s (%s) failed", job_id, kind)
                Job.objects.filter(pk=job_id).update(status=Job.Status.FAILED, error=type(exc).__name__,
                                                     finished_at=timezone.now())
                return None
            Job.objects.filter(pk=job_id).update(status=Job.Status.SUCCEEDED, result=result,
                                                 finished_at=timezone.now())
            return result

        task = db_task(name=f"tongban.{kind}")(run)
        task.kind = kind
        return task

    return decorate


def start_job(task, *args, created_by: str, department: str = "", total: int | None = None) -> Job:
    """Create the job row and enqueue ``task`` once the caller's transaction commits."""
    job = Job.objects.create(id=uuid.uuid4(), kind=task.kind, created_by=created_by, department=department,
                             total=total)
    transaction.on_commit(lambda: task(str(job.pk), *args))
    return job


def report_progress(job_id: str, done: int, total: int | None = None) -> None:
    fields = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job_id).update(**fields)


def job_for(username: str, job_id, *, oversight: bool = False) -> Job:
    """A job visible to its creator (or to platform oversight); anyone else gets not-found."""
    try:
        job = Job.objects.get(pk=job_id)
    except (Job.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if job.created_by != username and not oversight:
        raise NotFound()
    return job


def immediate() -> bool:
    return HUEY.immediate
