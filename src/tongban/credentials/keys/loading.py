"""Keys from JWKs and PEM files."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tongban.credentials.keys.base import ALG_EDDSA, ALG_SM2SM3, SigningKey, VerifyKey
from tongban.credentials.keys.ed25519 import Ed25519SigningKey, Ed25519VerifyKey
from tongban.credentials.keys.encoding import b64url_decode, b64url_encode
from tongban.credentials.keys.errors import CredentialError, InvalidKeyError
from tongban.credentials.keys.sm2 import SM2SigningKey, SM2VerifyKey, _sm2_from_jwk


def public_key_from_jwk(jwk: dict[str, Any], kid: str | None = None) -> VerifyKey:
    """A ``VerifyKey`` from a public JWK (OKP/Ed25519 or EC/SM2); ``kid`` defaults to the JWK's."""
    if not isinstance(jwk, dict):
        raise InvalidKeyError(detail="a JWK is a JSON object")
    if "d" in jwk:
        raise InvalidKeyError(detail="a private JWK where a public one was expected")
    kid = kid or jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidKeyError(detail="kid must be a string")
    alg = jwk.get("alg")
    if jwk.get("kty") == "OKP":
        if jwk.get("crv") != "Ed25519":
            raise InvalidKeyError(detail=f"unsupported OKP curve {jwk.get('crv')!r}")
        try:
            raw = b64url_decode(jwk["x"])
            public = Ed25519PublicKey.from_public_bytes(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidKeyError(detail=f"bad Ed25519 JWK: {exc}") from None
        return Ed25519VerifyKey(public, kid, alg or ALG_EDDSA)
    if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
        if alg not in (None, ALG_SM2SM3):
            raise InvalidKeyError(detail=f"alg {alg!r} is not the SM2 profile")
        return SM2VerifyKey(_sm2_from_jwk(jwk), kid)
    raise InvalidKeyError(detail=f"unsupported key type {jwk.get('kty')!r}/{jwk.get('crv')!r}")


def signing_key_from_jwk(jwk: dict[str, Any]) -> SigningKey:
    """A ``SigningKey`` from a private JWK (as ``SigningKey.private_jwk`` writes it)."""
    if not isinstance(jwk, dict) or "d" not in jwk:
        raise InvalidKeyError(detail="not a private JWK")
    kid = jwk.get("kid")
    if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
        try:
            key = Ed25519SigningKey.from_private_bytes(b64url_decode(jwk["d"]), kid, jwk.get("alg") or ALG_EDDSA)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, CredentialError):
                raise
            raise InvalidKeyError(detail=f"bad Ed25519 JWK: {exc}") from None
        if "x" in jwk and jwk["x"] != b64url_encode(key.public_key().raw):
            raise InvalidKeyError(detail="d does not match x")
        return key
    if jwk.get("kty") == "EC" and jwk.get("crv") == "SM2":
        return SM2SigningKey(_sm2_from_jwk(jwk), kid)
    raise InvalidKeyError(detail=f"unsupported key type {jwk.get('kty')!r}/{jwk.get('crv')!r}")


def signing_key_from_pem(pem: bytes, password: bytes | None = None, kid: str | None = None) -> SigningKey:
    """An Ed25519 or SM2 PKCS#8 PEM private key (the ledger keystore's format)."""
    from tongban.ledger.notes import load_private_key_pem

    key = load_private_key_pem(pem, password)
    if isinstance(key, Ed25519PrivateKey):
        return Ed25519SigningKey(key, kid)
    return SM2SigningKey(key, kid)


def signing_key_to_pem(key: SigningKey, password: bytes | None = None) -> bytes:
    from tongban.ledger.notes import private_key_to_pem

    return private_key_to_pem(key.private_key, password)  # type: ignore[attr-defined]
