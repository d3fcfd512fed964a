"""Verifying a presented credential on this node, and recording who verified it.

``verify`` only reads (and may refresh the shared cache of another region's status list, see
``status``); ``record_verification`` writes the ``Verification`` row the holder sees in the wallet
and its ledger entry, in the caller's transaction, which the caller opens after ``verify``
returned, so no transaction is held while another region's status list is fetched.
"""

from __future__ import annotations

import time
import uuid

from tongban.credentials.models import Credential, Verification
from tongban.credentials.services.status import NodeStatusLookup
from tongban.credentials.services.trust import trust_store
from tongban.credentials.verify import VerificationResult, verify_credential
from tongban.identity.access import Actor
from tongban.identity.models import Department
from tongban.ledger import services as ledger


def verify(text: str | bytes, *, now: float | None = None) -> VerificationResult:
    """Every check of ``text`` (a VC-JWT or a ``TB1:`` QR text) against this node's trust store."""
    now = time.time() if now is None else now
    store = trust_store()
    return verify_credential(text, store, NodeStatusLookup(store, now), now)


def local_credential(result: VerificationResult) -> Credential | None:
    """The credential of this node that ``result`` is about (its signature verified), if any."""
    if not result.checks.get("signature", {}).get("ok"):
        return None
    credential_id = str(result.claims.get("id") or "")
    if not credential_id.startswith("urn:uuid:"):
        return None
    try:
        pk = uuid.UUID(credential_id[9:])
    except ValueError:
        return None
    return Credential.objects.select_related("citizen", "enterprise").filter(pk=pk).first()


def record_verification(actor: Actor | None, result: VerificationResult) -> Verification | None:
    """Records a signed-in verifier's check of one of this node's credentials (shown to the holder).

    Nothing for anonymous verifiers or credentials of other nodes. In the caller's transaction.
    """
    if actor is None or not actor.is_authenticated:
        return None
    local = local_credential(result)
    if local is None:
        return None
    department = Department.objects.filter(pk=actor.department_id).first() if actor.department_id else None
    verification = Verification.objects.create(credential=local, verifier=actor.username,
                                               department=department.name if department else "",
                                               valid=result.valid)
    ledger.record(actor=actor.username, action="credentials.verified", subject=f"credential:{local.pk}",
                  payload={"valid": result.valid}, department=actor.department_code,
                  subject_ids=[local.holder_identifier])
    return verification
