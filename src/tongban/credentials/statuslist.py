"""W3C Bitstring Status List v1.0: revocation and suspension of credentials.

A list is a bitstring of at least 131,072 entries (16 KiB); entry ``i`` is bit ``i`` counted from
the left-most (most significant) bit of the first byte; a set bit means revoked (purpose
``revocation``, final) or suspended (purpose ``suspension``, can be lifted). ``encodedList`` is
the multibase base64url (prefix ``u``, no padding) of the GZIP-compressed bitstring. Only
``statusSize`` 1 is supported (the spec lets conforming processors do so).

Decoding guards against GZIP bombs: the expanded bitstring is capped (``MAX_BYTES``, 16 MiB by
default, i.e. 134 million entries) and read incrementally, never inflated whole first.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from tongban.credentials.keys import CredentialError
from tongban.credentials.vc import VC_V2_CONTEXT, format_datetime

MIN_ENTRIES = 131_072
#: Largest uncompressed bitstring accepted when decoding (bytes).
MAX_BYTES = 16 * 1024 * 1024
#: Largest ``encodedList`` accepted (characters).
MAX_ENCODED = 4 * 1024 * 1024
DEFAULT_TTL_MS = 300_000  # the spec's default when ttl is absent
PURPOSES = ("revocation", "suspension")


class StatusListError(CredentialError):
    default_code = "status_list_malformed"


def _purposes(purpose: str | Sequence[str]) -> tuple[str, ...]:
    purposes = (purpose,) if isinstance(purpose, str) else tuple(purpose)
    if not purposes or not all(isinstance(p, str) and p for p in purposes):
        raise StatusListError(detail="statusPurpose is one or more strings")
    return purposes


class StatusList:
    """A bitstring status list of ``size`` entries (a multiple of 8, at least 131,072)."""

    def __init__(
        self,
        size: int = MIN_ENTRIES,
        purpose: str | Sequence[str] = "revocation",
        *,
        ttl_ms: int = DEFAULT_TTL_MS,
        min_entries: int = MIN_ENTRIES,
    ) -> None:
        if not isinstance(size, int) or size < min_entries:
            raise StatusListError("status_list_length", f"{size} < {min_entries}")
        if size % 8:
            raise StatusListError(detail="the size is a whole number of bytes (a multiple of 8)")
        self._bits = bytearray(size // 8)
        self.purposes = _purposes(purpose)
        self.ttl_ms = ttl_ms

    @classmethod
    def _from_bytes(cls, bits: bytes, purposes: tuple[str, ...], ttl_ms: int) -> StatusList:
        self = cls.__new__(cls)
        self._bits, self.purposes, self.ttl_ms = bytearray(bits), purposes, ttl_ms
        return self

    @property
    def purpose(self) -> str:
        return self.purposes[0]

    @property
    def size(self) -> int:
        return len(self._bits) * 8

    def __len__(self) -> int:
        return self.size

    def _check(self, index: int) -> None:
        if type(index) is not int or not 0 <= index < len(self._bits) << 3:
            raise StatusListError("status_index_out_of_range", f"{index!r} not in [0, {self.size})")

    def get(self, index: int) -> bool:
        if type(index) is not int or not 0 <= index < len(self._bits) << 3:  # _check, inlined: hot path
            self._check(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        if value:
            self._bits[index >> 3] |= 0x80 >> (index & 7)
        else:
            self._bits[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF

    def clear(self, index: int) -> None:
        self.set(index, False)

    def set_indices(self) -> Iterator[int]:
        """The indices whose bit is set, in order."""
        for byte_index, byte in enumerate(self._bits):
            if byte:
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        yield byte_index * 8 + bit

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    # --- encodedList ------------------------------------------------------------------------

    def encode(self) -> str:
        """``u`` + base64url (no padding) of the GZIP (mtime 0) of the bitstring."""
        compressed = gzip.compress(bytes(self._bits), compresslevel=6, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(
        cls,
        encoded: str,
        purpose: str | Sequence[str] = "revocation",
        *,
        ttl_ms: int = DEFAULT_TTL_MS,
        min_entries: int = MIN_ENTRIES,
        max_bytes: int = MAX_BYTES,
    ) -> StatusList:
        """Decodes an ``encodedList``; ``status_list_length`` if under ``min_entries`` entries."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise StatusListError(detail="encodedList is multibase base64url (prefix 'u')")
        if len(encoded) > MAX_ENCODED:
            raise StatusListError("too_large", f"encodedList over {MAX_ENCODED} characters")
        body = encoded[1:]
        if "=" in body or len(body) % 4 == 1:
            raise StatusListError(detail="encodedList is base64url without padding")
        try:
            compressed = base64.b64decode(body.translate(_URLSAFE) + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise StatusListError(detail="encodedList is not base64url") from None
        bits = gunzip_bounded(compressed, max_bytes)
        if len(bits) * 8 < min_entries:
            raise StatusListError("status_list_length", f"{len(bits) * 8} entries < {min_entries}")
        return cls._from_bytes(bits, _purposes(purpose), ttl_ms)

    # --- the BitstringStatusListCredential ------------------------------------------------

    def to_credential(
        self,
        list_url: str,
        issuer: str | dict[str, Any],
        *,
        valid_from: dt.datetime | float | None = None,
        valid_until: dt.datetime | float | None = None,
        include_ttl: bool = True,
    ) -> dict[str, Any]:
        """The (unsecured) ``BitstringStatusListCredential`` publishing this list at ``list_url``.

        Secure it like any credential (``vc.issue_vc_jwt``), with the same key profile as the
        credentials it serves, as the spec advises.
        """
        credential: dict[str, Any] = {
            "@context": [VC_V2_CONTEXT],
            "id": list_url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer,
            "validFrom": format_datetime(valid_from if valid_from is not None else dt.datetime.now(dt.UTC)),
            "credentialSubject": {
                "id": f"{list_url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": self.purpose if len(self.purposes) == 1 else list(self.purposes),
                "encodedList": self.encode(),
            },
        }
        if valid_until is not None:
            credential["validUntil"] = format_datetime(valid_until)
        if include_ttl:
            credential["credentialSubject"]["ttl"] = self.ttl_ms
        return credential

    @classmethod
    def from_credential(
        cls, credential: dict[str, Any], *, min_entries: int = MIN_ENTRIES, max_bytes: int = MAX_BYTES
    ) -> StatusList:
        """The list of a ``BitstringStatusListCredential`` whose proof the caller has checked."""
        types = credential.get("type") if isinstance(credential, dict) else None
        if not isinstance(types, list) or "BitstringStatusListCredential" not in types:
            raise StatusListError(detail="type must include BitstringStatusListCredential")
        subject = credential.get("credentialSubject")
        if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
            raise StatusListError(detail="credentialSubject.type must be BitstringStatusList")
        purpose = subject.get("statusPurpose")
        if not isinstance(purpose, (str, list)):
            raise StatusListError(detail="statusPurpose is one or more strings")
        ttl = subject.get("ttl", DEFAULT_TTL_MS)
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            raise StatusListError(detail="ttl is a non-negative integer (milliseconds)")
        return cls.decode(subject.get("encodedList"), purpose, ttl_ms=ttl, min_entries=min_entries,
                          max_bytes=max_bytes)

    def __repr__(self) -> str:
        return f"StatusList(size={self.size}, purposes={self.purposes!r})"


_URLSAFE = str.maketrans("-_", "+/")


def gunzip_bounded(data: bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """GZIP (RFC 1952) decompression of exactly one member, refusing output over ``max_bytes``."""
    inflater = zlib.decompressobj(wbits=31)  # 16 + 15: GZIP header and trailer checked by zlib
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError(detail=f"not GZIP: {exc}") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise StatusListError("too_large", f"over {max_bytes} bytes once decompressed")
    if not inflater.eof:
        raise StatusListError(detail="truncated GZIP data")
    if inflater.unused_data:
        raise StatusListError(detail="bytes after the GZIP member")
    return out


def status_entry(purpose: str, index: int, list_url: str, entry_id: str | None = None) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` for a credential's ``credentialStatus``."""
    if purpose not in PURPOSES:
        raise StatusListError(detail=f"purpose is one of {PURPOSES}")
    if not isinstance(index, int) or index < 0:
        raise StatusListError("status_index_out_of_range", repr(index))
    return {
        "id": entry_id or f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
