"""W3C Verifiable Credentials Data Model 2.0 documents secured as VC-JOSE (``application/vc+jwt``).

Following *Securing Verifiable Credentials using JOSE and COSE* (W3C Recommendation): the JWS
payload **is** the credential JSON (no ``vc``/``vp`` claim); the protected header carries
``alg``, ``kid``, ``typ: vc+jwt`` and ``cty: vc``; compact serialization only.

This profile requires, beyond the data model's MUSTs: a ``validFrom`` (the time of issuance: put
the date of the underlying fact, e.g. a birth date, in ``credentialSubject``), a ``kid`` in the
header, and ``typ: vc+jwt`` (explicit typing, so no other JWS of ours, such as a trust list, can
be taken for a credential). Dates are XML Schema ``dateTimeStamp`` strings (with a time zone).

``decode_vc_jwt`` checks format, key and signature only; validity dates, trust and status are
checked by ``tongban.credentials.verify.verify_credential``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jws

from tongban.credentials.keys import (
    JWS_REGISTRY,
    CredentialError,
    SigningKey,
    UnknownKeyError,
    VerifyKey,
    b64url_decode,
)

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_JWT_TYP = "vc+jwt"
VC_JWT_CTY = "vc"
MEDIA_TYPE = "application/vc+jwt"
#: Largest VC-JWT accepted, in bytes.
MAX_VC_JWT_BYTES = 16 * 1024

_DATETIME_STAMP = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\Z")


class VcError(CredentialError):
    default_code = "invalid_credential"


# --- dates --------------------------------------------------------------------------------


def parse_datetime(value: Any) -> float:
    """An XML Schema ``dateTimeStamp`` (e.g. ``2026-05-01T00:00:00Z``) as POSIX seconds."""
    if not isinstance(value, str) or not _DATETIME_STAMP.match(value):
        raise ValueError(f"not a dateTimeStamp: {value!r}")
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a dateTimeStamp: {value!r}") from exc


def format_datetime(value: dt.datetime | float | int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) from an aware datetime or POSIX seconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a time zone")
        value = value.timestamp()
    return dt.datetime.fromtimestamp(int(value), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the data model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """One ``BitstringStatusListEntry`` of a credential."""

    purpose: str
    index: int
    list_url: str


def issuer_id(credential: dict[str, Any]) -> str:
    """The issuer's id: ``issuer`` is a URL string or an object with an ``id``."""
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or not issuer:
        raise VcError(detail="issuer must be a URL or an object with an id")
    return issuer


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+\Z")


def _is_url(value: Any) -> bool:
    # The data model's URLs: absolute, with a scheme (https:, urn:, did:, ...).
    return isinstance(value, str) and _URL.match(value) is not None


def status_entries(credential: dict[str, Any]) -> list[StatusEntry]:
    """The credential's ``BitstringStatusListEntry`` objects (other status types are ignored)."""
    out = []
    for entry in _as_list(credential.get("credentialStatus", [])):
        if not isinstance(entry, dict):
            raise VcError(detail="credentialStatus entries are objects")
        if entry.get("type") != "BitstringStatusListEntry":
            continue
        purpose, index, url = entry.get("statusPurpose"), entry.get("statusListIndex"), entry.get(
            "statusListCredential"
        )
        if not isinstance(purpose, str) or not purpose:
            raise VcError(detail="statusPurpose must be a string")
        if not isinstance(index, str) or not (index.isascii() and index.isdigit()) or len(index) > 12 or (
            index[0] == "0" and index != "0"
        ):
            raise VcError(detail="statusListIndex must be a non-negative integer as a base-10 string")
        if not _is_url(url):
            raise VcError(detail="statusListCredential must be a URL")
        if entry.get("statusSize", 1) != 1:
            raise VcError(detail="only statusSize 1 is supported")
        out.append(StatusEntry(purpose, int(index), url))
    return out


@dataclass(slots=True)
class CredentialInfo:
    """What verification needs from a valid credential."""

    issuer: str
    valid_from: float
    valid_until: float | None
    status: list[StatusEntry]


