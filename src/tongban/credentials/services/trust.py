"""The node's signed trust list, and the bureau importing and removing other regions' lists (互认).

The published list declares ``status_origins``: the origin of this node's public URL, where its
status lists are served, so other nodes fetch them from there only (see ``trustlist``).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.credentials import issuer_keys
from tongban.credentials.keys import CredentialError, public_key_from_jwk
from tongban.credentials.models import RemoteStatusList, TrustedRegion
from tongban.credentials.services.common import TRUST_LIST_DAYS
from tongban.credentials.trustlist import (
    TrustList,
    build_trust_list,
    issuer_entry,
    open_trust_list,
    sign_trust_list,
    url_origin,
)
from tongban.credentials.truststore import TrustStore
from tongban.identity.access import Actor, require_role
from tongban.identity.models import Department, Region
from tongban.ledger import services as ledger


def _issuing_departments():
    return Department.objects.filter(certificate_types__isnull=False).distinct().order_by("code")


def local_trust_document(now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    entries = [issuer_entry(issuer_keys.issuer_id(d.code), issuer_keys.issuer_key(d.code), department=d.name)
               for d in _issuing_departments()]
    entries.append(issuer_entry(issuer_keys.issuer_id(issuer_keys.STATUS_ISSUER), issuer_keys.status_key(),
                                department="status lists"))
    region = settings.TONGBAN_REGION
    region_row = Region.objects.filter(code=region).first()
    origin = url_origin(issuer_keys.base_url())
    return build_trust_list(region, entries, region_name=region_row.name if region_row else "",
                            sequence=int(now), issued_at=now - 60, valid_until=now + TRUST_LIST_DAYS * 86400,
                            status_origins=[origin] if origin else [])


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


def _require_bureau(actor: Actor) -> None:
    require_role(actor, "bureau_admin")
    if not actor.is_bureau:
        raise PermissionDenied()


def import_trust_list(actor: Actor, token: str, root_jwk: dict[str, Any], region: str | None = None) -> TrustedRegion:
    """The bureau imports another region's list after checking it against that region's pinned root key.

    In the caller's transaction, with its ledger entry.
    """
    _require_bureau(actor)
    try:
        trust_list = open_trust_list(token, public_key_from_jwk(root_jwk), region=region)
    except CredentialError as exc:
        raise InvalidInput(exc.message_zh, exc.message_en, code=exc.code) from None
    if trust_list.region == settings.TONGBAN_REGION:
        raise InvalidInput("不能导入本地区的信任列表", "This is the local region", code="local_region")
    try:  # no key, issuer or status origin of another region (or of this one) may be claimed
        trust_store().import_region(trust_list)
    except CredentialError as exc:
        raise InvalidInput(exc.message_zh, exc.message_en, code=exc.code) from None
    TrustedRegion.objects.filter(region=trust_list.region, removed_at__isnull=True).update(removed_at=timezone.now())
    row = TrustedRegion.objects.create(region=trust_list.region, name=trust_list.region_name, root_jwk=root_jwk,
                                       token=token, sequence=trust_list.sequence, imported_at=timezone.now(),
                                       imported_by=actor.username)
    ledger.record(actor=actor.username, action="credentials.trust_list_imported", subject=f"region:{row.region}",
                  payload={"sequence": trust_list.sequence, "issuers": len(trust_list.issuers),
                           "status_origins": list(trust_list.status_origins)},
                  department=actor.department_code)
    return row


def remove_region(actor: Actor, region: str) -> int:
    """Stops trusting a region at once (and forgets its cached status lists). In the caller's transaction."""
    _require_bureau(actor)
    removed = TrustedRegion.objects.filter(region=region, removed_at__isnull=True).update(removed_at=timezone.now())
    if not removed:
        raise NotFound("没有导入这个地区", "This region is not imported")
    RemoteStatusList.objects.filter(region=region).delete()
    ledger.record(actor=actor.username, action="credentials.trust_list_removed", subject=f"region:{region}",
                  department=actor.department_code)
    return removed


def trusted_regions():
    return TrustedRegion.objects.filter(removed_at__isnull=True)
