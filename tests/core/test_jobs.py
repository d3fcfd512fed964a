"""Background jobs: status and progress a person can follow, failures recorded, privacy."""

from __future__ import annotations

import json

import pytest

from tests.identity.factories import PASSWORD, make_citizen_user, make_department, make_official
from tongban.core.jobs import job_task, report_progress, start_job
from tongban.core.models import Job

pytestmark = pytest.mark.django_db


@job_task("test.count")
def count_task(job_id: str, upto: int):
    for done in range(1, upto + 1):
        report_progress(job_id, done, upto)
    return {"counted": upto}


@job_task("test.explode")
def explode_task(job_id: str):
    raise RuntimeError("boom with private detail")


def test_job_runs_after_commit_and_reports_result(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = start_job(count_task, 5, created_by="someone")
        assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED  # not before commit
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.done, job.total, job.progress) == (5, 5, 1.0)
    assert job.result == {"counted": 5}
    assert job.started_at and job.finished_at


def test_failed_job_is_marked_without_leaking_the_message(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = start_job(explode_task, created_by="someone")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "RuntimeError"


def _token(client, username):
    body = json.dumps({"username": username, "password": PASSWORD})
    return client.post("/api/v1/auth/token", data=body, content_type="application/json").json()["access_token"]


def test_job_api_shows_own_jobs_only(client, django_capture_on_commit_callbacks, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    make_citizen_user("owner")
    make_citizen_user("stranger")
    make_official("boss", make_department("bureau", is_bureau=True), ["cdo"])
    with django_capture_on_commit_callbacks(execute=True):
        job = start_job(count_task, 3, created_by="owner")
    url = f"/api/v1/jobs/{job.pk}"
    mine = client.get(url, HTTP_AUTHORIZATION=f"Bearer {_token(client, 'owner')}")
    assert mine.status_code == 200
    assert mine.json()["status"] == "succeeded" and mine.json()["progress"] == 1.0
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {_token(client, 'stranger')}").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {_token(client, 'boss')}").status_code == 200
    assert client.get(url).status_code == 401
    assert client.get("/api/v1/jobs/not-a-uuid",
                      HTTP_AUTHORIZATION=f"Bearer {_token(client, 'owner')}").status_code == 422
