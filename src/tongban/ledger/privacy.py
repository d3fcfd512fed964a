"""A safety net that keeps personal identifiers out of the ledger in clear.

Callers pass ID numbers and USCCs in ``subject_ids`` (stored only as keyed hashes). A
mistake — an ID number in a payload or a subject label — would publish it forever in an
append-only log, so ``record`` refuses any string holding an 18-character token whose check
character is right for a resident ID number (GB 11643) or a unified social credit code
(GB 32100). The ledger imports no other app, hence this small copy of the two check rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# 18 characters not glued to other letters or digits (hex digests and base64 stay whole).
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _is_id_number(token: str) -> bool:
    token = token.upper()
    if not token[:17].isdigit() or not (token[17].isdigit() or token[17] == "X"):
        return False
    total = sum(int(c) * w for c, w in zip(token[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == token[17]


def _is_uscc(token: str) -> bool:
    if any(c not in _USCC_CHARS for c in token):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(token[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == token[17]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def find_identifier(*values: Any) -> str | None:
    """The first ID number or USCC found in any string of ``values`` (nested), else None."""
    for text in (s for value in values for s in _strings(value)):
        if len(text) < 18:
            continue
        for match in _CANDIDATE.finditer(text):
            if _is_id_number(match.group()) or _is_uscc(match.group()):
                return match.group()
    return None
