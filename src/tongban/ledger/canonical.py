"""Canonical bytes for ledger entries, and keyed hashes that keep identifiers out of it.

A ledger entry's leaf hash covers bytes, so two services that describe the same event
must produce the same bytes: RFC 8785 (JCS) fixes key order, number formatting and string
escaping. It also refuses what JSON cannot carry exactly (NaN, integers beyond 2**53,
non-string keys) with ``rfc8785.CanonicalizationError`` (a ``ValueError``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from typing import Any

import rfc8785

MIN_SECRET_BYTES = 16


_INT_MAX = 2**53 - 1  # RFC 8785 / I-JSON: integers a double holds exactly
_PLAIN_SCALARS = (str, bool, type(None))


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 canonical UTF-8 JSON serialisation of ``obj``.

    ``rfc8785`` is pure Python and was most of the cost of sealing an exchange access into the
    ledger. For the values ledger entries hold — dicts with string keys, lists, strings, bools,
    None and safe integers, no floats — the standard library's C encoder with sorted keys writes
    the very same bytes: both escape exactly ``"``, ``\\`` and U+0000–U+001F (short forms for
    \\b \\f \\n \\r \\t, lowercase ``\\u00xx`` otherwise), and code-point order equals
    RFC 8785's UTF-16 order when no key holds a character beyond U+FFFF. Anything else (floats,
    such keys, subclasses, lone surrogates) goes through ``rfc8785`` itself; a property test
    holds the two equal.
    """
    if _plain(obj):
        try:
            return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 refuses it with its own error
            pass
    return rfc8785.dumps(obj)


def _plain(obj: Any) -> bool:
    kind = type(obj)
    if kind is dict:
        for key, value in obj.items():
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff") or not _plain(value):
                return False
        return True
    if kind is list:
        return all(_plain(value) for value in obj)
    if kind is int:
        return -_INT_MAX <= obj <= _INT_MAX
    return kind in _PLAIN_SCALARS


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
