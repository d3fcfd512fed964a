"""The compact QR form of a credential: ``TB1:`` + base45(zlib(COSE_Sign1(CBOR claims))).

The EU Digital COVID Certificate recipe with tongban's prefix and claim map:

1. the claims as a CBOR map (deterministic encoding, RFC 8949 section 4.2) using CWT claim keys
   (RFC 8392) where one fits and one private claim for the rest (layout below);
2. a COSE_Sign1 (RFC 9052, tag 18) over it: protected header ``{1: alg, 4: kid}`` with alg -8
   (EdDSA; -19, Ed25519, is accepted too) or -65537 (SM2SM3, private profile), empty
   unprotected header, no external AAD;
3. zlib (RFC 1950); 4. base45 (RFC 9285); 5. the prefix ``TB1:``.

Claim map (``claims`` as given to ``encode_qr_text`` → CBOR key):

=================  ==========================  ==============================================
claims key         CBOR key                    value
=================  ==========================  ==============================================
``issuer``         1 (CWT iss)                 text: the issuer id (as in the VC's ``issuer``)
``subject_id``     2 (CWT sub), optional       text: subject id or its hash
``valid_until``    4 (CWT exp), optional       int: POSIX seconds
``valid_from``     5 (CWT nbf)                 int: POSIX seconds
``issued_at``      6 (CWT iat), optional       int: POSIX seconds
``id``             7 (CWT cti)                 bytes: UTF-8 of the credential id (a URL/URN)
(private claim)    -65537                      map:
``type``             1                         text: certificate type code
``subject``          2, optional               map text → text/int/bool/null: subject fields
``status``           3, optional               array of [purpose, index, status list URL],
                                               purpose 0 = revocation, 1 = suspension
=================  ==========================  ==============================================

Both the QR text and the decompressed data are bounded (``MAX_TEXT`` characters,
``MAX_DECOMPRESSED`` bytes) so a crafted text cannot exhaust memory (decompression bombs).
Base45 and COSE_Sign1 are implemented here (a few dozen lines each, exactly as RFC 9285 and
RFC 9052 specify) rather than taken from packages: ``base45`` has had no release since 2022 and
``pycose`` pulls in ``ecdsa``, ``attrs`` and the unmaintained ``certvalidator``/``oscrypto``.
"""

from __future__ import annotations

import array
import io
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from tongban.credentials.keys import CredentialError, SigningKey, UnknownKeyError, VerifyKey

PREFIX = "TB1:"
#: Longest QR text accepted (characters, prefix included).
MAX_TEXT = 8 * 1024
#: Largest decompressed COSE message accepted (bytes).
MAX_DECOMPRESSED = 64 * 1024
COSE_SIGN1_TAG = 18

# CBOR keys
_ISS, _SUB, _EXP, _NBF, _IAT, _CTI = 1, 2, 4, 5, 6, 7
_TB = -65537
_TB_TYPE, _TB_SUBJECT, _TB_STATUS = 1, 2, 3
PURPOSE_CODES = {"revocation": 0, "suspension": 1}
_PURPOSE_NAMES = {code: name for name, code in PURPOSE_CODES.items()}
# COSE header labels
_ALG, _CRIT, _KID = 1, 2, 4


class QrError(CredentialError):
    default_code = "bad_claims"


# --- base45 (RFC 9285) --------------------------------------------------------------------

B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE = {c: i for i, c in enumerate(B45_ALPHABET)}


