"""Issuing, revoking, suspending and verifying credentials; publishing and importing trust lists.

Holder binding (a deliberate choice): the credential subject carries the holder's **name**, the
holder's identifier **masked** (ID number ``330***********1234``, USCC ``9133************12``),
and ``id`` = ``urn:tongban:subject:<HMAC-SHA256(node subject secret, identifier)>``. A verifier
at the counter compares the name and the masked number with the holder's ID card / licence; this
node (which holds the secret) can also match the subject id to a record. The full identifier is
never put into the credential, so a lost QR does not leak it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.credentials import issuer_keys, qr
from tongban.credentials.keys import CredentialError, public_key_from_jwk
from tongban.credentials.models import (
    STATUS_LIST_SIZE,
    CertificateType,
    Credential,
    StatusListRow,
    TrustedRegion,
    Verification,
)
from tongban.credentials.statuslist import StatusList, status_entry
from tongban.credentials.trustlist import (
    TrustList,
    TrustStore,
    build_trust_list,
    issuer_entry,
    open_trust_list,
    sign_trust_list,
)
from tongban.credentials.vc import format_datetime, issue_vc_jwt
from tongban.credentials.verify import VerificationResult, verify_credential
from tongban.identity.access import Actor, require_authenticated, require_role
from tongban.identity.models import Citizen, Department, Enterprise, Region
from tongban.identity.validators import mask_id_number, mask_uscc
from tongban.ledger import services as ledger
from tongban.ledger.canonical import keyed_subject_hash
from tongban.ledger.keystore import subject_secret

ISSUE_ROLES = ("clerk", "approver", "steward")
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
STATUS_TTL_MS = 300_000
TRUST_LIST_DAYS = 90


# --- helpers ----------------------------------------------------------------------------------


def mask_identifier(identifier: str, kind: str = "citizen") -> str:
    """The identifier as shown on the credential: ID numbers first 3 and last 4, USCCs first 2 and last 4."""
    return mask_id_number(identifier) if kind == "citizen" else mask_uscc(identifier)


def subject_id(identifier: str) -> str:
    return f"urn:tongban:subject:{keyed_subject_hash(subject_secret(), identifier)}"


def status_url(purpose: str, list_id: int) -> str:
    return f"{issuer_keys.base_url()}/api/v1/credentials/status/{purpose}/{list_id}"


_STATUS_URL = re.compile(r"/api/v1/credentials/status/(revocation|suspension)/(\d+)$")


def _acting_department(actor: Actor) -> None:
    require_authenticated(actor)
    if actor.kind == "system":
        if not actor.allows("credentials:issue"):
            raise PermissionDenied("该应用凭证无此权限范围", "This system token lacks the scope",
                                   details={"required_scope": "credentials:issue"})
    elif actor.kind == "official":
        require_role(actor, *ISSUE_ROLES)
    else:
        raise PermissionDenied(details={"required_role": sorted(ISSUE_ROLES)})
    if actor.department_id is None:
        raise PermissionDenied()


def _allocate(purpose: str) -> tuple[int, int]:
    """A free index of the current list of ``purpose`` (a new list when it is full)."""
    row = (StatusListRow.objects.select_for_update().filter(purpose=purpose, next_index__lt=STATUS_LIST_SIZE)
           .order_by("list_id").first())
    if row is None:
        last = StatusListRow.objects.filter(purpose=purpose).order_by("-list_id").first()
        row = StatusListRow.objects.create(purpose=purpose, list_id=(last.list_id + 1) if last else 1,
                                           bits=bytes(STATUS_LIST_SIZE // 8), size=STATUS_LIST_SIZE)
        row = StatusListRow.objects.select_for_update().get(pk=row.pk)
    index = row.next_index
    row.next_index = index + 1
    row.save(update_fields=["next_index", "updated_at"])
    return row.list_id, index


def _set_bit(purpose: str, list_id: int, index: int, value: bool) -> None:
    row = StatusListRow.objects.select_for_update().get(purpose=purpose, list_id=list_id)
    status_list = StatusList._from_bytes(bytes(row.bits), (purpose,), STATUS_TTL_MS)
    status_list.set(index, value)
    row.bits = status_list.to_bytes()
    row.save(update_fields=["bits", "updated_at"])


def _holder(type_: CertificateType, holder: str) -> Citizen | Enterprise:
    model = Citizen if type_.holder_kind == CertificateType.HolderKind.CITIZEN else Enterprise
    field = "id_number" if model is Citizen else "uscc"
    found = model.objects.filter(**{field: (holder or "").strip().upper()}).first()
    if found is None:
        raise InvalidInput("持证人不存在", "No such holder", code="unknown_holder")
    return found


def _validate_fields(type_: CertificateType, fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise InvalidInput("证照字段无效", "Invalid certificate fields", code="invalid_fields")
    known = {f["key"]: f for f in type_.fields}
    problems = {}
    for key, value in fields.items():
        if key not in known:
            problems[key] = "unknown field"
        elif value is not None and not isinstance(value, (str, int, bool)):
            problems[key] = "text, integer, boolean or null"
        elif isinstance(value, str) and len(value) > 200:
            problems[key] = "at most 200 characters"
    for key, spec in known.items():
        if spec.get("required") and fields.get(key) in (None, ""):
            problems[key] = "required"
    if problems:
        raise InvalidInput("证照字段无效", "Invalid certificate fields", code="invalid_fields", details=problems)
    return {key: fields[key] for key in known if key in fields}


# --- issuing ------------------------------------------------------------------------------------


@transaction.atomic
def issue_credential(actor: Actor, type_code: str, holder_id_or_uscc: str, fields: dict[str, Any]) -> Credential:
    """Issues a credential of ``type_code`` to a citizen (ID number) or enterprise (USCC).

    Officials (clerk, approver or steward) of the issuing department, or a system token of that
    department with the ``credentials:issue`` scope. Atomic (joins the caller's transaction).
    """
    _acting_department(actor)
    type_ = CertificateType.objects.select_related("department").filter(code=type_code).first()
    if type_ is None or type_.department_id != actor.department_id:
        raise NotFound("没有这种证照类型", "No such certificate type")
    holder = _holder(type_, holder_id_or_uscc)
    subject = _validate_fields(type_, fields)
    holder_field = "citizen" if isinstance(holder, Citizen) else "enterprise"
    if not type_.multiple_allowed and Credential.objects.filter(
            type=type_, revoked_at__isnull=True, **{holder_field: holder}).exists():
        raise Conflict("持证人已有此类证照", "The holder already has this certificate", code="already_issued")
    identifier = holder.id_number if isinstance(holder, Citizen) else holder.uscc
    now = timezone.now().replace(microsecond=0)
    valid_until = now + dt.timedelta(days=type_.validity_days) if type_.validity_days else None
    rev_list, rev_index = _allocate("revocation")
    sus_list, sus_index = _allocate("suspension")
    credential_id = uuid.uuid4()
    department = type_.department
    issuer = issuer_keys.issuer_id(department.code)
    key = issuer_keys.issuer_key(department.code)
    shown = {"name": holder.name, "identifier": mask_identifier(identifier, holder_field), **subject}
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": f"urn:uuid:{credential_id}",
        "type": ["VerifiableCredential", "TongbanCertificate"],
        "issuer": {"id": issuer, "name": department.name},
        "name": type_.name,
        "validFrom": format_datetime(now),
        "credentialSubject": {"id": subject_id(identifier),
                              "type": "Person" if holder_field == "citizen" else "Organization",
                              "certificateType": type_.code, **shown},
        "credentialStatus": [status_entry("revocation", rev_index, status_url("revocation", rev_list)),
                             status_entry("suspension", sus_index, status_url("suspension", sus_list))],
    }
    if valid_until:
        document["validUntil"] = format_datetime(valid_until)
    claims = {
        "id": document["id"], "issuer": issuer, "type": type_.code, "subject_id": subject_id(identifier),
        "subject": shown, "valid_from": int(now.timestamp()), "issued_at": int(now.timestamp()),
        "valid_until": int(valid_until.timestamp()) if valid_until else None,
        "status": [{"purpose": "revocation", "index": rev_index, "list": status_url("revocation", rev_list)},
                   {"purpose": "suspension", "index": sus_index, "list": status_url("suspension", sus_list)}],
    }
    credential = Credential.objects.create(
        id=credential_id, type=type_, subject=subject, issued_at=now, valid_until=valid_until,
        revocation_list=rev_list, revocation_index=rev_index, suspension_list=sus_list, suspension_index=sus_index,
        vc_jwt=issue_vc_jwt(document, key), qr_text=qr.encode_qr_text(claims, key), issued_by=actor.username,
        **{holder_field: holder})
    ledger.record(actor=actor.username, action="credentials.issued", subject=f"credential:{credential_id}",
                  payload={"type": type_.code}, department=department.code, subject_ids=[identifier])
    return credential


def _credential_for_official(actor: Actor, credential_id) -> Credential:
    _acting_department(actor)
    found = Credential.objects.select_related("type", "citizen", "enterprise").filter(pk=credential_id).first()
    if found is None or found.type.department_id != actor.department_id:
        raise NotFound("没有这个证照", "No such credential")
    return found


def _status_event(actor: Actor, credential: Credential, action: str) -> None:
    ledger.record(actor=actor.username, action=action, subject=f"credential:{credential.pk}",
                  payload={"type": credential.type.code}, department=actor.department_code,
                  subject_ids=[credential.holder_identifier])


@transaction.atomic
def revoke(actor: Actor, credential_id, reason: str = "") -> Credential:
    credential = _credential_for_official(actor, credential_id)
    if credential.revoked_at:
        raise Conflict("证照已注销", "The credential is already revoked", code="already_revoked")
    _set_bit("revocation", credential.revocation_list, credential.revocation_index, True)
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    _status_event(actor, credential, "credentials.revoked")
    return credential


@transaction.atomic
def suspend(actor: Actor, credential_id) -> Credential:
    credential = _credential_for_official(actor, credential_id)
    if credential.revoked_at or credential.suspended:
        raise Conflict("证照已注销或已暂停", "The credential is revoked or already suspended", code="not_active")
    _set_bit("suspension", credential.suspension_list, credential.suspension_index, True)
    credential.suspended = True
    credential.save(update_fields=["suspended"])
    _status_event(actor, credential, "credentials.suspended")
    return credential


@transaction.atomic
def lift(actor: Actor, credential_id) -> Credential:
    credential = _credential_for_official(actor, credential_id)
    if credential.revoked_at or not credential.suspended:
        raise Conflict("证照未被暂停", "The credential is not suspended", code="not_suspended")
    _set_bit("suspension", credential.suspension_list, credential.suspension_index, False)
    credential.suspended = False
    credential.save(update_fields=["suspended"])
    _status_event(actor, credential, "credentials.suspension_lifted")
    return credential


def my_credentials(actor: Actor):
    require_authenticated(actor)
    base = Credential.objects.select_related("type", "type__department")
    if actor.kind == "citizen":
        return base.filter(citizen__user_id=actor.user_id)
    if actor.kind == "enterprise":
        return base.filter(enterprise__user_id=actor.user_id)
    raise PermissionDenied(details={"required_kind": ["citizen", "enterprise"]})


def my_credential(actor: Actor, credential_id) -> Credential:
    found = my_credentials(actor).filter(pk=credential_id).first()
    if found is None:
        raise NotFound("没有这个证照", "No such credential")
    return found


# --- trust lists and verification -----------------------------------------------------------


def _issuing_departments():
    return Department.objects.filter(
        Q(certificate_types__isnull=False)).distinct().order_by("code")


def local_trust_document(now: float | None = None) -> dict[str, Any]:
    from django.conf import settings

    now = time.time() if now is None else now
    entries = [issuer_entry(issuer_keys.issuer_id(d.code), issuer_keys.issuer_key(d.code), department=d.name)
               for d in _issuing_departments()]
    entries.append(issuer_entry(issuer_keys.issuer_id(issuer_keys.STATUS_ISSUER), issuer_keys.status_key(),
                                department="status lists"))
    region = settings.TONGBAN_REGION
    region_row = Region.objects.filter(code=region).first()
    return build_trust_list(region, entries, region_name=region_row.name if region_row else "",
                            sequence=int(now), issued_at=now - 60, valid_until=now + TRUST_LIST_DAYS * 86400)


def published_trust_list() -> str:
    """The node's trust list, signed with the region root key."""
    return sign_trust_list(local_trust_document(), issuer_keys.root_key())


def root_public_jwk() -> dict[str, Any]:
    return issuer_keys.root_key().public_key().public_jwk()


def trust_store() -> TrustStore:
    store = TrustStore(TrustList.from_document(local_trust_document()))
    for row in TrustedRegion.objects.filter(removed_at__isnull=True):
        try:
            store.import_token(row.token, row.root_jwk, region=row.region)
        except CredentialError:
            continue  # an expired or no longer valid list stops trust at once
    return store


def local_status_list(purpose: str, list_id: int) -> StatusList | None:
    row = StatusListRow.objects.filter(purpose=purpose, list_id=list_id).first()
    if row is None:
        return None
    return StatusList._from_bytes(bytes(row.bits), (purpose,), STATUS_TTL_MS)


def _status_lookup(url: str) -> StatusList | None:
    """Local lists from the database; other regions' lists are not fetched (fail closed)."""
    prefix = issuer_keys.base_url()
    match = _STATUS_URL.search(url)
    if not url.startswith(prefix + "/") or match is None:
        return None
    return local_status_list(match.group(1), int(match.group(2)))


def status_list_credential(purpose: str, list_id: int) -> str:
    status_list = local_status_list(purpose, list_id)
    if status_list is None:
        raise NotFound("没有这个状态列表", "No such status list")
    document = status_list.to_credential(status_url(purpose, list_id),
                                         issuer_keys.issuer_id(issuer_keys.STATUS_ISSUER))
    return issue_vc_jwt(document, issuer_keys.status_key())


def verify(text: str | bytes, *, verifier_actor: Actor | None = None) -> VerificationResult:
    result = verify_credential(text, trust_store(), _status_lookup)
    if verifier_actor is not None and verifier_actor.is_authenticated and result.checks.get("signature", {}).get("ok"):
        credential_id = str(result.claims.get("id") or "")
        local = None
        if credential_id.startswith("urn:uuid:"):
            try:
                local = Credential.objects.select_related("citizen", "enterprise").filter(
                    pk=uuid.UUID(credential_id[9:])).first()
            except ValueError:
                local = None
        if local is not None:
            department = Department.objects.filter(pk=verifier_actor.department_id).first()
            with transaction.atomic():
                Verification.objects.create(credential=local, verifier=verifier_actor.username,
                                            department=department.name if department else "", valid=result.valid)
                ledger.record(actor=verifier_actor.username, action="credentials.verified",
                              subject=f"credential:{local.pk}", payload={"valid": result.valid},
                              department=verifier_actor.department_code, subject_ids=[local.holder_identifier])
    return result


def _require_bureau(actor: Actor) -> None:
    require_role(actor, "bureau_admin")
    if not actor.is_bureau:
        raise PermissionDenied()


@transaction.atomic
def import_trust_list(actor: Actor, token: str, root_jwk: dict[str, Any], region: str | None = None) -> TrustedRegion:
    """The bureau imports another region's list after checking it against that region's pinned root key."""
    _require_bureau(actor)
    try:
        trust_list = open_trust_list(token, public_key_from_jwk(root_jwk), region=region)
    except CredentialError as exc:
        raise InvalidInput(exc.message_zh, exc.message_en, code=exc.code) from None
    from django.conf import settings

    if trust_list.region == settings.TONGBAN_REGION:
        raise InvalidInput("不能导入本地区的信任列表", "This is the local region", code="local_region")
    TrustedRegion.objects.filter(region=trust_list.region, removed_at__isnull=True).update(removed_at=timezone.now())
    row = TrustedRegion.objects.create(region=trust_list.region, name=trust_list.region_name, root_jwk=root_jwk,
                                       token=token, sequence=trust_list.sequence, imported_at=timezone.now(),
                                       imported_by=actor.username)
    ledger.record(actor=actor.username, action="credentials.trust_list_imported", subject=f"region:{row.region}",
                  payload={"sequence": trust_list.sequence, "issuers": len(trust_list.issuers)},
                  department=actor.department_code)
    return row


@transaction.atomic
def remove_region(actor: Actor, region: str) -> int:
    _require_bureau(actor)
    removed = TrustedRegion.objects.filter(region=region, removed_at__isnull=True).update(removed_at=timezone.now())
    if not removed:
        raise NotFound("没有导入这个地区", "This region is not imported")
    ledger.record(actor=actor.username, action="credentials.trust_list_removed", subject=f"region:{region}",
                  department=actor.department_code)
    return removed


def trusted_regions():
    return TrustedRegion.objects.filter(removed_at__isnull=True)
