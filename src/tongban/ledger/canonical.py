"""Canonical bytes for ledger entries, and keyed hashes that keep identifiers out of it.

A ledger entry's leaf hash covers bytes, so two services that describe the same event
must produce the same bytes: RFC 8785 (JCS) fixes key order, number formatting and string
escaping. It also refuses what JSON cannot carry exactly (NaN, integers beyond 2**53,
non-string keys) with ``rfc8785.CanonicalizationError`` (a ``ValueError``).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Any

import rfc8785

MIN_SECRET_BYTES = 16


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 canonical UTF-8 JSON serialisation of ``obj``."""
    return rfc8785.dumps(obj)


def normalise_identifier(identifier: str) -> str:
    """NFKC, then strip and uppercase.

    NFKC first because IMEs often produce full-width forms (``１１０１０５…Ｘ``) that must
    hash like their ASCII twins; uppercase because the check character of a resident ID
    number is written as both ``x`` and ``X``.
    """
    return unicodedata.normalize("NFKC", identifier).strip().upper()


def keyed_subject_hash(secret: bytes, identifier: str) -> str:
    """Hex HMAC-SHA256 of the normalised identifier, so ID numbers never enter the ledger.

    A plain hash would not do: the space of ID numbers is small enough to enumerate, so
    only a secret key stops anyone holding the public ledger from reversing it.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the subject-hash secret must be at least {MIN_SECRET_BYTES} bytes")
    normalised = normalise_identifier(identifier)
    if not normalised:
        raise ValueError("empty identifier")
    return hmac.new(secret, normalised.encode("utf-8"), hashlib.sha256).hexdigest()
