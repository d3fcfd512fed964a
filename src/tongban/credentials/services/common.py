"""What the credential use cases share: holder masking and subject ids, status URLs, who may issue."""

from __future__ import annotations

import re

from tongban.core.errors import PermissionDenied
from tongban.credentials import issuer_keys
from tongban.identity.access import Actor, require_authenticated, require_role
from tongban.identity.validators import mask_id_number, mask_uscc
from tongban.ledger.canonical import keyed_subject_hash
from tongban.ledger.keystore import subject_secret

ISSUE_ROLES = ("clerk", "approver", "steward")
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
STATUS_TTL_MS = 300_000
TRUST_LIST_DAYS = 90
STATUS_URL = re.compile(r"/api/v1/credentials/status/(revocation|suspension)/(\d+)$")


def mask_identifier(identifier: str, kind: str = "citizen") -> str:
    """The identifier as shown on the credential: ID numbers first 3 and last 4, USCCs first 2 and last 4."""
    return mask_id_number(identifier) if kind == "citizen" else mask_uscc(identifier)


def subject_id(identifier: str) -> str:
    return f"urn:tongban:subject:{keyed_subject_hash(subject_secret(), identifier)}"


def status_url(purpose: str, list_id: int) -> str:
    return f"{issuer_keys.base_url()}/api/v1/credentials/status/{purpose}/{list_id}"


def local_status_ref(url: str) -> tuple[str, int] | None:
    """``(purpose, list number)`` when ``url`` is one of this node's status lists, else None."""
    match = STATUS_URL.search(url)
    if not url.startswith(issuer_keys.base_url() + "/") or match is None:
        return None
    return match.group(1), int(match.group(2))


def acting_department(actor: Actor) -> None:
    """An official (clerk, approver or steward) or a system token with ``credentials:issue``, of a department."""
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
