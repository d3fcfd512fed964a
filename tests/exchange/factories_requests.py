"""Builders for access requests and grants (for any exchange test).

    grant = approved_grant("civil", "health", modes=["query", "verify"])
    grant.resource_code  # the resource it was made for (a new person resource of "civil")
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from tests.exchange.factories import official, person_resource
from tongban.catalog import services as catalog
from tongban.catalog.models import Resource
from tongban.exchange.models import AccessRequest, Grant
from tongban.exchange.services import requests


def request_for(consumer_code: str, resource: Resource, *, items: Sequence[str] | None = None,
                modes: Sequence[str] = ("query",), duration_days: int = 365,
                purpose: str = "办理婚姻状况核查业务") -> AccessRequest:
    """A request by a clerk of ``consumer_code`` (all items of the resource unless ``items``)."""
    clerk = official(consumer_code, "clerk")
    keys = list(items) if items is not None else [i.key for i in catalog.items_of(resource)]
    with transaction.atomic():
        return requests.submit_request(clerk, resource_code=resource.code, items=keys, modes=list(modes),
                                       purpose=purpose, scenario="窗口办件", legal_basis="《浙江省公共数据条例》",
                                       duration_days=duration_days)


def pending_request(provider_code: str = "civil", consumer_code: str = "health", **kwargs) -> AccessRequest:
    """A pending request for a new conditional person resource of ``provider_code``."""
    return request_for(consumer_code, person_resource(provider_code, sharing="conditional"), **kwargs)


def approved_grant(provider_code: str = "civil", consumer_code: str = "health", *,
                   modes: Sequence[str] = ("query", "verify"), items: Sequence[str] | None = None,
                   resource: Resource | None = None, clear_items: Sequence[str] | None = None,
                   duration_days: int = 365, rate_limit_per_minute: int | None = None) -> Grant:
    """An active grant of ``consumer_code`` to a (new, conditional, person) resource of
    ``provider_code``, requested by a clerk and approved by an approver of the provider.
    ``clear_items`` None: the default (requested items not personal-sensitive, subject key masked)."""
    resource = resource or person_resource(provider_code, sharing="conditional")
    request = request_for(consumer_code, resource, items=items, modes=modes, duration_days=duration_days)
    if request.status == AccessRequest.Status.APPROVED:  # 无条件共享: granted at once
        return Grant.objects.select_related("provider", "consumer").get(request_id=request.pk)
    approver = official(resource.department.code, "approver")
    with transaction.atomic():
        requests.decide(approver, request.pk, approve=True, reason="符合共享条件，同意。",
                        clear_items=list(clear_items) if clear_items is not None else None,
                        rate_limit_per_minute=rate_limit_per_minute)
    return Grant.objects.select_related("provider", "consumer").get(request_id=request.pk)