def validate_credential(credential: Any) -> CredentialInfo:
    """Checks the VC Data Model 2.0 shape this profile needs; raises ``VcError`` naming the fault."""
    if not isinstance(credential, dict):
        raise VcError(detail="the credential is a JSON object")
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_V2_CONTEXT:
        raise VcError(detail=f"@context must be a list starting with {VC_V2_CONTEXT}")
    types = credential.get("type")
    types = [types] if isinstance(types, str) else types
    if not isinstance(types, list) or "VerifiableCredential" not in types or not all(
        isinstance(t, str) for t in types
    ):
        raise VcError(detail="type must include VerifiableCredential")
    if "id" in credential and not _is_url(credential["id"]):
        raise VcError(detail="id must be a URL")
    issuer = issuer_id(credential)
    if not _is_url(issuer):
        raise VcError(detail="issuer must be a URL")
    try:
        valid_from = parse_datetime(credential.get("validFrom"))
    except ValueError:
        raise VcError(detail="validFrom must be a dateTimeStamp (e.g. 2026-05-01T00:00:00Z)") from None
    valid_until = None
    if "validUntil" in credential:
        try:
            valid_until = parse_datetime(credential["validUntil"])
        except ValueError:
            raise VcError(detail="validUntil must be a dateTimeStamp") from None
        if valid_until < valid_from:
            raise VcError(detail="validUntil is before validFrom")
    subjects = credential.get("credentialSubject")
    if not subjects or not all(isinstance(s, dict) and s for s in _as_list(subjects)):
        raise VcError(detail="credentialSubject must be a non-empty object or a list of them")
    if "vc" in credential or "vp" in credential:
        raise VcError(detail="the JWT claims vc and vp must not be used (VC-JOSE-COSE)")
    return CredentialInfo(issuer, valid_from, valid_until, status_entries(credential))


# --- VC-JWT -------------------------------------------------------------------------------


@dataclass(slots=True)
class ParsedVcJwt:
    """A VC-JWT whose structure, header and credential are well-formed; its signature is unchecked."""

    header: dict[str, Any]
    credential: dict[str, Any]
    info: CredentialInfo
    #: ``BASE64URL(header) || '.' || BASE64URL(payload)``, the bytes the signature covers.
    signing_input: bytes
    signature: bytes

    @property
    def kid(self) -> str:
        return self.header["kid"]

    @property
    def alg(self) -> str:
        return self.header["alg"]


def issue_vc_jwt(credential: dict[str, Any], key: SigningKey) -> str:
    """Secures a credential as a VC-JWT signed by ``key`` (header ``typ: vc+jwt``, ``cty: vc``, ``kid``)."""
    validate_credential(credential)
    payload = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(payload) > MAX_VC_JWT_BYTES * 3 // 4 - 200:
        raise VcError("oversized", f"the credential is over {MAX_VC_JWT_BYTES // 1024} KiB as a VC-JWT")
    header = {"alg": key.alg, "kid": key.kid, "typ": VC_JWT_TYP, "cty": VC_JWT_CTY}
    return jws.serialize_compact(header, payload, key.jose_key, registry=JWS_REGISTRY)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with any keyword argument builds a new decoder on every call.
_JSON = json.JSONDecoder(parse_constant=_no_constants)


# Every credential of one issuer key has the same protected header (alg, kid, typ, cty): the
# checked header of a segment seen before is reused. Bounded; entries are never mutated.
_HEADERS: dict[bytes, dict[str, str]] = {}
_HEADER_CACHE_SIZE = 1024


