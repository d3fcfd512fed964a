"""SM2 with SM3 keys (the private national-crypto profile), when ``tongsuopy`` is installed."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from joserfc.errors import InvalidKeyTypeError
from joserfc.jwk import ECKey

from tongban.credentials.keys.base import ALG_SM2SM3, COSE_SM2SM3, SigningKey, VerifyKey
from tongban.credentials.keys.encoding import b64url_decode, b64url_encode, jwk_thumbprint
from tongban.credentials.keys.errors import CredentialError, InvalidKeyError

try:  # Optional: the SM2 national-crypto profile (tongsuopy bundles a Tongsuo/OpenSSL build).
    from tongsuopy.crypto import hashes as _ts_hashes
    from tongsuopy.crypto import serialization as _ts_ser
    from tongsuopy.crypto.asymciphers import ec as _ts_ec
    from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature
except ImportError:  # pragma: no cover - exercised only where tongsuopy is absent
    _ts_hashes = _ts_ser = _ts_ec = _TsInvalidSignature = None  # type: ignore[assignment]

HAS_SM2 = _ts_ec is not None

_SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123



def _require_sm2() -> None:
    if not HAS_SM2:
        raise CredentialError("sm2_unavailable", "install tongsuopy==1.0.1")


def _int32(value: int) -> str:
    return b64url_encode(value.to_bytes(32, "big"))


class _SM2Binding:
    """joserfc key binding for SM2 keys held by tongsuopy (JWK ``kty: EC``, ``crv: SM2``)."""

    use_key_ops_registry = ECKey.binding.use_key_ops_registry
    validate_dict_key_registry = ECKey.binding.validate_dict_key_registry
    validate_dict_key_use_operations = ECKey.binding.validate_dict_key_use_operations

    @classmethod
    def convert_raw_key_to_dict(cls, raw_key: Any, private: bool) -> dict[str, Any]:
        public = raw_key.public_key() if private else raw_key
        numbers = public.public_numbers()
        out = {"crv": "SM2", "x": _int32(numbers.x), "y": _int32(numbers.y)}
        if private:
            out["d"] = _int32(raw_key.private_numbers().private_value)
        return out

    @classmethod
    def import_from_dict(cls, value: dict[str, Any]) -> Any:
        return _sm2_from_jwk(value)

    @classmethod
    def import_from_bytes(cls, value: bytes, password: str | bytes | None = None) -> Any:
        raise InvalidKeyTypeError("SM2 keys are imported from JWK only")


class SM2JoseKey(ECKey):
    """An ``ECKey`` for joserfc whose native key is a tongsuopy SM2 key."""

    binding = _SM2Binding  # type: ignore[assignment]

    @property
    def is_private(self) -> bool:
        return hasattr(self.raw_value, "private_numbers")

    @property
    def public_key(self) -> Any:  # type: ignore[override]
        return self.raw_value.public_key() if self.is_private else self.raw_value

    @property
    def private_key(self) -> Any:
        return self.raw_value if self.is_private else None

    @property
    def curve_name(self) -> str:
        return "SM2"

    @property
    def curve_key_size(self) -> int:
        return 256

    def exchange_derive_key(self, key: Any) -> bytes:
        raise InvalidKeyTypeError("SM2 keys here are for signatures only")


def _sm2_from_jwk(jwk: dict[str, Any]) -> Any:
    _require_sm2()
    if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
        raise InvalidKeyError(detail="not an SM2 JWK")
    try:
        x, y = b64url_decode(jwk["x"]), b64url_decode(jwk["y"])
        if len(x) != 32 or len(y) != 32:
            raise ValueError("SM2 coordinates are 32 bytes")
        public = _ts_ec.EllipticCurvePublicKey.from_encoded_point(_ts_ec.SM2(), b"\x04" + x + y)
        if "d" in jwk:
            d = b64url_decode(jwk["d"])
            if len(d) != 32:
                raise ValueError("SM2 private scalar is 32 bytes")
            private = _ts_ec.derive_private_key(int.from_bytes(d, "big"), _ts_ec.SM2())
            if private.public_key().public_numbers() != public.public_numbers():
                raise ValueError("d does not match x, y")
            return private
        return public
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidKeyError(detail=f"bad SM2 JWK: {exc}") from None


class SM2VerifyKey(VerifyKey):
    jose_algs = frozenset({ALG_SM2SM3})
    cose_algs = frozenset({COSE_SM2SM3})

    def __init__(self, public_key: Any, kid: str | None = None) -> None:
        _require_sm2()
        if not isinstance(getattr(public_key, "curve", None), _ts_ec.SM2) or hasattr(public_key, "private_numbers"):
            raise InvalidKeyError(detail="not an SM2 public key")
        self._key = public_key
        self.alg = ALG_SM2SM3
        self.kid = kid or jwk_thumbprint(self._jwk_members())

    def _jwk_members(self) -> dict[str, Any]:
        return {"kty": "EC", **_SM2Binding.convert_raw_key_to_dict(self._key, private=False)}

    def verify(self, data: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < _SM2_ORDER and 0 < s < _SM2_ORDER):
            return False
        try:
            # SM3(Z_A || data) with the default distinguishing ID, as GB/T 32918 specifies.
            self._key.verify(encode_dss_signature(r, s), data, _ts_ec.ECDSA(_ts_hashes.SM3()))
        except _TsInvalidSignature:
            return False
        return True

    def public_jwk(self) -> dict[str, Any]:
        return {**self._jwk_members(), "kid": self.kid, "alg": self.alg, "use": "sig"}

    @cached_property
    def jose_key(self) -> SM2JoseKey:
        return SM2JoseKey(self._key, self._key, {"kid": self.kid})


class SM2SigningKey(SigningKey):
    cose_alg = COSE_SM2SM3

    def __init__(self, private_key: Any, kid: str | None = None) -> None:
        _require_sm2()
        if not isinstance(getattr(private_key, "curve", None), _ts_ec.SM2) or not hasattr(
            private_key, "private_numbers"
        ):
            raise InvalidKeyError(detail="not an SM2 private key")
        self._key = private_key
        self._public = SM2VerifyKey(private_key.public_key(), kid)
        self.kid, self.alg = self._public.kid, ALG_SM2SM3

    @classmethod
    def generate(cls, kid: str | None = None) -> SM2SigningKey:
        _require_sm2()
        return cls(_ts_ec.generate_private_key(_ts_ec.SM2()), kid)

    @property
    def private_key(self) -> Any:
        return self._key

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(data, _ts_ec.ECDSA(_ts_hashes.SM3())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def public_key(self) -> SM2VerifyKey:
        return self._public

    def private_jwk(self) -> dict[str, Any]:
        return {**self._public.public_jwk(), "d": _int32(self._key.private_numbers().private_value)}

    @cached_property
    def jose_key(self) -> SM2JoseKey:
        return SM2JoseKey(self._key, self._key, {"kid": self.kid})
