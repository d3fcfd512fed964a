"""办结: an approved application is completed — with the certificate the item produces, if any,
issued into the applicant's wallet.

The certificate is issued by the department that issues its type (``issue_credential`` requires
it; normally the implementing department) acting as a system actor with the
``credentials:issue`` scope, ``system:onestop``. Its fields are taken from the application:
a field bound to a government record from that record only, any other from a fetched
government record item of the same key, else from the form value of the same key. Issuing runs in a savepoint: when the applicant
already holds a certificate of a type that allows only one, the application completes citing
it; any other failure (a required field missing, an unknown type) leaves the application
``approved`` with the reason in its timeline, for an official to complete it later (``complete``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from tongban.core.errors import Conflict, DomainError
from tongban.credentials import services as credentials
from tongban.credentials.models import CertificateType, Credential
from tongban.identity.access import Actor
from tongban.onestop.models import Application
from tongban.onestop.services import prefill as prefilling
from tongban.onestop.services import transitions
from tongban.onestop.services.transitions import S

logger = logging.getLogger("tongban.onestop")
ISSUER = "system:onestop"
HELD = "申请人已持有有效的同类证照 / the applicant already holds a valid certificate of this type"


def issuer(type_: CertificateType) -> Actor:
    department = type_.department
    return Actor(kind="system", username=ISSUER, department_id=department.pk, department_code=department.code,
                 scopes=frozenset({"credentials:issue"}))


def certificate_fields(type_: CertificateType, application: Application) -> dict[str, Any]:
    """A field bound to a government record takes the record's value only (none: left out); other
    fields take a fetched record item of the same key, else the form value."""
    form = application.form or {}
    prefilled = application.prefilled or {}
    bound = prefilling.bound_fields(application.item)
    records = prefilling.fetched_data(application)
    fields: dict[str, Any] = {}
    for spec in type_.fields or []:
        key = spec.get("key")
        if key in bound:
            value = (prefilled.get(key) or {}).get("value")
        else:
            value = next((r[key] for r in records.values() if r.get(key) not in (None, "")), None)
            if value is None or value == "":
                value = form.get(key)
        if value is None or value == "":
            continue
        fields[key] = value if isinstance(value, (str, int, bool)) else str(value)
    return fields


def _existing(type_: CertificateType, application: Application) -> Credential | None:
    holder = "citizen__id_number" if type_.holder_kind == CertificateType.HolderKind.CITIZEN else "enterprise__uscc"
    return Credential.objects.filter(type=type_, revoked_at__isnull=True, **{holder: application.subject}).first()


def issue_certificate(application: Application) -> tuple[bool, str]:
    """Issue the item's certificate (if any) and store its id: ``(done, note)``."""
    code = application.item.certificate_type
    if not code or application.credential_id:
        return True, ""
    type_ = CertificateType.objects.select_related("department").filter(code=code).first()
    if type_ is None:
        return False, f"证照类型 {code} 不存在 / unknown certificate type {code}"
    existing = None if type_.multiple_allowed else _existing(type_, application)
    if existing is not None:
        application.credential_id = existing.pk
        return True, HELD
    try:
        with transaction.atomic():
            credential = credentials.issue_credential(issuer(type_), code, application.subject,
                                                      certificate_fields(type_, application))
    except Conflict as error:  # e.g. issued concurrently in between
        existing = _existing(type_, application) if error.code == "already_issued" else None
        if existing is None:
            return False, f"{error.message_zh} / {error.message_en}"
        application.credential_id = existing.pk
        return True, HELD
    except DomainError as error:
        logger.warning("application %s: certificate not issued (%s)", application.number, error.code)
        return False, f"{error.message_zh} / {error.message_en} {error.details or ''}".strip()
    application.credential_id = credential.pk
    return True, ""


def complete(application: Application, *, actor: str, department: str | None) -> Application:
    """approved → completed (issuing the certificate); stays approved with a note when it cannot."""
    if application.status != S.APPROVED:
        raise transitions.illegal(application, S.COMPLETED)
    done, note = issue_certificate(application)
    if not done:
        transitions.event(application, S.APPROVED, S.APPROVED, actor,
                          f"证照未能签发，待工作人员办结：{note}")
        return application
    credential = str(application.credential_id) if application.credential_id else None
    return transitions.move(application, S.COMPLETED, actor=actor, department=department, note=note,
                            payload={"credential": credential, "certificate_type": application.item.certificate_type
                                     or None}, extra_fields=("credential_id",))


def approve_and_complete(application: Application, *, actor: str, department: str | None, note: str = "",
                         payload: dict | None = None, extra_fields: tuple[str, ...] = ()) -> Application:
    transitions.move(application, S.APPROVED, actor=actor, department=department, note=note, payload=payload,
                     extra_fields=extra_fields)
    return complete(application, actor=actor, department=department)
