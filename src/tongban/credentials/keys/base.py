"""Algorithm identifiers and the key abstraction (``VerifyKey``, ``SigningKey``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

ALG_EDDSA = "EdDSA"
ALG_ED25519 = "Ed25519"
ALG_SM2SM3 = "SM2SM3"  # private profile: not registered with IANA
COSE_EDDSA = -8
COSE_ED25519 = -19
COSE_SM2SM3 = -65537  # private use (RFC 9053 section 16.4: values below -65536)


class VerifyKey(ABC):
    """A public key with a ``kid`` that checks signatures of one profile."""

    kid: str
    #: JOSE ``alg`` this key is published with (in trust lists).
    alg: str
    #: JOSE ``alg`` values accepted with this key.
    jose_algs: frozenset[str]
    #: COSE ``alg`` values accepted with this key.
    cose_algs: frozenset[int]

    @abstractmethod
    def verify(self, data: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``data``."""

    @abstractmethod
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK with ``kid``, ``alg`` and ``use: sig``."""

    @property
    @abstractmethod
    def jose_key(self) -> Any:
        """The key as a joserfc key object (for ``joserfc.jws``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kid={self.kid!r}, alg={self.alg!r})"


class SigningKey(ABC):
    """A private issuer key with a ``kid`` and an algorithm."""

    kid: str
    alg: str
    cose_alg: int

    @abstractmethod
    def sign(self, data: bytes) -> bytes: ...

    @abstractmethod
    def public_key(self) -> VerifyKey: ...

    @abstractmethod
    def private_jwk(self) -> dict[str, Any]:
        """The private JWK (includes ``d``): for keystores only, never to be published."""

    @property
    @abstractmethod
    def jose_key(self) -> Any: ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kid={self.kid!r}, alg={self.alg!r})"
