"""Signed trust lists (信任列表) and the trust store used for cross-region recognition (互认).

A node publishes its issuers as a JSON document signed with its region's **root key** (a
separate key, Ed25519 by default, kept offline from the issuing keys), as a JWS compact
serialization with header ``typ: tongban-trust-list+jwt``::

    {
      "type": "TongbanTrustList", "version": 1,
      "region": "440000", "region_name": "广东省",    # GB/T 2260 code of the region
      "sequence": 7,                                   # grows with every new list of the region
      "issued_at": "2026-05-01T00:00:00Z", "valid_until": "2026-08-01T00:00:00Z",
      "status_origins": ["https://gd.example"],        # optional, see below
      "issuers": [
        {"issuer": "https://gd.example/issuers/market", "department": "广东省市场监督管理局",
         "kid": "...", "alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "..."},
         "valid_from": "2026-01-01T00:00:00Z", "valid_until": null}
      ]
    }

An issuer entry's ``valid_from``/``valid_until`` bound when the key may **sign**: a credential
verifies only if it was issued (``validFrom``; in a QR text ``issued_at`` or ``valid_from``)
inside that window, and only while the key is on a current list. Removing a key from the list,
or the whole region from the store, stops its credentials verifying at once.

``status_origins`` (optional; added after version 1 was first published, so lists without it
stay valid and verifiers that predate it ignore it) names the origins (``scheme://host[:port]``,
http or https, no path) where the region publishes its Bitstring Status List credentials. Another
node fetches a status list of that region's credentials only from one of these origins, and
accepts it only when signed by a key on that region's list; a region that declares none has its
revocable credentials reported ``status_unavailable`` elsewhere.

The bureau imports another region's list only after ``open_trust_list`` has checked it against
that region's **pinned** root public key (obtained out of band), its region code and its dates.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError

from tongban.credentials.keys import (
    ALG_ED25519,
    ALG_EDDSA,
    ALG_SM2SM3,
    CredentialError,
    SigningKey,
    TongbanJWSRegistry,
    VerifyKey,
    public_key_from_jwk,
)
from tongban.credentials.vc import format_datetime, parse_datetime

TRUST_LIST_TYP = "tongban-trust-list+jwt"
TRUST_LIST_TYPE = "TongbanTrustList"
MAX_TRUST_LIST_BYTES = 1024 * 1024
#: Clock skew tolerated for a list's ``issued_at`` (seconds).
CLOCK_SKEW = 300


class TrustListError(CredentialError):
    default_code = "trust_list_malformed"


def url_origin(url: Any) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (lower case, default ports dropped), else None."""
    if not isinstance(url, str) or not url.isascii() or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def _origins(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > 16:
        raise TrustListError(detail="status_origins is a list of at most 16 origins")
    origins = []
    for item in value:
        origin = url_origin(item)
        try:
            parts = urlsplit(item) if origin else None
        except ValueError:
            parts = None
        if parts is None or parts.path not in ("", "/") or parts.query or parts.fragment or "#" in item:
            raise TrustListError(detail=f"status_origins: {item!r} is not an http(s) origin (scheme://host[:port])")
        origins.append(origin)
    return tuple(dict.fromkeys(origins))


def _epoch(now: dt.datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, dt.datetime):
        if now.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        return now.timestamp()
    return float(now)


@dataclass(frozen=True)
class TrustedIssuer:
    """One issuer key of a trust list."""

    issuer: str
    department: str
    kid: str
    key: VerifyKey
    region: str
    valid_from: float | None = None
    valid_until: float | None = None
    #: When the list this entry came from expires (None for the local list).
    list_valid_until: float | None = None

    @property
    def alg(self) -> str:
        return self.key.alg

    def may_sign_at(self, when: float) -> bool:
        return (self.valid_from is None or when >= self.valid_from) and (
            self.valid_until is None or when <= self.valid_until
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "department": self.department,
            "kid": self.kid,
            "alg": self.key.alg,
            "jwk": self.key.public_jwk(),
            "valid_from": format_datetime(self.valid_from) if self.valid_from is not None else None,
            "valid_until": format_datetime(self.valid_until) if self.valid_until is not None else None,
        }


@dataclass(frozen=True)
class TrustList:
    region: str
    region_name: str
    sequence: int
    issued_at: float
    valid_until: float
    issuers: tuple[TrustedIssuer, ...]
    #: The signed JWS it was opened from (None for a list built locally and not yet signed).
    token: str | None = None
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: Where the region publishes its status lists (``status_origins``; empty when not declared).
    status_origins: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, doc: Any, token: str | None = None) -> TrustList:
        """Checks a trust-list document's shape (not its signature, region or dates)."""
        if not isinstance(doc, dict) or doc.get("type") != TRUST_LIST_TYPE or doc.get("version") != 1:
            raise TrustListError(detail=f"not a {TRUST_LIST_TYPE} version 1 document")
        region, region_name, sequence = doc.get("region"), doc.get("region_name", ""), doc.get("sequence", 0)
        if not isinstance(region, str) or not region or not isinstance(region_name, str):
            raise TrustListError(detail="region is a non-empty string")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise TrustListError(detail="sequence is a non-negative integer")
        try:
            issued_at, valid_until = parse_datetime(doc.get("issued_at")), parse_datetime(doc.get("valid_until"))
        except ValueError as exc:
            raise TrustListError(detail=f"issued_at and valid_until are dateTimeStamps: {exc}") from None
        if valid_until <= issued_at:
            raise TrustListError(detail="valid_until is not after issued_at")
        entries = doc.get("issuers")
        if not isinstance(entries, list):
            raise TrustListError(detail="issuers is a list")
        issuers, kids = [], set()
        for number, entry in enumerate(entries):
            issuer = _issuer_from_dict(entry, region, valid_until, number)
            if issuer.kid in kids:
                raise TrustListError(detail=f"kid {issuer.kid!r} appears twice")
            kids.add(issuer.kid)
            issuers.append(issuer)
        origins = _origins(doc.get("status_origins"))
        return cls(region, region_name, sequence, issued_at, valid_until, tuple(issuers), token, doc, origins)


