"""Access requests and grants under /api/v1/exchange: thin — parse, call the service, shape.

Every call runs in one transaction (pure reads too: they are few and not on a hot path)."""

from __future__ import annotations

import datetime

from django.db import transaction
from ninja import Field, Query, Router, Schema, Status

from tongban.exchange.models import AccessRequest, Grant
from tongban.exchange.services import grants as grant_services
from tongban.exchange.services import requests as services

router = Router(tags=["exchange: requests and grants"])


# --- schemas ------------------------------------------------------------------------------------------------


class RequestIn(Schema):
    resource: str = Field(..., description="Resource code, e.g. CIV-0001")
    items: list[str] = Field(..., description="Keys of the items asked for")
    modes: list[str] = Field(..., description="query, verify and/or subscribe")
    purpose: str
    scenario: str = ""
    legal_basis: str
    duration_days: int = Field(..., description="Requested duration, 1 to 1095 days")


class DecisionIn(Schema):
    approve: bool
    reason: str
    clear_items: list[str] | None = Field(None, description="Items returned in clear (default: the requested "
                                                             "items that are not personal-sensitive)")
    rate_limit_per_minute: int | None = None


class EscalateIn(Schema):
    note: str


class RevokeIn(Schema):
    reason: str


class GrantPatch(Schema):
    clear_items: list[str] | None = None
    rate_limit_per_minute: int | None = None
    expires_at: datetime.datetime | None = Field(None, description="Only earlier than the current expiry")


class RequestOut(Schema):
    id: int
    resource: str
    resource_name: str
    provider: str
    provider_name: str
    consumer: str
    consumer_name: str
    requested_by: str
    items: list[str]
    modes: list[str]
    purpose: str
    scenario: str
    legal_basis: str
    duration_days: int
    status: str
    submitted_at: datetime.datetime
    due_on: datetime.date | None
    overdue: bool
    decided_at: datetime.datetime | None
    decided_by: str
    reason: str
    escalated_at: datetime.datetime | None
    escalated_by: str
    escalation_note: str
    grant: int | None


class RequestList(Schema):
    items: list[RequestOut]
    count: int


class GrantOut(Schema):
    id: int
    request: int | None
    resource: str
    resource_name: str
    provider: str
    provider_name: str
    consumer: str
    consumer_name: str
    items: list[str]
    clear_items: list[str]
    modes: list[str]
    purpose: str
    legal_basis: str
    rate_limit_per_minute: int
    status: str
    state: str
    starts_at: datetime.datetime
    expires_at: datetime.datetime
    created_by: str
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None
    revoked_by: str
    revoke_reason: str
    webhook_url: str


class GrantList(Schema):
    items: list[GrantOut]
    count: int


class RequestFilter(Schema):
    side: str | None = Field(None, description="provider or consumer (default: both)")
    status: str | None = Field(None, description="pending, approved, rejected or withdrawn")
    overdue: bool = False


class GrantFilter(Schema):
    side: str | None = Field(None, description="provider or consumer (default: both)")
    active: bool = False


def request_out(request: AccessRequest) -> dict:
    grant = getattr(request, "grant", None)  # reverse one-to-one: None when not granted
    return {
        "id": request.pk, "resource": request.resource_code, "resource_name": request.resource_name,
        "provider": request.provider.code, "provider_name": request.provider.name,
        "consumer": request.consumer.code, "consumer_name": request.consumer.name,
        "requested_by": request.requested_by, "items": request.items, "modes": request.modes,
        "purpose": request.purpose, "scenario": request.scenario, "legal_basis": request.legal_basis,
        "duration_days": request.duration_days, "status": request.status, "submitted_at": request.submitted_at,
        "due_on": request.due_on, "overdue": services.is_overdue(request), "decided_at": request.decided_at,
        "decided_by": request.decided_by, "reason": request.reason, "escalated_at": request.escalated_at,
        "escalated_by": request.escalated_by, "escalation_note": request.escalation_note, "grant": grant.pk if grant else None,
    }


