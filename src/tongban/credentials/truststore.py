"""The trust store: the keys this node trusts, from its own trust list and imported regions' lists.

Used by verification on a node (built from the database for each verification) and by the offline
verifier (built from files). Lists are opened and checked in ``trustlist``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tongban.credentials.keys import UnknownKeyError, VerifyKey
from tongban.credentials.trustlist import TrustedIssuer, TrustList, TrustListError, open_trust_list


class TrustStore:
    """The keys this node trusts: its own issuers (the local list) and imported regions' lists.

    Lookups go through one immutable index that is swapped whole on every change, so readers in
    other threads never see a half-updated store.
    """

    def __init__(self, local: TrustList | None = None) -> None:
        self._local: TrustList | None = None
        self._regions: dict[str, TrustList] = {}
        self._index: dict[str, TrustedIssuer] = {}
        if local is not None:
            self.set_local(local)

    @property
    def local(self) -> TrustList | None:
        return self._local

    def regions(self) -> list[str]:
        """The imported regions' codes."""
        return sorted(self._regions)

    def region_list(self, region: str) -> TrustList | None:
        return self._regions.get(region)

    def set_local(self, trust_list: TrustList) -> None:
        if trust_list.region in self._regions:
            raise TrustListError("trust_list_conflict", f"region {trust_list.region} is imported")
        self._rebuild(trust_list, self._regions)

    def import_region(self, trust_list: TrustList) -> None:
        """Adds (or replaces with a newer ``sequence``) an opened list of another region."""
        if self._local is not None and trust_list.region == self._local.region:
            raise TrustListError("trust_list_conflict", "that is this node's own region")
        current = self._regions.get(trust_list.region)
        if current is not None and trust_list.sequence < current.sequence:
            raise TrustListError("trust_list_conflict", f"sequence {trust_list.sequence} is older than "
                                                         f"the imported {current.sequence}")
        self._rebuild(self._local, {**self._regions, trust_list.region: trust_list})

    def import_token(
        self,
        token: str,
        pinned_root_public_key: VerifyKey | dict[str, Any],
        region: str,
        *,
        now: dt.datetime | float | None = None,
    ) -> TrustList:
        """``open_trust_list`` then ``import_region``."""
        trust_list = open_trust_list(token, pinned_root_public_key, region=region, now=now)
        self.import_region(trust_list)
        return trust_list

    def remove_region(self, region: str) -> bool:
        """Stops trusting a region at once; False if it was not imported."""
        if region not in self._regions:
            return False
        self._rebuild(self._local, {r: t for r, t in self._regions.items() if r != region})
        return True

    def _rebuild(self, local: TrustList | None, regions: dict[str, TrustList]) -> None:
        index: dict[str, TrustedIssuer] = {}
        owner: dict[str, str] = {}
        origins: dict[str, str] = {}
        for trust_list in ([local] if local else []) + [regions[r] for r in sorted(regions)]:
            for origin in trust_list.status_origins:
                if origins.setdefault(origin, trust_list.region) != trust_list.region:
                    raise TrustListError("trust_list_conflict",
                                         f"status origin {origin} is in {origins[origin]} and {trust_list.region}")
            for entry in trust_list.issuers:
                if entry.kid in index:
                    raise TrustListError("trust_list_conflict",
                                         f"kid {entry.kid!r} is in {index[entry.kid].region} and {entry.region}")
                if owner.setdefault(entry.issuer, entry.region) != entry.region:
                    raise TrustListError("trust_list_conflict",
                                         f"issuer {entry.issuer!r} is in {owner[entry.issuer]} and {entry.region}")
                index[entry.kid] = entry
        self._local, self._regions, self._index = local, regions, index

    def lookup(self, kid: str) -> TrustedIssuer | None:
        return self._index.get(kid)

    def issuer_for(self, kid: str) -> TrustedIssuer:
        entry = self._index.get(kid)
        if entry is None:
            raise UnknownKeyError(detail=f"kid {kid!r}")
        return entry

    def resolve_key(self, kid: str) -> VerifyKey:
        """The trusted key with this ``kid`` (raises ``UnknownKeyError``): a ``resolve_key`` for
        ``vc.decode_vc_jwt`` and ``qr.decode_qr_text``."""
        return self.issuer_for(kid).key

    def __len__(self) -> int:
        return len(self._index)