def b45encode(data: bytes) -> str:
    """Base45: each 2 bytes ``n = a*256 + b`` as ``c + 45*d + 45²*e`` written ``c d e``; a last odd byte as 2."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] << 8 | data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out.append(B45_ALPHABET[c] + B45_ALPHABET[d] + B45_ALPHABET[e])
    if len(data) % 2:
        e, c = divmod(data[-1], 45)
        out.append(B45_ALPHABET[c] + B45_ALPHABET[e])
    return "".join(out)


_B45_TABLE = bytes(_B45_VALUE.get(chr(i), 0xFF) for i in range(256))
if array.array("H").itemsize != 2:  # pragma: no cover - no CPython platform differs
    raise ImportError("base45 decoding needs 16-bit unsigned array items")


def b45decode(text: str) -> bytes:
    """Strict base45 decoding: rejects characters outside the alphabet, a dangling character,
    and groups worth more than 65535 (three characters) or 255 (a final two)."""
    if len(text) % 3 == 1:
        raise ValueError("base45 length leaves a single character")
    try:
        values = text.encode("ascii").translate(_B45_TABLE)
    except UnicodeEncodeError:
        raise ValueError("non-ASCII character in base45") from None
    if 0xFF in values:
        bad = text[values.index(0xFF)]
        raise ValueError(f"{bad!r} is not a base45 character")
    full = len(values) - len(values) % 3
    groups = [c + d * 45 + e * 2025 for c, d, e in zip(values[0:full:3], values[1:full:3], values[2:full:3],
                                                         strict=True)]
    if groups and max(groups) > 0xFFFF:
        raise ValueError("a base45 group is over 65535")
    out = array.array("H", groups)
    if sys.byteorder == "little":
        out.byteswap()
    data = out.tobytes()
    if full != len(values):
        n = values[-2] + values[-1] * 45
        if n > 0xFF:
            raise ValueError("final base45 pair is over 255")
        data += bytes((n,))
    return data


# --- CBOR helpers -------------------------------------------------------------------------


def _cbor_loads(data: bytes, what: str) -> Any:
    """One CBOR item, no trailing bytes, no duplicate map keys, bounded nesting."""
    fp = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(fp, max_depth=16, allow_duplicate_keys=False, allow_indefinite=False)
        item = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise QrError("bad_cbor", f"{what}: {exc}") from None
    if fp.tell() != len(data):
        raise QrError("bad_cbor", f"{what}: trailing bytes")
    return item


def _cbor_dumps(item: Any) -> bytes:
    return cbor2.dumps(item, canonical=True)


def _is_array(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


# --- COSE_Sign1 (RFC 9052 section 4.2, 4.4) -----------------------------------------------


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return _cbor_dumps(["Signature1", protected, b"", payload])


def cose_sign1(payload: bytes, key: SigningKey) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` with protected ``{1: alg, 4: kid}``."""
    protected = _cbor_dumps({_ALG: key.cose_alg, _KID: key.kid.encode("utf-8")})
    signature = key.sign(_sig_structure(protected, payload))
    return _cbor_dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


@dataclass(frozen=True)
class CoseSign1:
    alg: int
    kid: str
    payload: bytes
    to_be_signed: bytes
    signature: bytes

    def check_signature(self, key: VerifyKey) -> None:
        if self.alg not in key.cose_algs:
            raise QrError("alg_mismatch", f"COSE alg {self.alg} with a {key.alg} key")
        if not key.verify(self.to_be_signed, self.signature):
            raise QrError("bad_signature")


def parse_cose_sign1(data: bytes) -> CoseSign1:
    item = _cbor_loads(data, "COSE_Sign1")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise QrError("bad_cose", f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item = item.value
    if not _is_array(item) or len(item) != 4:
        raise QrError("bad_cose", "COSE_Sign1 is an array of 4")
    protected, unprotected, payload, signature = item
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping):
        raise QrError("bad_cose", "bad header buckets")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise QrError("bad_cose", "payload and signature are byte strings (no detached payload)")
    headers = _cbor_loads(protected, "protected header") if protected else {}
    if not isinstance(headers, Mapping):
        raise QrError("bad_cose", "the protected header is a map")
    if _CRIT in headers:
        raise QrError("bad_cose", "critical header parameters are not supported")
    if set(headers) & set(unprotected):
        raise QrError("bad_cose", "a header parameter is both protected and unprotected")
    alg, kid = headers.get(_ALG), headers.get(_KID)
    if type(alg) is not int:
        raise QrError("bad_cose", "the protected header needs an integer alg")
    if not isinstance(kid, bytes) or not kid:
        raise QrError("bad_cose", "the protected header needs a kid")
    try:
        kid_text = kid.decode("utf-8")
    except UnicodeDecodeError:
        raise QrError("bad_cose", "kid is not UTF-8") from None
    return CoseSign1(alg, kid_text, payload, _sig_structure(protected, payload), signature)


# --- claims -------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return type(value) is int


