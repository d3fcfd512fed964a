"""A safety net that keeps personal identifiers out of the ledger in clear.

Callers pass ID numbers and USCCs in ``subject_ids`` (stored only as keyed hashes). A
mistake — an ID number in a payload or a subject label — would publish it forever in an
append-only log, so ``record`` refuses any string holding an 18-character token whose check
character is right for a resident ID number (GB 11643) or a unified social credit code
(GB 32100). The ledger imports no other app, hence this small copy of the two check rules.
"""

from __future__ import annotations

import re
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


def _long_strings(values: tuple[Any, ...]) -> list[str]:
    """Every string (keys too) of 18 characters or more in ``values``, however nested. A loop
    over a stack, not recursive generators: this runs for every ledger entry."""
    found, stack = [], list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if len(value) >= 18:
                found.append(value)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return found


def find_identifier(*values: Any) -> str | None:
    """An ID number or USCC found in any string of ``values`` (nested), else None."""
    texts = _long_strings(values)
    if not texts:
        return None
    # One search over the strings joined by NUL, which is not a letter or digit: each string's
    # ends bound a candidate exactly as they would alone.
    for match in _CANDIDATE.finditer("\x00".join(texts)):
        if _is_id_number(match.group()) or _is_uscc(match.group()):
            return match.group()
    return None
