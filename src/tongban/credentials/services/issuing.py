"""Issuing, revoking, suspending and lifting credentials; the holder's own credentials.

Each use case runs in the caller's transaction (the API, the page, the command or the one-stop
service that calls it opens it) and writes its ledger entry there, so the change and the entry
commit together. They lock status-list rows with ``select_for_update``, which PostgreSQL refuses
outside a transaction: a caller that forgets the transaction fails loudly there.

Status-list indexes: ``_allocate`` takes the lowest list of the purpose that is not full, locked
(``select_for_update``), and moves its ``next_index`` on, so two issues never share an index.
When there is no such list it creates the next one; two first issues racing to create the same
list meet the unique constraint (purpose, list number), and the loser retries inside a savepoint
and then finds the winner's row. ``Credential`` also has a unique constraint on each (list,
index) pair, so a bug here fails an issue rather than tying two credentials to one bit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.credentials import issuer_keys, qr
from tongban.credentials.models import STATUS_LIST_SIZE, CertificateType, Credential, StatusListRow
from tongban.credentials.services.common import (
    STATUS_TTL_MS,
    VC_CONTEXT,
    acting_department,
    mask_identifier,
    status_url,
    subject_id,
)
from tongban.credentials.statuslist import StatusList, status_entry
from tongban.credentials.vc import format_datetime, issue_vc_jwt
from tongban.identity.access import Actor, require_authenticated
from tongban.identity.models import Citizen, Enterprise
from tongban.ledger import services as ledger

ALLOCATE_ATTEMPTS = 5


def _new_list(purpose: str, list_id: int) -> None:
    """Creates list ``list_id`` of ``purpose``; IntegrityError when a concurrent issue created it first."""
    # A savepoint, so that losing the race leaves the caller's transaction usable for the retry.
    with transaction.atomic():
        StatusListRow.objects.create(purpose=purpose, list_id=list_id, bits=bytes(STATUS_LIST_SIZE // 8),
                                     size=STATUS_LIST_SIZE)


def _allocate(purpose: str) -> tuple[int, int]:
    """A free index of the current list of ``purpose`` (a new list when it is full)."""
    for _attempt in range(ALLOCATE_ATTEMPTS):
        row = (StatusListRow.objects.select_for_update().only("pk", "list_id", "next_index")
               .filter(purpose=purpose, next_index__lt=STATUS_LIST_SIZE).order_by("list_id").first())
        if row is None:
            last = (StatusListRow.objects.filter(purpose=purpose).order_by("-list_id")
                    .values_list("list_id", flat=True).first())
            try:
                _new_list(purpose, (last or 0) + 1)
            except IntegrityError:
                pass  # another issue created that list first: take an index of it on the next round
            continue
        index = row.next_index
        row.next_index = index + 1
        row.save(update_fields=["next_index", "updated_at"])
        return row.list_id, index
    raise Conflict("状态列表繁忙，请重试", "The status lists are busy; try again", code="status_list_busy")


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


def issue_credential(actor: Actor, type_code: str, holder_id_or_uscc: str, fields: dict[str, Any]) -> Credential:
    """Issues a credential of ``type_code`` to a citizen (ID number) or enterprise (USCC).

    Officials (clerk, approver or steward) of the issuing department, or a system token of that
    department with the ``credentials:issue`` scope. Runs in the caller's transaction.
    """
    acting_department(actor)
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
    acting_department(actor)
    found = Credential.objects.select_related("type", "citizen", "enterprise").filter(pk=credential_id).first()
    if found is None or found.type.department_id != actor.department_id:
        raise NotFound("没有这个证照", "No such credential")
    return found


def _status_event(actor: Actor, credential: Credential, action: str) -> None:
    ledger.record(actor=actor.username, action=action, subject=f"credential:{credential.pk}",
                  payload={"type": credential.type.code}, department=actor.department_code,
                  subject_ids=[credential.holder_identifier])


def revoke(actor: Actor, credential_id, reason: str = "") -> Credential:
    """Revokes for good (the revocation bit is set). In the caller's transaction."""
    credential = _credential_for_official(actor, credential_id)
    if credential.revoked_at:
        raise Conflict("证照已注销", "The credential is already revoked", code="already_revoked")
    _set_bit("revocation", credential.revocation_list, credential.revocation_index, True)
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    _status_event(actor, credential, "credentials.revoked")
    return credential


def suspend(actor: Actor, credential_id) -> Credential:
    """Suspends (the suspension bit is set until ``lift``). In the caller's transaction."""
    credential = _credential_for_official(actor, credential_id)
    if credential.revoked_at or credential.suspended:
        raise Conflict("证照已注销或已暂停", "The credential is revoked or already suspended", code="not_active")
    _set_bit("suspension", credential.suspension_list, credential.suspension_index, True)
    credential.suspended = True
    credential.save(update_fields=["suspended"])
    _status_event(actor, credential, "credentials.suspended")
    return credential


def lift(actor: Actor, credential_id) -> Credential:
    """Lifts a suspension. In the caller's transaction."""
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
