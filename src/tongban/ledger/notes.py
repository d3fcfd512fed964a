"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).

A signed note is ``text`` (ending in a newline), a blank line, then signature lines
``— <key name> <base64(uint32 key ID || signature)>``. Key IDs follow the spec's
recommendation: the first 4 bytes, big-endian, of SHA-256(name || 0x0A || type || pubkey).

Signature types:

* Ed25519, type byte ``0x01`` (the spec's own type; what witnesses and Go tools speak).
* SM2 with SM3 (GB/T 32918, default distinguishing ID ``1234567812345678``), for
  national-crypto deployments. The spec assigns no byte to SM2; ``0xfa``-``0xfe`` are
  reserved for the spec itself, and ``0xff`` is for types "without an identifier byte
  assigned by this specification", to be followed by a longer identifier. So the type is
  ``0xff || b"tongban/sm2-sm3/v1"``; the public key is the 65-byte uncompressed SEC1
  point and the signature is fixed-length ``r || s`` (32 bytes each, big-endian), not
  variable-length DER. Needs the optional ``tongsuopy`` package; other tools will (as
  the spec requires) ignore these signature lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

try:  # Optional: SM2 support. tongsuopy bundles its own Tongsuo (OpenSSL fork) build.
    from tongsuopy.crypto import hashes as _ts_hashes
    from tongsuopy.crypto import serialization as _ts_ser
    from tongsuopy.crypto.asymciphers import ec as _ts_ec
    from tongsuopy.crypto.exceptions import InvalidSignature as _TsInvalidSignature
except ImportError:  # pragma: no cover - exercised only where tongsuopy is absent
    _ts_hashes = _ts_ser = _ts_ec = _TsInvalidSignature = None  # type: ignore[assignment]

ED25519_TYPE = b"\x01"
SM2_TYPE = b"\xff" + b"tongban/sm2-sm3/v1"
MAX_SIGNATURES = 100  # The spec says accept at least 16; Go's reference accepts 100.
_SM2_ORDER = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # Control characters other than newline.
_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # int() would also accept "+1", "1_0" and "١".


class NoteError(ValueError):
    """Base class for every note and checkpoint failure."""


class MalformedNoteError(NoteError):
    """The note or checkpoint text does not follow the format."""


class UnverifiedNoteError(NoteError):
    """No signature from a known key: the note MUST be rejected."""


class InvalidSignatureError(NoteError):
    """A signature from a known key did not verify: the whole note is rejected."""


class KeyFormatError(ValueError):
    """A verifier or signer key string is malformed or its key ID does not match."""


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): no stray characters or bad padding."""
    try:
        data = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc
    if _b64encode(data) != text:  # reject non-canonical encodings (non-zero pad bits)
        raise ValueError("non-canonical base64")
    return data


def is_valid_name(name: str) -> bool:
    """Key names are non-empty, without Unicode spaces or '+' (and, in a note, no controls)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name) and not _CONTROL.search(name)


