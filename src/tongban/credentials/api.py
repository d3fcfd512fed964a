"""Credentials API under /api/v1/credentials (and /api/v1/me/credentials)."""

from __future__ import annotations

from uuid import UUID

from django.db import transaction
from django.http import HttpResponse
from ninja import Router, Status

from tongban.catalog.api import optional_actor
from tongban.core.errors import InvalidInput
from tongban.credentials import services
from tongban.credentials.schemas import (
    CredentialOut,
    IssueIn,
    PresentationOut,
    PresentIn,
    RevokeIn,
    TrustedRegionOut,
    TrustListImportIn,
    VerifyIn,
)
from tongban.credentials.verify import MAX_INPUT

router = Router(tags=["credentials"])
me_router = Router(tags=["me"])
PUBLIC = [optional_actor]
MAX_BODY = 4 * MAX_INPUT


def credential_out(credential) -> dict:
    return {
        "id": str(credential.pk), "type": credential.type.code, "type_name": credential.type.name,
        "issuer": credential.type.department.name, "holder_name": credential.holder.name,
        "issued_at": credential.issued_at.isoformat(),
        "valid_until": credential.valid_until.isoformat() if credential.valid_until else None,
        "status": credential.state, "subject": credential.subject, "vc_jwt": credential.vc_jwt,
        "qr_text": credential.qr_text,
    }


@router.post("/verify", auth=PUBLIC, summary="Verify a credential (VC-JWT or TB1: QR text), check by check")
def verify(request, payload: VerifyIn):
    if len(request.body) > MAX_BODY:
        raise InvalidInput("输入过大", "The input is too large", code="oversized")
    result = services.verify(payload.credential)  # reads only: no transaction while a status list is fetched
    if request.auth is not None and request.auth.is_authenticated:
        with transaction.atomic():
            services.record_verification(request.auth, result)
    return result.to_dict()


@router.get("/trust-list", auth=None, summary="The node's signed trust list (JWS)")
def trust_list(request):
    token = services.published_trust_list()
    if "application/json" in request.headers.get("Accept", ""):
        return {"token": token, "root_jwk": services.root_public_jwk()}
    response = HttpResponse(token, content_type="application/jwt")
    response["Cache-Control"] = "public, max-age=300"
    return response


@router.get("/status/{purpose}/{list_id}", auth=None, summary="A Bitstring Status List credential (VC-JWT)")
def status_list(request, purpose: str, list_id: int):
    if purpose not in ("revocation", "suspension"):
        from tongban.core.errors import NotFound

        raise NotFound()
    response = HttpResponse(services.status_list_credential(purpose, list_id), content_type="application/vc+jwt")
    response["Cache-Control"] = f"public, max-age={services.STATUS_TTL_MS // 1000}"
    return response


@router.post("/issue", response={201: CredentialOut}, summary="Issue a credential")
def issue(request, payload: IssueIn):
    with transaction.atomic():
        credential = services.issue_credential(request.auth, payload.type, payload.holder, payload.fields)
    return Status(201, credential_out(credential))


@router.post("/{credential_id}/revoke", response=CredentialOut, summary="Revoke a credential")
def revoke(request, credential_id: UUID, payload: RevokeIn | None = None):
    with transaction.atomic():
        credential = services.revoke(request.auth, credential_id, payload.reason if payload else "")
    return credential_out(credential)


@router.post("/{credential_id}/suspend", response=CredentialOut, summary="Suspend a credential")
def suspend(request, credential_id: UUID):
    with transaction.atomic():
        credential = services.suspend(request.auth, credential_id)
    return credential_out(credential)


@router.post("/{credential_id}/lift", response=CredentialOut, summary="Lift a suspension")
def lift(request, credential_id: UUID):
    with transaction.atomic():
        credential = services.lift(request.auth, credential_id)
    return credential_out(credential)


@router.post("/trusted-regions", response={201: TrustedRegionOut}, summary="Import another region's trust list")
def import_region(request, payload: TrustListImportIn):
    with transaction.atomic():
        row = services.import_trust_list(request.auth, payload.token, payload.root_jwk, payload.region)
    return Status(201, {"region": row.region, "name": row.name, "sequence": row.sequence,
                        "imported_at": row.imported_at.isoformat()})


@router.delete("/trusted-regions/{region}", response={204: None}, summary="Stop trusting a region")
def remove_region(request, region: str):
    with transaction.atomic():
        services.remove_region(request.auth, region)
    return Status(204, None)


@me_router.get("/me/credentials", response=list[CredentialOut], summary="My credentials (wallet)")
def my_credentials(request):
    return [credential_out(c) for c in services.my_credentials(request.auth).select_related("citizen", "enterprise")]


@me_router.post("/me/credentials/{credential_id}/present", response={201: PresentationOut},
                summary="Present one of my credentials in an application (a short-lived, one-time token)")
def present(request, credential_id: UUID, payload: PresentIn):
    with transaction.atomic():
        presentation = services.present(request.auth, credential_id, audience=payload.audience,
                                        purpose=payload.purpose)
    return Status(201, presentation_out(presentation))


def presentation_out(presentation) -> dict:
    return {"id": str(presentation.pk), "credential": str(presentation.credential_id),
            "audience": presentation.audience, "purpose": presentation.purpose,
            "expires_at": presentation.expires_at.isoformat(), "token": presentation.token}