def _parse_header(segment: bytes) -> dict[str, str]:
    try:
        header = _JSON.decode(b64url_decode(segment).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise VcError("malformed_jwt", f"the header is not base64url JSON: {exc}") from None
    if not isinstance(header, dict):
        raise VcError("malformed_jwt", "the protected header is not a JSON object")
    unknown = header.keys() - JWS_REGISTRY.header_registry.keys()
    if unknown:
        raise VcError("bad_header", f"unsupported header parameters {sorted(unknown)}")
    if not all(isinstance(value, str) for value in header.values()):
        raise VcError("bad_header", "header parameters are strings")
    if header.get("typ") != VC_JWT_TYP:
        raise VcError("bad_header", f"typ must be {VC_JWT_TYP!r}")
    if header.get("cty", VC_JWT_CTY) != VC_JWT_CTY:
        raise VcError("bad_header", f"cty must be {VC_JWT_CTY!r}")
    if not header.get("kid"):
        raise VcError("bad_header", "kid is required")
    if header.get("alg") not in JWS_REGISTRY.algorithms:
        raise VcError("unsupported_alg", repr(header.get("alg")))
    return header


def parse_vc_jwt(token: str | bytes, max_bytes: int = MAX_VC_JWT_BYTES) -> ParsedVcJwt:
    """Parses a VC-JWT and checks its header and credential, not its signature.

    The hot path of verification, so it is a strict parser of its own (three base64url parts,
    canonical base64url, a JSON header with only the parameters ``JWS_REGISTRY`` admits)
    rather than joserfc's ``extract_compact``; the tests check both read every token alike.
    ``max_bytes`` is raised only for status list credentials, whose lists may be large.
    """
    if isinstance(token, str):
        if len(token) > max_bytes:
            raise VcError("oversized", f"over {max_bytes} bytes")
        try:
            token = token.encode("ascii")
        except UnicodeEncodeError:
            raise VcError("malformed_jwt", "a compact JWS is ASCII") from None
    if len(token) > max_bytes:
        raise VcError("oversized", f"over {max_bytes} bytes")
    parts = token.split(b".")
    if len(parts) != 3:
        raise VcError("malformed_jwt", "a compact JWS is three base64url parts joined by dots")
    header_segment, payload_segment, signature_segment = parts
    header = _HEADERS.get(header_segment)
    if header is None:
        header = _parse_header(header_segment)
        if len(_HEADERS) >= _HEADER_CACHE_SIZE:
            _HEADERS.clear()
        _HEADERS[header_segment] = header
    try:
        credential = _JSON.decode(b64url_decode(payload_segment).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise VcError("malformed_jwt", f"the payload is not base64url JSON: {exc}") from None
    try:
        signature = b64url_decode(signature_segment)
    except ValueError:
        raise VcError("malformed_jwt", "the signature is not base64url") from None
    info = validate_credential(credential)
    return ParsedVcJwt(header, credential, info, token[: len(header_segment) + 1 + len(payload_segment)], signature)


def check_vc_jwt_signature(parsed: ParsedVcJwt, key: VerifyKey) -> None:
    """Raises ``alg_mismatch`` or ``bad_signature`` unless ``key`` signed ``parsed``.

    joserfc parsed the token; the signature over the JWS signing input is checked by the key
    object itself (the very operation joserfc's ``validate_compact`` ends in), which spares
    the hot path joserfc's per-call re-validation of header, algorithm and key.
    """
    if parsed.alg not in key.jose_algs:
        raise VcError("alg_mismatch", f"{parsed.alg} with a {key.alg} key")
    if not key.verify(parsed.signing_input, parsed.signature):
        raise VcError("bad_signature")


def _resolve(resolve_key: Callable[[str], VerifyKey | None], kid: str) -> VerifyKey:
    try:
        key = resolve_key(kid)
    except LookupError:
        key = None
    if key is None:
        raise UnknownKeyError(detail=f"kid {kid!r}")
    return key


def decode_vc_jwt(token: str | bytes, resolve_key: Callable[[str], VerifyKey | None]) -> dict[str, Any]:
    """The credential of a VC-JWT whose signature verifies with ``resolve_key(kid)``.

    Raises ``CredentialError`` with code ``oversized``, ``malformed_jwt``, ``bad_header``,
    ``unsupported_alg``, ``invalid_credential``, ``unknown_key`` (``resolve_key`` returned None
    or raised ``LookupError``), ``alg_mismatch`` or ``bad_signature``. Validity dates, trust in
    the issuer and status are not checked here (see ``verify.verify_credential``).
    """
    parsed = parse_vc_jwt(token)
    check_vc_jwt_signature(parsed, _resolve(resolve_key, parsed.kid))
    return parsed.credential