def _issuer_from_dict(entry: Any, region: str, list_valid_until: float, number: int) -> TrustedIssuer:
    where = f"issuers[{number}]"
    if not isinstance(entry, dict):
        raise TrustListError(detail=f"{where} is an object")
    issuer, department, kid, alg = entry.get("issuer"), entry.get("department", ""), entry.get("kid"), entry.get("alg")
    if not isinstance(issuer, str) or not issuer or not isinstance(department, str):
        raise TrustListError(detail=f"{where}.issuer is a non-empty string")
    if not isinstance(kid, str) or not kid:
        raise TrustListError(detail=f"{where}.kid is a non-empty string")
    jwk = entry.get("jwk")
    if not isinstance(jwk, dict) or jwk.get("kid", kid) != kid:
        raise TrustListError(detail=f"{where}.jwk is a public JWK with the entry's kid")
    jwk_alg = alg or jwk.get("alg")
    try:
        key = public_key_from_jwk({**jwk, "alg": jwk_alg} if jwk_alg else jwk, kid)
    except CredentialError as exc:
        if exc.code == "sm2_unavailable":
            raise
        raise TrustListError(detail=f"{where}.jwk: {exc.message_en}") from None
    if alg is not None and alg not in key.jose_algs:
        raise TrustListError(detail=f"{where}.alg {alg!r} does not fit the key")
    bounds = []
    for name in ("valid_from", "valid_until"):
        value = entry.get(name)
        try:
            bounds.append(None if value is None else parse_datetime(value))
        except ValueError:
            raise TrustListError(detail=f"{where}.{name} is a dateTimeStamp or null") from None
    return TrustedIssuer(issuer, department, kid, key, region, bounds[0], bounds[1], list_valid_until)


def build_trust_list(
    region: str,
    issuers: Iterable[TrustedIssuer | dict[str, Any]],
    *,
    valid_until: dt.datetime | float,
    region_name: str = "",
    sequence: int = 1,
    issued_at: dt.datetime | float | None = None,
    status_origins: Iterable[str] = (),
) -> dict[str, Any]:
    """A trust-list document (to sign with ``sign_trust_list``); ``status_origins`` is left out
    when empty, so a list without it is byte for byte what it was before the field existed."""
    entries = [i.to_dict() if isinstance(i, TrustedIssuer) else dict(i) for i in issuers]
    doc = {
        "type": TRUST_LIST_TYPE,
        "version": 1,
        "region": region,
        "region_name": region_name,
        "sequence": sequence,
        "issued_at": format_datetime(_epoch(issued_at)),
        "valid_until": format_datetime(_epoch(valid_until)),
        "issuers": entries,
    }
    origins = [url_origin(o) or o for o in status_origins]
    if origins:
        doc["status_origins"] = origins
    TrustList.from_document(doc)
    return doc


