"""Issuer keys, JWK import/export, the JOSE algorithm registry, and ``CredentialError``.

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

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from joserfc import jws
from joserfc.errors import InvalidKeyTypeError
from joserfc.jwa import JWS_ALGORITHMS, JWSAlgModel
from joserfc.jwa import EdDSAAlgorithm as _JoseEdDSAAlgorithm
from joserfc.jwk import ECKey, OKPKey
from joserfc.registry import JWS_HEADER_REGISTRY

try:  # Optional: the SM2 national-crypto profile (tongsuopy bundles a Tongsuo/OpenSSL build).
    from tongsuopy.crypto import hashes as _ts_hashes
    from tongsuopy.crypto import serialization as _ts_ser
    from tongsuopy.crypto.asymciphers import ec as _ts_ec
    from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature
except ImportError:  # pragma: no cover - exercised only where tongsuopy is absent
    _ts_hashes = _ts_ser = _ts_ec = _TsInvalidSignature = None  # type: ignore[assignment]

HAS_SM2 = _ts_ec is not None

ALG_EDDSA = "EdDSA"
ALG_ED25519 = "Ed25519"
ALG_SM2SM3 = "SM2SM3"  # private profile: not registered with IANA
COSE_EDDSA = -8
COSE_ED25519 = -19
COSE_SM2SM3 = -65537  # private use (RFC 9053 section 16.4: values below -65536)

_SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123

# --- errors -------------------------------------------------------------------------------

#: Every error and check code of the credentials package, with its Chinese and English text.
MESSAGES: dict[str, tuple[str, str]] = {
    # input and format
    "oversized": ("输入内容过大", "The input is too large"),
    "unrecognised_format": ("无法识别的证照格式（既不是 VC-JWT，也不是 TB1: 二维码文本）",
                            "Not a recognised credential (neither a VC-JWT nor a TB1: QR text)"),
    "malformed_jwt": ("VC-JWT 结构无效", "The VC-JWT is malformed"),
    "bad_header": ("VC-JWT 头部无效", "The VC-JWT header is invalid"),
    "unsupported_alg": ("不支持的签名算法", "Unsupported signature algorithm"),
    "invalid_credential": ("证照内容不符合 W3C 可验证凭证数据模型 2.0",
                           "The credential does not conform to the W3C VC Data Model 2.0"),
    "bad_prefix": ("二维码文本不是以 TB1: 开头", "The QR text does not start with TB1:"),
    "bad_base45": ("二维码文本不是有效的 Base45 编码", "The QR text is not valid base45"),
    "bad_zlib": ("二维码数据解压失败", "The QR data does not decompress (zlib)"),
    "too_large": ("解压后的数据超过上限（疑似压缩炸弹）",
                  "The decompressed data exceeds the limit (possible decompression bomb)"),
    "bad_cbor": ("二维码数据不是有效的 CBOR", "The QR data is not valid CBOR"),
    "bad_cose": ("二维码签名结构（COSE_Sign1）无效", "The QR signature structure (COSE_Sign1) is invalid"),
    "bad_claims": ("二维码中的证照声明无效", "The claims in the QR text are invalid"),
    # keys and signatures
    "unknown_key": ("签名密钥不在信任列表中", "The signing key is not in the trust list"),
    "alg_mismatch": ("签名算法与签发密钥不符", "The signature algorithm does not match the issuer's key"),
    "bad_signature": ("签名验证失败，证照可能被篡改或并非由该密钥签发",
                      "The signature does not verify: the credential was altered or not signed by this key"),
    "sm2_unavailable": ("本机未安装国密 SM2 支持（tongsuopy）", "SM2 support (tongsuopy) is not installed"),
    "invalid_key": ("密钥无效", "The key is invalid"),
    # status lists
    "status_list_malformed": ("状态列表格式无效", "The status list is malformed"),
    "status_list_length": ("状态列表条目少于 131,072 个", "The status list has fewer than 131,072 entries"),
    "status_index_out_of_range": ("状态索引超出状态列表范围", "The status index is outside the status list"),
    "status_unavailable": ("无法获取证照的状态列表", "The credential's status list is unavailable"),
    "status_purpose_mismatch": ("状态列表用途与证照状态条目不符",
                                "The status list's purpose does not match the credential's status entry"),
    # trust lists
    "trust_list_malformed": ("信任列表格式无效", "The trust list is malformed"),
    "trust_list_bad_signature": ("信任列表签名无效（与固定的根密钥不符）",
                                 "The trust list signature does not verify against the pinned root key"),
    "trust_list_wrong_region": ("信任列表所属地区与预期不符", "The trust list is for another region"),
    "trust_list_expired": ("信任列表已过期", "The trust list has expired"),
    "trust_list_not_yet_valid": ("信任列表尚未生效", "The trust list is not yet valid"),
    "trust_list_conflict": ("信任列表与已导入的地区冲突（密钥或签发机构重复）",
                            "The trust list conflicts with an imported region (duplicate key or issuer)"),
    # verification checks
    "ok": ("通过", "Passed"),
    "not_checked": ("未检查（前一项检查未通过）", "Not checked (an earlier check failed)"),
    "no_trusted_key": ("未能校验签名：信任列表中没有该签名密钥",
                       "Signature not checked: no trusted key has this key id"),
    "untrusted_issuer": ("签发机构不在信任列表中", "The issuer is not in the trust list"),
    "issuer_mismatch": ("证照声明的签发机构与签名密钥的所有者不符",
                        "The credential's issuer is not the owner of the signing key"),
    "key_not_valid": ("签发时该签名密钥不在有效期内", "The signing key was not valid when the credential was issued"),
    "not_yet_valid": ("证照尚未生效", "The credential is not yet valid"),
    "expired": ("证照已过期", "The credential has expired"),
    "revoked": ("证照已被吊销", "The credential has been revoked"),
    "suspended": ("证照已被暂停使用", "The credential is suspended"),
}


def message(code: str) -> tuple[str, str]:
    """The (Chinese, English) text of a code."""
    return MESSAGES.get(code, ("无效", "Invalid"))


class CredentialError(ValueError):
    """Base of every error in the credentials package: a stable ``code`` and bilingual text.

    ``detail`` is a short technical explanation (English) appended to both messages.
    """

    default_code = "invalid_credential"

    def __init__(self, code: str | None = None, detail: str = "") -> None:
        self.code = code or self.default_code
        self.detail = detail
        zh, en = message(self.code)
        self.message_zh = f"{zh}：{detail}" if detail else zh
        self.message_en = f"{en}: {detail}" if detail else en
        super().__init__(f"{self.code}: {self.message_en}")


class InvalidKeyError(CredentialError):
    default_code = "invalid_key"


class UnknownKeyError(CredentialError):
    default_code = "unknown_key"


# --- base64url and JWK helpers ----------------------------------------------------------


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


# --- the key abstraction ----------------------------------------------------------------


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


# --- Ed25519 --------------------------------------------------------------------------------


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


# --- SM2 (private national-crypto profile) ----------------------------------------------


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


# --- loading keys -----------------------------------------------------------------------


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


# --- the JOSE algorithm registry --------------------------------------------------------


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
