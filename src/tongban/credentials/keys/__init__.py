"""Issuer keys, JWK import/export, the JOSE algorithm registry, and ``CredentialError``.

A package by concern (everything is importable from ``tongban.credentials.keys``):

* ``errors``   ``CredentialError`` and the bilingual text of every code (``MESSAGES``);
* ``encoding`` strict base64url and RFC 7638 JWK thumbprints;
* ``base``     algorithm identifiers and the ``VerifyKey`` / ``SigningKey`` abstraction;
* ``ed25519``  and ``sm2``: the two signature profiles;
* ``loading``  keys from JWKs and PEM files;
* ``jose``     the joserfc registry (``JWS_REGISTRY``).

Two signature profiles:

* **Ed25519** (default). JOSE ``alg`` ``"EdDSA"`` (RFC 8037) when issuing, as VC-JOSE-COSE
  verifiers expect today; the fully-specified ``"Ed25519"`` of RFC 9864 (which deprecates the
  polymorphic ``"EdDSA"``) is accepted when verifying and can be chosen when issuing
  (``Ed25519SigningKey(..., alg="Ed25519")``). COSE: ``-8`` (EdDSA) and ``-19`` (Ed25519).
* **SM2 with SM3** (national-crypto profile, GB/T 32918 / GM/T 0009, default distinguishing ID
  ``1234567812345678``), available when the optional ``tongsuopy`` package is installed. This is a
  **private profile**: JOSE and COSE register no SM2 algorithm, so the JOSE ``alg`` is the
  unregistered name ``"SM2SM3"`` and the COSE ``alg`` is ``-65537`` (the private-use range,
  below -65536). The signature is fixed-length ``r || s`` (32 bytes each, big-endian), as ES256
  is in JOSE; the JWK is ``{"kty": "EC", "crv": "SM2", "x", "y"}`` with 32-byte coordinates.
  Only tongban nodes (and tools that adopt this profile) verify these credentials.

JWS are made (and trust lists opened) with joserfc and a registry of its own (``JWS_REGISTRY``,
where ``SM2SM3`` is registered as a joserfc algorithm model): only the algorithms above are
allowed, and only the header parameters ``alg``, ``kid``, ``typ`` and ``cty`` are accepted (no
``crit``, no RFC 7797 ``b64``, no embedded ``jwk``/``jku``/``x5u``). Verifying a VC-JWT, the hot
path, parses with ``vc.parse_vc_jwt`` under the same rules and checks the signature with the key
object directly; tests hold it to joserfc's reading of every token.

A key's ``kid`` defaults to its RFC 7638 JWK thumbprint (base64url SHA-256).
"""

from tongban.credentials.keys.base import (
    ALG_ED25519,
    ALG_EDDSA,
    ALG_SM2SM3,
    COSE_ED25519,
    COSE_EDDSA,
    COSE_SM2SM3,
    SigningKey,
    VerifyKey,
)
from tongban.credentials.keys.ed25519 import Ed25519SigningKey, Ed25519VerifyKey
from tongban.credentials.keys.encoding import b64url_decode, b64url_encode, jwk_thumbprint
from tongban.credentials.keys.errors import (
    MESSAGES,
    CredentialError,
    InvalidKeyError,
    UnknownKeyError,
    message,
)
from tongban.credentials.keys.jose import JWS_REGISTRY, TongbanJWSRegistry
from tongban.credentials.keys.loading import (
    public_key_from_jwk,
    signing_key_from_jwk,
    signing_key_from_pem,
    signing_key_to_pem,
)
from tongban.credentials.keys.sm2 import HAS_SM2, SM2JoseKey, SM2SigningKey, SM2VerifyKey

__all__ = [
    "ALG_ED25519", "ALG_EDDSA", "ALG_SM2SM3", "COSE_ED25519", "COSE_EDDSA", "COSE_SM2SM3", "HAS_SM2",
    "JWS_REGISTRY", "MESSAGES", "CredentialError", "Ed25519SigningKey", "Ed25519VerifyKey", "InvalidKeyError",
    "SM2JoseKey", "SM2SigningKey", "SM2VerifyKey", "SigningKey", "TongbanJWSRegistry", "UnknownKeyError",
    "VerifyKey", "b64url_decode", "b64url_encode", "jwk_thumbprint", "message", "public_key_from_jwk",
    "signing_key_from_jwk", "signing_key_from_pem", "signing_key_to_pem",
]