def issuer_entry(
    issuer: str,
    key: VerifyKey | SigningKey,
    *,
    department: str = "",
    valid_from: dt.datetime | float | None = None,
    valid_until: dt.datetime | float | None = None,
) -> dict[str, Any]:
    """One ``issuers`` entry of a trust-list document (never the private key)."""
    public = key.public_key() if isinstance(key, SigningKey) else key
    return {
        "issuer": issuer,
        "department": department,
        "kid": public.kid,
        "alg": public.alg,
        "jwk": public.public_jwk(),
        "valid_from": format_datetime(_epoch(valid_from)) if valid_from is not None else None,
        "valid_until": format_datetime(_epoch(valid_until)) if valid_until is not None else None,
    }


def sign_trust_list(doc: dict[str, Any], root_key: SigningKey) -> str:
    """The document as a JWS compact serialization signed with the region's root key."""
    TrustList.from_document(doc)
    payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    header = {"alg": root_key.alg, "kid": root_key.kid, "typ": TRUST_LIST_TYP}
    return jws.serialize_compact(header, payload, root_key.jose_key, registry=_LIST_REGISTRY)


def open_trust_list(
    token: str,
    pinned_root_public_key: VerifyKey | dict[str, Any],
    *,
    region: str | None = None,
    now: dt.datetime | float | None = None,
) -> TrustList:
    """Checks a signed trust list against the region's pinned root key, its region and its dates.

    Raises ``TrustListError`` with code ``trust_list_malformed``, ``trust_list_bad_signature``,
    ``trust_list_wrong_region`` (``region`` given and different), ``trust_list_expired`` or
    ``trust_list_not_yet_valid``.
    """
    root = (public_key_from_jwk(pinned_root_public_key) if isinstance(pinned_root_public_key, dict)
            else pinned_root_public_key)
    if not isinstance(token, str) or len(token) > MAX_TRUST_LIST_BYTES or token.count(".") != 2:
        raise TrustListError(detail="not a JWS compact serialization")
    try:
        obj = jws.extract_compact(token.encode("ascii"), registry=_LIST_REGISTRY)
        header = obj.protected
        if not isinstance(header, dict):
            raise TrustListError(detail="the protected header is not an object")
        _LIST_REGISTRY.check_header(header)
    except (JoseError, UnicodeEncodeError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        if isinstance(exc, TrustListError):
            raise
        raise TrustListError(detail=str(exc) or type(exc).__name__) from None
    if header.get("typ") != TRUST_LIST_TYP:
        raise TrustListError(detail=f"typ must be {TRUST_LIST_TYP!r}")
    if header.get("alg") not in root.jose_algs:
        raise TrustListError("trust_list_bad_signature", f"alg {header.get('alg')!r} does not fit the pinned key")
    try:
        ok = jws.validate_compact(obj, root.jose_key, registry=_LIST_REGISTRY)
    except JoseError as exc:
        raise TrustListError("trust_list_bad_signature", str(exc)) from None
    if not ok:
        raise TrustListError("trust_list_bad_signature")
    try:
        doc = json.loads(obj.payload)
    except (ValueError, RecursionError):
        raise TrustListError(detail="the payload is not JSON") from None
    trust_list = TrustList.from_document(doc, token)
    if region is not None and trust_list.region != region:
        raise TrustListError("trust_list_wrong_region", f"{trust_list.region!r}, expected {region!r}")
    when = _epoch(now)
    if when > trust_list.valid_until:
        raise TrustListError("trust_list_expired", f"since {format_datetime(trust_list.valid_until)}")
    if when + CLOCK_SKEW < trust_list.issued_at:
        raise TrustListError("trust_list_not_yet_valid", f"issued at {format_datetime(trust_list.issued_at)}")
    return trust_list


class _ListRegistry(TongbanJWSRegistry):
    max_payload_length = MAX_TRUST_LIST_BYTES


_LIST_REGISTRY = _ListRegistry(algorithms=[ALG_EDDSA, ALG_ED25519, ALG_SM2SM3])


def __getattr__(name: str) -> Any:
    # ``TrustStore`` lives in ``truststore`` (this module grew past ~400 lines); still importable from here.
    if name == "TrustStore":
        from tongban.credentials.truststore import TrustStore

        return TrustStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
