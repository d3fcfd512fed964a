"""The joserfc registry every JWS of the package is made and checked with."""

from __future__ import annotations

from typing import Any

from joserfc import jws
from joserfc.errors import InvalidKeyTypeError
from joserfc.jwa import JWS_ALGORITHMS, JWSAlgModel
from joserfc.jwa import EdDSAAlgorithm as _JoseEdDSAAlgorithm
from joserfc.registry import JWS_HEADER_REGISTRY

from tongban.credentials.keys.base import ALG_ED25519, ALG_EDDSA, ALG_SM2SM3
from tongban.credentials.keys.sm2 import SM2JoseKey, SM2SigningKey, SM2VerifyKey


class _EdDSA(_JoseEdDSAAlgorithm):
    """RFC 8037 ``EdDSA`` restricted to Ed25519 keys (joserfc's also takes Ed448).

    joserfc warns on every use that RFC 9864 deprecates ``EdDSA``; the deprecation is noted in
    this module's docstring instead, and ``Ed25519`` is accepted when verifying.
    """

    security_warning = None

    def check_key(self, key: Any) -> None:
        super().check_key(key)
        if key.curve_name != "Ed25519":
            raise InvalidKeyTypeError("EdDSA is used with Ed25519 keys only here")


class _SM2SM3(JWSAlgModel):
    """Private JOSE algorithm ``SM2SM3``: SM2 signature over SM3 (default ID), ``r || s``."""

    name = ALG_SM2SM3
    description = "SM2 signature with SM3 (GB/T 32918), tongban private profile"
    key_type = "EC"

    def check_key(self, key: Any) -> None:
        super().check_key(key)
        if not isinstance(key, SM2JoseKey):
            raise InvalidKeyTypeError("SM2SM3 needs an SM2 key")

    def sign(self, msg: bytes, key: Any) -> bytes:
        return SM2SigningKey(key.get_op_key("sign"), "-").sign(msg)

    def verify(self, msg: bytes, sig: bytes, key: Any) -> bool:
        return SM2VerifyKey(key.get_op_key("verify"), "-").verify(msg, sig)


class TongbanJWSRegistry(jws.JWSRegistry):
    """joserfc registry with tongban's algorithms and a closed set of header parameters."""

    default_header_registry = {name: JWS_HEADER_REGISTRY[name] for name in ("alg", "kid", "typ", "cty")}
    algorithms: dict[str, JWSAlgModel] = {}
    recommended: list[str] = []
    max_payload_length = 64 * 1024


TongbanJWSRegistry.register(_EdDSA())
TongbanJWSRegistry.register(next(a for a in JWS_ALGORITHMS if a.name == ALG_ED25519))
TongbanJWSRegistry.register(_SM2SM3())

#: The registry every JWS in this package is made and checked with.
JWS_REGISTRY = TongbanJWSRegistry(algorithms=[ALG_EDDSA, ALG_ED25519, ALG_SM2SM3])