def grant_out(grant: Grant) -> dict:
    return {
        "id": grant.pk, "request": grant.request_id, "resource": grant.resource_code,
        "resource_name": grant.request.resource_name if grant.request_id else grant.resource_code,
        "provider": grant.provider.code, "provider_name": grant.provider.name,
        "consumer": grant.consumer.code, "consumer_name": grant.consumer.name,
        "items": grant.items, "clear_items": grant.clear_items, "modes": grant.modes, "purpose": grant.purpose,
        "legal_basis": grant.legal_basis, "rate_limit_per_minute": grant.rate_limit_per_minute,
        "status": grant.status, "state": grant_services.grant_state(grant), "starts_at": grant.starts_at,
        "expires_at": grant.expires_at, "created_by": grant.created_by, "created_at": grant.created_at,
        "revoked_at": grant.revoked_at, "revoked_by": grant.revoked_by, "revoke_reason": grant.revoke_reason,
        "webhook_url": grant.webhook_url,
    }


# --- requests -------------------------------------------------------------------------------------------------


@router.post("/requests", response={201: RequestOut},
             summary="Request access to a resource (无条件共享: approved at once, with its grant)")
def submit(request, payload: RequestIn):
    with transaction.atomic():
        access_request = services.submit_request(
            request.auth, resource_code=payload.resource, items=payload.items, modes=payload.modes,
            purpose=payload.purpose, scenario=payload.scenario, legal_basis=payload.legal_basis,
            duration_days=payload.duration_days)
        return Status(201, request_out(access_request))


@router.get("/requests", response=RequestList,
            summary="My department's requests as provider and as consumer (the bureau: all)")
def list_requests(request, filters: Query[RequestFilter]):
    with transaction.atomic():
        rows = [request_out(r) for r in services.list_requests(request.auth, side=filters.side,
                                                                status=filters.status, overdue=filters.overdue)]
    return {"items": rows, "count": len(rows)}


@router.get("/requests/{request_id}", response=RequestOut, summary="One access request")
def get_request(request, request_id: int):
    with transaction.atomic():
        return request_out(services.get_request(request.auth, request_id))


@router.post("/requests/{request_id}/decision", response=RequestOut,
             summary="Approve (creating the grant) or reject, with a reason (provider)")
def decide(request, request_id: int, payload: DecisionIn):
    with transaction.atomic():
        decided = services.decide(request.auth, request_id, approve=payload.approve, reason=payload.reason,
                                  clear_items=payload.clear_items,
                                  rate_limit_per_minute=payload.rate_limit_per_minute)
        return request_out(decided)


@router.post("/requests/{request_id}/escalate", response=RequestOut, summary="Escalate a pending request (bureau)")
def escalate(request, request_id: int, payload: EscalateIn):
    with transaction.atomic():
        return request_out(services.escalate(request.auth, request_id, payload.note))


@router.post("/requests/{request_id}/withdraw", response=RequestOut,
             summary="Withdraw a pending request (consumer)")
def withdraw(request, request_id: int):
    with transaction.atomic():
        return request_out(services.withdraw(request.auth, request_id))


# --- grants ------------------------------------------------------------------------------------------------------


@router.get("/grants", response=GrantList, summary="My department's grants as provider and as consumer (bureau: all)")
def list_grants(request, filters: Query[GrantFilter]):
    with transaction.atomic():
        rows = [grant_out(g) for g in grant_services.list_grants(request.auth, side=filters.side,
                                                                  active_only=filters.active)]
    return {"items": rows, "count": len(rows)}


@router.get("/grants/{grant_id}", response=GrantOut, summary="One grant")
def get_grant(request, grant_id: int):
    with transaction.atomic():
        return grant_out(grant_services.get_grant(request.auth, grant_id))


@router.post("/grants/{grant_id}/revoke", response=GrantOut,
             summary="Revoke a grant at once, with a reason (provider or bureau)")
def revoke(request, grant_id: int, payload: RevokeIn):
    with transaction.atomic():
        return grant_out(grant_services.revoke_grant(request.auth, grant_id, payload.reason))


@router.patch("/grants/{grant_id}", response=GrantOut,
              summary="Change clear items, rate limit or bring the expiry forward (provider)")
def update(request, grant_id: int, payload: GrantPatch):
    with transaction.atomic():
        grant = grant_services.update_grant(request.auth, grant_id, clear_items=payload.clear_items,
                                            rate_limit_per_minute=payload.rate_limit_per_minute,
                                            expires_at=payload.expires_at)
        return grant_out(grant)