def _claims_to_cbor(claims: Mapping[str, Any]) -> dict[int, Any]:
    unknown = set(claims) - {"id", "issuer", "type", "subject_id", "subject", "valid_from", "valid_until",
                             "issued_at", "status"}
    if unknown:
        raise QrError(detail=f"unknown claims {sorted(unknown)}")
    for name in ("id", "issuer", "type"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise QrError(detail=f"{name} must be a non-empty string")
    if not _is_int(claims.get("valid_from")):
        raise QrError(detail="valid_from must be POSIX seconds (int)")
    out: dict[int, Any] = {_ISS: claims["issuer"], _NBF: claims["valid_from"], _CTI: claims["id"].encode("utf-8")}
    tb: dict[int, Any] = {_TB_TYPE: claims["type"]}
    for name, label in (("valid_until", _EXP), ("issued_at", _IAT)):
        if claims.get(name) is not None:
            if not _is_int(claims[name]):
                raise QrError(detail=f"{name} must be POSIX seconds (int)")
            out[label] = claims[name]
    if claims.get("valid_until") is not None and claims["valid_until"] < claims["valid_from"]:
        raise QrError(detail="valid_until is before valid_from")
    if claims.get("subject_id") is not None:
        if not isinstance(claims["subject_id"], str):
            raise QrError(detail="subject_id must be a string")
        out[_SUB] = claims["subject_id"]
    if claims.get("subject"):
        tb[_TB_SUBJECT] = _check_subject(claims["subject"])
    if claims.get("status"):
        rows = []
        for entry in claims["status"]:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("purpose"), str) or (
                entry["purpose"] not in PURPOSE_CODES
            ):
                raise QrError(detail="status entries are {purpose: revocation|suspension, index, list}")
            if not _is_int(entry.get("index")) or entry["index"] < 0 or not isinstance(entry.get("list"), str):
                raise QrError(detail="status index is a non-negative int and list a URL")
            rows.append([PURPOSE_CODES[entry["purpose"]], entry["index"], entry["list"]])
        tb[_TB_STATUS] = rows
    out[_TB] = tb
    return out


def _check_subject(subject: Any) -> dict[str, Any]:
    if not isinstance(subject, Mapping) or not all(isinstance(k, str) for k in subject):
        raise QrError(detail="subject is a map of field name to value")
    for value in subject.values():
        if value is not None and not isinstance(value, (str, int, bool)):
            raise QrError(detail="subject values are text, integers, booleans or null")
    return dict(subject)


def _claims_from_cbor(item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise QrError(detail="the claims are a CBOR map")
    tb = item.get(_TB)
    if not isinstance(tb, Mapping):
        raise QrError(detail="the tongban claim (-65537) is missing")
    iss, nbf, cti, type_code = item.get(_ISS), item.get(_NBF), item.get(_CTI), tb.get(_TB_TYPE)
    if not isinstance(iss, str) or not iss or not isinstance(type_code, str) or not type_code:
        raise QrError(detail="issuer and type are required text")
    if not _is_int(nbf):
        raise QrError(detail="nbf (valid_from) is a required integer")
    if not isinstance(cti, bytes):
        raise QrError(detail="cti (id) is a required byte string")
    try:
        credential_id = cti.decode("utf-8")
    except UnicodeDecodeError:
        raise QrError(detail="cti is not UTF-8") from None
    claims: dict[str, Any] = {"id": credential_id, "issuer": iss, "type": type_code, "valid_from": nbf,
                              "valid_until": None, "issued_at": None, "subject_id": None, "subject": {},
                              "status": []}
    for name, label in (("valid_until", _EXP), ("issued_at", _IAT)):
        if label in item:
            if not _is_int(item[label]):
                raise QrError(detail=f"{name} is an integer")
            claims[name] = item[label]
    if claims["valid_until"] is not None and claims["valid_until"] < nbf:
        raise QrError(detail="exp is before nbf")
    if _SUB in item:
        if not isinstance(item[_SUB], str):
            raise QrError(detail="sub is text")
        claims["subject_id"] = item[_SUB]
    if _TB_SUBJECT in tb:
        claims["subject"] = _check_subject(tb[_TB_SUBJECT])
    if _TB_STATUS in tb and not _is_array(tb[_TB_STATUS]):
        raise QrError(detail="status is an array")
    for row in tb.get(_TB_STATUS, ()):
        if not _is_array(row) or len(row) != 3 or not _is_int(row[0]) or row[0] not in _PURPOSE_NAMES:
            raise QrError(detail="status rows are [purpose 0|1, index, list URL]")
        if not _is_int(row[1]) or row[1] < 0 or not isinstance(row[2], str) or not row[2]:
            raise QrError(detail="status index is a non-negative integer and list a URL")
        claims["status"].append({"purpose": _PURPOSE_NAMES[row[0]], "index": row[1], "list": row[2]})
    return claims


# --- the QR text --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedQr:
    """A well-formed ``TB1:`` text: claims decoded, signature not yet checked."""

    cose: CoseSign1
    claims: dict[str, Any]

    @property
    def kid(self) -> str:
        return self.cose.kid


def encode_qr_text(claims: Mapping[str, Any], key: SigningKey) -> str:
    """``TB1:`` + base45(zlib(COSE_Sign1(CBOR(claims)))) signed by ``key``."""
    payload = _cbor_dumps(_claims_to_cbor(claims))
    text = PREFIX + b45encode(zlib.compress(cose_sign1(payload, key), 9))
    if len(text) > MAX_TEXT:
        raise QrError("oversized", f"the QR text would be over {MAX_TEXT} characters")
    return text


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_DECOMPRESSED + 1)
    except zlib.error as exc:
        raise QrError("bad_zlib", str(exc)) from None
    if len(out) > MAX_DECOMPRESSED or inflater.unconsumed_tail:
        raise QrError("too_large", f"over {MAX_DECOMPRESSED} bytes once decompressed")
    if not inflater.eof:
        raise QrError("bad_zlib", "truncated zlib stream")
    if inflater.unused_data:
        raise QrError("bad_zlib", "bytes after the zlib stream")
    return out


