"""The credential use cases: issuing, status changes, trust lists, verification, the wallet.

A package of use cases (everything is importable from ``tongban.credentials.services``):

* ``issuing``   issue, revoke, suspend, lift; the holder's own credentials;
* ``trust``     the node's signed trust list, importing and removing other regions' lists;
* ``status``    this node's status lists and other regions' (fetched, checked, cached);
* ``verifying`` ``verify`` and ``record_verification``;
* ``wallet``    ``present`` and ``redeem_presentation`` (免证办).

No use case opens its own transaction: the API, the pages, the commands and the demo (or the
one-stop service calling in) hold one around each call, so a change and its ledger entry commit
together. The only inner savepoint is the retry of a racing status-list creation (``issuing``).

Holder binding (a deliberate choice): the credential subject carries the holder's **name**, the
holder's identifier **masked** (ID number ``330***********1234``, USCC ``9133************12``),
and ``id`` = ``urn:tongban:subject:<HMAC-SHA256(node subject secret, identifier)>``. A verifier
at the counter compares the name and the masked number with the holder's ID card / licence; this
node (which holds the secret) can also match the subject id to a record. The full identifier is
never put into the credential, so a lost QR does not leak it.
"""

from tongban.credentials.services.common import (
    ISSUE_ROLES,
    STATUS_TTL_MS,
    TRUST_LIST_DAYS,
    VC_CONTEXT,
    mask_identifier,
    status_url,
    subject_id,
)
from tongban.credentials.services.issuing import (
    issue_credential,
    lift,
    my_credential,
    my_credentials,
    revoke,
    suspend,
)
from tongban.credentials.services.status import (
    NodeStatusLookup,
    local_status_list,
    remote_status_list,
    status_list_credential,
)
from tongban.credentials.services.trust import (
    import_trust_list,
    local_trust_document,
    published_trust_list,
    remove_region,
    root_public_jwk,
    trust_store,
    trusted_regions,
)
from tongban.credentials.services.verifying import record_verification, verify
from tongban.credentials.services.wallet import PRESENTATION_TTL, present, redeem_presentation

__all__ = [
    "ISSUE_ROLES", "PRESENTATION_TTL", "STATUS_TTL_MS", "TRUST_LIST_DAYS", "VC_CONTEXT", "NodeStatusLookup",
    "import_trust_list", "issue_credential", "lift", "local_status_list", "local_trust_document", "mask_identifier",
    "my_credential", "my_credentials", "present", "published_trust_list", "record_verification",
    "redeem_presentation", "remote_status_list", "remove_region", "revoke", "root_public_jwk", "status_list_credential",
    "status_url", "subject_id", "suspend", "trust_store", "trusted_regions", "verify",
]
