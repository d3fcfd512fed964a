"""Status lists: this node's (from the database) and other regions' (fetched, checked, cached).

``NodeStatusLookup`` is the ``status_lookup`` of every verification on this node:

* a URL under this node's public URL is one of its own lists, read from ``StatusListRow``, and
  serves only credentials of this region;
* any other URL is fetched only for a credential whose issuer belongs to an **imported** region,
  only over http(s), and only from an origin that region's trust list declares in
  ``status_origins``. The status list credential must be signed by a key on that region's list
  (its status key), name the URL as its ``id`` and be within its validity period; its bitstring
  may expand to ``MAX_STATUS_LIST_BYTES`` at most (GZIP bombs).
* fetched lists are cached in ``RemoteStatusList`` (shared by every worker process) for the
  list's ``ttl`` (the W3C ``credentialSubject.ttl``; 5 minutes when absent), bounded to
  ``[MIN_TTL, MAX_TTL]`` and never past the list credential's ``validUntil``. The cached token is
  checked again on each read, so a region removed or re-keyed stops counting at once.
* a failed fetch (network, HTTP status, size, signature, anything) answers ``status_unavailable``
  with the reason, never "valid", and is remembered for ``RETRY_AFTER`` seconds so a region that
  is down is not asked on every verification.

Cache writes are single upserts outside any transaction of the verification (which only reads);
no transaction is held while waiting for the other region's server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings

from tongban.core.errors import NotFound
from tongban.credentials import fetch, issuer_keys
from tongban.credentials.keys import CredentialError
from tongban.credentials.models import RemoteStatusList, StatusListRow
from tongban.credentials.services.common import STATUS_TTL_MS, local_status_ref, status_url
from tongban.credentials.statuslist import StatusList
from tongban.credentials.trustlist import TrustedIssuer, url_origin
from tongban.credentials.truststore import TrustStore
from tongban.credentials.vc import issue_vc_jwt
from tongban.credentials.verify import open_status_list

MIN_TTL = 5
MAX_TTL = 86_400
RETRY_AFTER = 15


def local_status_list(purpose: str, list_id: int) -> StatusList | None:
    row = StatusListRow.objects.filter(purpose=purpose, list_id=list_id).first()
    if row is None:
        return None
    return StatusList._from_bytes(bytes(row.bits), (purpose,), STATUS_TTL_MS)


def status_list_credential(purpose: str, list_id: int) -> str:
    """This node's status list credential (a VC-JWT signed with the node status key)."""
    status_list = local_status_list(purpose, list_id)
    if status_list is None:
        raise NotFound("没有这个状态列表", "No such status list")
    document = status_list.to_credential(status_url(purpose, list_id),
                                         issuer_keys.issuer_id(issuer_keys.STATUS_ISSUER))
    return issue_vc_jwt(document, issuer_keys.status_key())


def _unavailable(detail: str) -> CredentialError:
    return CredentialError("status_unavailable", detail)


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


class NodeStatusLookup:
    """The status lookup of verifications on this node, for ``verify_credential`` at ``now``."""

    def __init__(self, store: TrustStore, now: float) -> None:
        self.store, self.now = store, now

    def __call__(self, url: str) -> StatusList | None:
        return self._lookup(url, None)

    def for_issuer(self, issuer: TrustedIssuer) -> Callable[[str], StatusList | None]:
        return lambda url: self._lookup(url, issuer)

    def _lookup(self, url: str, issuer: TrustedIssuer | None) -> StatusList | None:
        local_region = settings.TONGBAN_REGION
        ref = local_status_ref(url)
        if ref is not None:
            if issuer is not None and issuer.region != local_region:
                raise _unavailable(f"a credential of region {issuer.region} names a status list of this node")
            return local_status_list(*ref)
        if issuer is None or issuer.region == local_region:
            raise _unavailable(f"{url} is not a status list of this node")
        return remote_status_list(url, issuer.region, self.store, self.now)


def remote_status_list(url: str, region: str, store: TrustStore, now: float) -> StatusList:
    """The status list at ``url`` of imported region ``region``: cached, or fetched and checked."""
    region_list = store.region_list(region)
    if region_list is None:
        raise _unavailable(f"region {region} is not imported")
    origin = url_origin(url)
    if origin is None:
        raise _unavailable(f"{url} is not an http(s) URL")
    if not region_list.status_origins:
        raise _unavailable(f"the trust list of region {region} declares no status origin")
    if origin not in region_list.status_origins:
        raise _unavailable(f"{origin} is not a status origin of region {region}")
    if len(url) > fetch.MAX_URL_LENGTH:
        raise _unavailable(f"the status list URL is over {fetch.MAX_URL_LENGTH} characters")
    row = RemoteStatusList.objects.filter(url=url).first()
    if row is not None and row.region == region:
        if row.token and row.expires_at and now < row.expires_at.timestamp():
            try:
                return open_status_list(row.token, store, url=url, now=now, region=region)[0]
            except CredentialError:
                pass  # e.g. the region's keys changed since: fetch it again
        if row.error and row.retry_after and now < row.retry_after.timestamp():
            raise _unavailable(f"{row.error} (not asked again before {row.retry_after:%H:%M:%S} UTC)")
    try:
        token = fetch.fetch_status_list_credential(url, allowed_origins=region_list.status_origins)
        status_list, _signer, valid_until = open_status_list(token, store, url=url, now=now, region=region)
    except CredentialError as exc:
        reason = exc.detail if exc.code == "status_unavailable" and exc.detail else f"{exc.code}: {exc.message_en}"
        _remember_failure(url, region, reason, now)
        raise _unavailable(reason) from None
    expires = now + min(max(status_list.ttl_ms / 1000, MIN_TTL), MAX_TTL)
    if valid_until is not None:
        expires = min(expires, valid_until)
    _store(RemoteStatusList(url=url, region=region, token=token, fetched_at=_at(now), expires_at=_at(expires),
                            error="", retry_after=None),
           ["region", "token", "fetched_at", "expires_at", "error", "retry_after"])
    return status_list


def _remember_failure(url: str, region: str, error: str, now: float) -> None:
    _store(RemoteStatusList(url=url, region=region, error=error[:500], retry_after=_at(now + RETRY_AFTER)),
           ["region", "error", "retry_after"])


def _store(row: RemoteStatusList, fields: list[str]) -> None:
    # One INSERT ... ON CONFLICT (url) DO UPDATE: concurrent workers fetching the same list both
    # succeed, the last write wins, and no transaction of the caller's is needed.
    RemoteStatusList.objects.bulk_create([row], update_conflicts=True, unique_fields=["url"], update_fields=fields)