def parse_qr_text(text: str) -> ParsedQr:
    """Decodes a ``TB1:`` text up to its claims; every stage reports its own error code."""
    if not isinstance(text, str):
        raise QrError("bad_prefix", "the QR text is a string")
    if len(text) > MAX_TEXT:
        raise QrError("oversized", f"over {MAX_TEXT} characters")
    if not text.startswith(PREFIX):
        raise QrError("bad_prefix")
    try:
        compressed = b45decode(text[len(PREFIX):])
    except ValueError as exc:
        raise QrError("bad_base45", str(exc)) from None
    cose = parse_cose_sign1(_inflate(compressed))
    return ParsedQr(cose, _claims_from_cbor(_cbor_loads(cose.payload, "claims")))


def decode_qr_text(text: str, resolve_key: Callable[[str], VerifyKey | None]) -> dict[str, Any]:
    """The claims of a ``TB1:`` text whose signature verifies with ``resolve_key(kid)``.

    Raises ``CredentialError`` with code ``oversized``, ``bad_prefix``, ``bad_base45``,
    ``bad_zlib``, ``too_large``, ``bad_cbor``, ``bad_cose``, ``bad_claims``, ``unknown_key``,
    ``alg_mismatch`` or ``bad_signature``.
    """
    parsed = parse_qr_text(text)
    try:
        key = resolve_key(parsed.kid)
    except LookupError:
        key = None
    if key is None:
        raise UnknownKeyError(detail=f"kid {parsed.kid!r}")
    parsed.cose.check_signature(key)
    return parsed.claims


# --- images ---------------------------------------------------------------------------------


def _qr(text: str, error: str, mode: str | None = "alphanumeric") -> Any:
    import segno

    # The base45 alphabet plus ':' is QR's alphanumeric set: 5.5 bits a character.
    return segno.make_qr(text, error=error, mode=mode)


def qr_svg(text: str, *, scale: int = 4, border: int = 4, error: str = "q", mode: str | None = "alphanumeric") -> str:
    """The QR code as an SVG document (error correction Q by default, as the EU DCC advises);
    ``mode=None`` for other texts than ``TB1:`` (e.g. a presentation token)."""
    buffer = io.BytesIO()
    _qr(text, error, mode).save(buffer, kind="svg", scale=scale, border=border, xmldecl=False)
    return buffer.getvalue().decode("utf-8")


def qr_png(text: str, *, scale: int = 4, border: int = 4, error: str = "q") -> bytes:
    """The QR code as a PNG image."""
    buffer = io.BytesIO()
    _qr(text, error).save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
