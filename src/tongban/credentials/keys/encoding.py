"""Strict base64url (RFC 4648 section 5) and RFC 7638 JWK thumbprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from tongban.credentials.keys.errors import InvalidKeyError


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
# The last character of an unpadded group must leave the unused low bits zero (canonical form).
_CANONICAL_LAST = {1: b"AEIMQUYcgkosw048", 2: b"AQgw"}


def b64url_decode(text: str | bytes) -> bytes:
    """Strict base64url without padding (RFC 4648 section 5): only the URL-safe alphabet, no
    padding, no whitespace, and no non-zero trailing bits (one encoding per byte string)."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("invalid base64url") from None
    if not isinstance(text, bytes) or b"+" in text or b"/" in text or b"=" in text or len(text) % 4 == 1:
        raise ValueError("invalid base64url")
    pad = -len(text) % 4
    if pad and text[-1] not in _CANONICAL_LAST[pad]:
        raise ValueError("non-canonical base64url")
    try:  # strict mode refuses any character outside the (translated) alphabet
        return binascii.a2b_base64(text.translate(_TO_STANDARD) + b"=" * pad, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64url") from exc


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint (base64url SHA-256) over the required members of an OKP or EC JWK."""
    kty = jwk.get("kty")
    if kty == "OKP":
        members = ("crv", "kty", "x")
    elif kty == "EC":
        members = ("crv", "kty", "x", "y")
    else:
        raise InvalidKeyError(detail=f"unsupported key type {kty!r}")
    try:
        required = {name: jwk[name] for name in members}
    except KeyError as exc:
        raise InvalidKeyError(detail=f"JWK lacks {exc.args[0]!r}") from None
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())