def key_id(name: str, type_and_key: bytes) -> int:
    """SHA-256(name || 0x0A || signature type || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + type_and_key).digest()
    return int.from_bytes(digest[:4], "big")


class Verifier(ABC):
    """A named public key that checks note signatures."""

    def __init__(self, name: str, type_and_key: bytes) -> None:
        if not is_valid_name(name):
            raise KeyFormatError(f"invalid key name {name!r}")
        self.name = name
        self.type_and_key = type_and_key
        self.key_id = key_id(name, type_and_key)

    @abstractmethod
    def verify(self, msg: bytes, sig: bytes) -> bool: ...

    def verifier_key(self) -> str:
        """``<name>+<hex key ID>+<base64(type || public key)>``, the form shared with clients."""
        return f"{self.name}+{self.key_id:08x}+{_b64encode(self.type_and_key)}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.verifier_key()!r})"


class Signer(ABC):
    """A named private key that signs notes."""

    name: str
    key_id: int

    @abstractmethod
    def sign(self, msg: bytes) -> bytes: ...

    @abstractmethod
    def verifier(self) -> Verifier: ...


class Ed25519Verifier(Verifier):
    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        super().__init__(name, ED25519_TYPE + public_key.public_bytes_raw())
        self.public_key = public_key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            self.public_key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True


class Ed25519Signer(Signer):
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._verifier = Ed25519Verifier(name, private_key.public_key())
        self.name, self.key_id = name, self._verifier.key_id
        self._key = private_key

    def sign(self, msg: bytes) -> bytes:
        return self._key.sign(msg)

    def verifier(self) -> Ed25519Verifier:
        return self._verifier


def _require_tongsuopy() -> None:
    if _ts_ec is None:
        raise RuntimeError("SM2 signatures need the optional package tongsuopy==1.0.1")


class SM2Verifier(Verifier):
    def __init__(self, name: str, public_key: Any) -> None:
        _require_tongsuopy()
        point = public_key.public_bytes(_ts_ser.Encoding.X962, _ts_ser.PublicFormat.UncompressedPoint)
        super().__init__(name, SM2_TYPE + point)
        self.public_key = public_key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        if len(sig) != 64:
            return False
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        if not (0 < r < _SM2_ORDER and 0 < s < _SM2_ORDER):
            return False
        try:
            self.public_key.verify(encode_dss_signature(r, s), msg, _ts_ec.ECDSA(_ts_hashes.SM3()))
        except _TsInvalidSignature:
            return False
        return True


class SM2Signer(Signer):
    def __init__(self, name: str, private_key: Any) -> None:
        _require_tongsuopy()
        self._verifier = SM2Verifier(name, private_key.public_key())
        self.name, self.key_id = name, self._verifier.key_id
        self._key = private_key

    def sign(self, msg: bytes) -> bytes:
        # tongsuopy signs SM3(Z_A || msg) with the default ID, as GB/T 32918 specifies.
        r, s = decode_dss_signature(self._key.sign(msg, _ts_ec.ECDSA(_ts_hashes.SM3())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verifier(self) -> SM2Verifier:
        return self._verifier


def parse_verifier_key(vkey: str) -> Verifier:
    """Parses ``<name>+<hex key ID>+<base64(type || public key)>`` and checks the key ID."""
    parts = vkey.split("+", 2)  # only 2 splits: base64 itself may contain '+'
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]) or not is_valid_name(parts[0]):
        raise KeyFormatError("malformed verifier key")
    name, hex_id, b64 = parts
    try:
        blob = _b64decode(b64)
    except ValueError as exc:
        raise KeyFormatError("malformed verifier key") from exc
    verifier: Verifier
    if blob[:1] == ED25519_TYPE and len(blob) == 33:
        try:
            verifier = Ed25519Verifier(name, Ed25519PublicKey.from_public_bytes(blob[1:]))
        except ValueError as exc:
            raise KeyFormatError("invalid Ed25519 public key") from exc
    elif blob.startswith(SM2_TYPE) and len(blob) == len(SM2_TYPE) + 65:
        _require_tongsuopy()
        try:
            point = _ts_ec.EllipticCurvePublicKey.from_encoded_point(_ts_ec.SM2(), blob[len(SM2_TYPE) :])
        except ValueError as exc:
            raise KeyFormatError("invalid SM2 public key") from exc
        verifier = SM2Verifier(name, point)
    else:
        raise KeyFormatError("unknown signature type or wrong key length")
    if verifier.key_id != int(hex_id, 16):
        raise KeyFormatError("key ID does not match the key")
    return verifier


def signer_from_note_key(skey: str) -> Ed25519Signer:
    """Parses Go's ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` (interop, tests)."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not re.fullmatch(r"[0-9a-f]{8}", parts[3]):
        raise KeyFormatError("malformed signer key")
    try:
        blob = _b64decode(parts[4])
    except ValueError as exc:
        raise KeyFormatError("malformed signer key") from exc
    if blob[:1] != ED25519_TYPE or len(blob) != 33 or not is_valid_name(parts[2]):
        raise KeyFormatError("malformed signer key")
    signer = Ed25519Signer(parts[2], Ed25519PrivateKey.from_private_bytes(blob[1:]))
    if signer.key_id != int(parts[3], 16):
        raise KeyFormatError("key ID does not match the key")
    return signer


# --- notes ------------------------------------------------------------------------------


class OpenedNote(NamedTuple):
    text: str
    verified_names: list[str]


def _check_text(text: str) -> None:
    if not text.endswith("\n") or _CONTROL.search(text):
        raise MalformedNoteError("note text must end with a newline and contain no control characters")


