"""My data (我的数据) page: /me/data/ — my records by department, and who accessed them."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from tongban.exchange.services import mydata
from tongban.identity.access import actor_for_user
from tongban.identity.decorators import domain_errors_as_pages, verified_login_required

PAGE_SIZE = 50


def _page_number(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


@verified_login_required
@domain_errors_as_pages
def my_data(request):
    actor = actor_for_user(request.user)
    records = mydata.my_records(actor)
    page = _page_number(request.GET.get("page"))
    accesses = mydata.my_accesses(actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    departments: list[dict] = []
    for record in records:  # already ordered by provider
        if not departments or departments[-1]["code"] != record.department_code:
            departments.append({"code": record.department_code, "name": record.department_name, "records": []})
        departments[-1]["records"].append(record)
    pages = max(1, -(-accesses.count // PAGE_SIZE))
    return render(request, "exchange/me/data.html", {
        "departments": departments, "record_count": len(records), "accesses": accesses,
        "page": page, "pages": pages,
        "prev_page": page - 1 if page > 1 else None, "next_page": page + 1 if page < pages else None,
        "subject": mydata.subject_of(actor),
    })


urlpatterns = [
    path("me/data/", my_data, name="my-data"),
]
