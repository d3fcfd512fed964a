"""Identity API: tokens, registration, the current account, system tokens, officials."""

from __future__ import annotations

from django.db import transaction
from ninja import Router, Status

from tongban.identity import services, tokens
from tongban.identity.models import AccessToken, User
from tongban.identity.schemas import (
    AccountOut,
    CitizenIn,
    EnterpriseIn,
    MeOut,
    OfficialIn,
    OfficialOut,
    PasswordChangeIn,
    RolesIn,
    SystemTokenCreatedOut,
    SystemTokenIn,
    SystemTokenOut,
    TokenIn,
    TokenOut,
)

auth_router = Router(tags=["auth"])
me_router = Router(tags=["me"])
router = Router(tags=["identity"])


@auth_router.post("/token", response=TokenOut, auth=None, summary="Log in: a short-lived bearer token")
def token(request, payload: TokenIn):
    # No transaction around the whole call: a failed attempt must stay recorded (lockout
    # counting) although the request fails. login_for_token commits the token on its own.
    issued = tokens.login_for_token(request, payload.username, payload.password, payload.otp)
    return {"access_token": issued.key, "token_type": "Bearer", "expires_in": issued.expires_in}


@auth_router.post("/logout", response={204: None}, summary="Revoke the bearer token of this call")
def logout(request):
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        tokens.revoke_user_token(header[7:].strip())
    return Status(204, None)


@me_router.get("/me", response=MeOut, summary="The calling account")
def me(request):
    return services.profile(request.auth)


@me_router.post("/me/password", response={204: None}, summary="Change my password")
def change_password(request, payload: PasswordChangeIn):
    with transaction.atomic():
        services.change_password(request.auth, old_password=payload.old_password, new_password=payload.new_password)
    return Status(204, None)


@router.post("/citizens", response={201: AccountOut}, auth=None, summary="Register a citizen account")
def register_citizen(request, payload: CitizenIn):
    with transaction.atomic():
        user = services.register_citizen(**payload.dict())
    return Status(201, user)


@router.post("/enterprises", response={201: AccountOut}, auth=None, summary="Register an enterprise account")
def register_enterprise(request, payload: EnterpriseIn):
    with transaction.atomic():
        user = services.register_enterprise(**payload.dict())
    return Status(201, user)


def _token_out(token: AccessToken) -> dict:
    return {
        "id": token.pk, "name": token.name, "prefix": token.prefix, "department": token.department.code,
        "scopes": token.scopes, "created_at": token.created_at.isoformat(),
        "expires_at": token.expires_at.isoformat(), "revoked": token.revoked_at is not None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


@router.get("/tokens", response=list[SystemTokenOut], summary="My department's system tokens")
def list_tokens(request):
    return [_token_out(t) for t in tokens.list_system_tokens(request.auth)]


@router.post("/tokens", response={201: SystemTokenCreatedOut}, summary="Create a system token (shown once)")
def create_token(request, payload: SystemTokenIn):
    with transaction.atomic():
        issued = tokens.create_system_token(request.auth, name=payload.name, scopes=payload.scopes,
                                            expires_in_days=payload.expires_in_days)
    return Status(201, {**_token_out(issued.token), "access_token": issued.key})


@router.post("/tokens/{token_id}/revoke", response=SystemTokenOut, summary="Revoke a system token")
def revoke_token(request, token_id: int):
    with transaction.atomic():
        token = tokens.revoke_token(request.auth, token_id)
    return _token_out(token)


def _official_out(user: User) -> dict:
    return {"username": user.username, "full_name": user.full_name, "department": user.department.code,
            "roles": sorted(r.role for r in user.role_assignments.all()), "is_active": user.is_active}


@router.get("/officials", response=list[OfficialOut], summary="Officials of a department")
def list_officials(request, department: str | None = None):
    return [_official_out(u) for u in services.list_officials(request.auth, department)]


@router.post("/officials", response={201: OfficialOut}, summary="Create an official")
def create_official(request, payload: OfficialIn):
    with transaction.atomic():
        user = services.create_official(request.auth, username=payload.username, full_name=payload.full_name,
                                        password=payload.password, roles=payload.roles,
                                        department_code=payload.department, phone=payload.phone)
    return Status(201, _official_out(user))


@router.put("/officials/{username}/roles", response=OfficialOut, summary="Set an official's roles")
def set_roles(request, username: str, payload: RolesIn):
    with transaction.atomic():
        services.set_roles(request.auth, username, payload.roles)
    return _official_out(User.objects.select_related("department").get(username=username))