def sign_note(text: str, signers: Iterable[Signer]) -> str:
    """Returns the signed note: ``text``, a blank line, one signature line per signer."""
    _check_text(text)
    msg = text.encode("utf-8")
    lines = []
    for signer in signers:
        if not is_valid_name(signer.name):
            raise NoteError(f"invalid signer name {signer.name!r}")
        blob = signer.key_id.to_bytes(4, "big") + signer.sign(msg)
        lines.append(f"\u2014 {signer.name} {_b64encode(blob)}\n")
    if not lines:
        raise NoteError("a signed note needs at least one signer")
    return text + "\n" + "".join(lines)


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Checks a signed note; returns its text and the names of the keys that verified.

    Per the spec: signatures from unknown keys are ignored; a bad signature from a known
    key rejects the note; a note with no verified signature is rejected.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("note is not valid UTF-8") from None
    if _CONTROL.search(note):
        raise MalformedNoteError("note contains control characters")
    split = note.rfind("\n\n")  # the LAST blank line separates text from signatures
    if split < 0 or not note.endswith("\n"):
        raise MalformedNoteError("no signature block")
    text, sig_block = note[: split + 1], note[split + 2 : -1]
    sig_lines = sig_block.split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise MalformedNoteError("too many signatures")
    known: dict[tuple[str, int], list[Verifier]] = {}
    for v in verifiers:
        same = known.setdefault((v.name, v.key_id), [])
        if all(o.type_and_key != v.type_and_key for o in same):
            same.append(v)
    msg = text.encode("utf-8")
    verified: list[str] = []
    seen: set[tuple[str, int, bytes]] = set()
    for line in sig_lines:
        fields = line.split(" ")
        if len(fields) != 3 or fields[0] != "\u2014" or not is_valid_name(fields[1]):
            raise MalformedNoteError(f"malformed signature line {line!r}")
        try:
            blob = _b64decode(fields[2])
        except ValueError:
            raise MalformedNoteError(f"malformed signature line {line!r}") from None
        if len(blob) < 5:
            raise MalformedNoteError(f"signature too short in {line!r}")
        name, kid, sig = fields[1], int.from_bytes(blob[:4], "big"), blob[4:]
        candidates = known.get((name, kid), [])
        if not candidates or (name, kid, sig) in seen:
            continue  # unknown keys MUST be ignored; repeats add nothing
        if len(candidates) > 1:
            raise NoteError(f"ambiguous key {name}+{kid:08x}")
        if not candidates[0].verify(msg, sig):
            raise InvalidSignatureError(f"invalid signature for key {name}+{kid:08x}")
        seen.add((name, kid, sig))
        if name not in verified:
            verified.append(name)
    if not verified:
        raise UnverifiedNoteError("note has no signature from a known key")
    return OpenedNote(text, verified)


# --- checkpoints ------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        return format_checkpoint(self.origin, self.size, self.root, self.extensions)


def format_checkpoint(origin: str, size: int, root: bytes, extensions: Iterable[str] = ()) -> str:
    """Checkpoint body: origin, decimal size, base64 root, extension lines; newline-terminated."""
    lines = [origin, str(size), _b64encode(root), *extensions]
    if size < 0 or any(not line or "\n" in line or _CONTROL.search(line) for line in lines):
        raise MalformedNoteError("checkpoint lines must be non-empty single lines")
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str, *, hash_size: int = 32) -> Checkpoint:
    """Parses (does not verify) a checkpoint body, e.g. ``open_note(...).text``."""
    if not text.endswith("\n") or _CONTROL.search(text):
        raise MalformedNoteError("checkpoint must end with a newline, without control characters")
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise MalformedNoteError("checkpoint needs origin, size and root, and no empty lines")
    origin, size, root_b64, *extensions = lines
    if not _DECIMAL.fullmatch(size) or int(size) >= 1 << 64:
        raise MalformedNoteError(f"bad tree size {size!r}")
    try:
        root = _b64decode(root_b64)
    except ValueError:
        raise MalformedNoteError("bad root hash encoding") from None
    if len(root) != hash_size:
        raise MalformedNoteError(f"root hash must be {hash_size} bytes")
    return Checkpoint(origin, int(size), root, tuple(extensions))


def open_checkpoint(note: str | bytes, verifiers: Iterable[Verifier], origin: str) -> Checkpoint:
    """Verifies a signed checkpoint and checks it is for the expected log ``origin``."""
    checkpoint = parse_checkpoint(open_note(note, verifiers).text)
    if checkpoint.origin != origin:
        raise NoteError(f"checkpoint is for {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


# --- private keys (the keystore itself lives on the Django side) ------------------------


def generate_ed25519() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def generate_sm2() -> Any:
    _require_tongsuopy()
    return _ts_ec.generate_private_key(_ts_ec.SM2())


def private_key_to_pem(key: Any, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the library's best scheme when a password is given."""
    lib = serialization if isinstance(key, Ed25519PrivateKey) else _ts_ser
    if lib is None:
        raise TypeError("unsupported private key type")
    enc = lib.BestAvailableEncryption(password) if password else lib.NoEncryption()
    return key.private_bytes(lib.Encoding.PEM, lib.PrivateFormat.PKCS8, enc)  # type: ignore[no-any-return]


def load_private_key_pem(pem: bytes, password: bytes | None = None) -> Any:
    """Loads an Ed25519 (cryptography) or SM2 (tongsuopy) PKCS#8 PEM private key."""
    try:
        key = serialization.load_pem_private_key(pem, password)
    except (UnsupportedAlgorithm, ValueError) as exc:
        # cryptography knows neither the SM2 curve nor the SM4 cipher tongsuopy encrypts with.
        if _ts_ser is None:
            raise
        try:
            key = _ts_ser.load_pem_private_key(pem, password)
        except (ValueError, TypeError) as ts_exc:
            raise ValueError(f"cannot load private key: {exc} / tongsuopy: {ts_exc}") from None
        if not isinstance(getattr(key, "curve", None), _ts_ec.SM2):
            raise TypeError("only Ed25519 and SM2 keys are supported") from None
        return key
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("only Ed25519 and SM2 keys are supported")
    return key
