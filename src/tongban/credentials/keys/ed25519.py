"""Ed25519 keys (the default profile): JOSE ``EdDSA``/``Ed25519``, COSE -8/-19."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc.jwk import OKPKey

from tongban.credentials.keys.base import (
    ALG_ED25519,
    ALG_EDDSA,
    COSE_ED25519,
    COSE_EDDSA,
    SigningKey,
    VerifyKey,
)
from tongban.credentials.keys.encoding import b64url_encode, jwk_thumbprint
from tongban.credentials.keys.errors import InvalidKeyError


class Ed25519VerifyKey(VerifyKey):
    jose_algs = frozenset({ALG_EDDSA, ALG_ED25519})
    cose_algs = frozenset({COSE_EDDSA, COSE_ED25519})

    def __init__(self, public_key: Ed25519PublicKey, kid: str | None = None, alg: str = ALG_EDDSA) -> None:
        if not isinstance(public_key, Ed25519PublicKey):
            raise InvalidKeyError(detail="not an Ed25519 public key")
        if alg not in self.jose_algs:
            raise InvalidKeyError(detail=f"alg {alg!r} is not an Ed25519 algorithm")
        self._key = public_key
        self.raw = public_key.public_bytes_raw()
        self.alg = alg
        self.kid = kid or jwk_thumbprint(self._jwk_members())

    def _jwk_members(self) -> dict[str, Any]:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self.raw)}

    def verify(self, data: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def public_jwk(self) -> dict[str, Any]:
        return {**self._jwk_members(), "kid": self.kid, "alg": self.alg, "use": "sig"}

    @cached_property
    def jose_key(self) -> OKPKey:
        return OKPKey.import_key(self._key, {"kid": self.kid})


class Ed25519SigningKey(SigningKey):
    def __init__(self, private_key: Ed25519PrivateKey, kid: str | None = None, alg: str = ALG_EDDSA) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise InvalidKeyError(detail="not an Ed25519 private key")
        self._key = private_key
        self._public = Ed25519VerifyKey(private_key.public_key(), kid, alg)
        self.kid, self.alg = self._public.kid, alg
        self.cose_alg = COSE_ED25519 if alg == ALG_ED25519 else COSE_EDDSA

    @classmethod
    def generate(cls, kid: str | None = None, alg: str = ALG_EDDSA) -> Ed25519SigningKey:
        return cls(Ed25519PrivateKey.generate(), kid, alg)

    @classmethod
    def from_private_bytes(cls, raw: bytes, kid: str | None = None, alg: str = ALG_EDDSA) -> Ed25519SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(raw), kid, alg)

    @property
    def private_key(self) -> Ed25519PrivateKey:
        return self._key

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_key(self) -> Ed25519VerifyKey:
        return self._public

    def private_jwk(self) -> dict[str, Any]:
        return {**self._public.public_jwk(), "d": b64url_encode(self._key.private_bytes_raw())}

    @cached_property
    def jose_key(self) -> OKPKey:
        return OKPKey.import_key(self._key, {"kid": self.kid})
