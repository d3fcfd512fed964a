"""The applicant's own applications at /api/v1/me/applications (newest first)."""

from __future__ import annotations

from django.db import transaction
from ninja import Router, Schema

from tongban.onestop.api_applications import ApplicationSummaryOut, summary_out
from tongban.onestop.services import applications as services

router = Router()


class MyApplicationsOut(Schema):
    items: list[ApplicationSummaryOut]
    count: int


@router.get("/me/applications", response=MyApplicationsOut, summary="My applications (citizens and enterprises)")
def my_applications(request):
    with transaction.atomic():
        rows = [summary_out(a) for a in services.my_applications(request.auth)]
    return {"items": rows, "count": len(rows)}
