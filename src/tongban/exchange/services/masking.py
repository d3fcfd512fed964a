"""Masking (脱敏) of item values returned to consumers whose grant does not clear the item.

``mask(item, value)`` applies the item's rule; ``masker_for(item)`` compiles it once into a
plain function (the hot path keeps one per granted item). Rules:

- ``keep_ends``: the first ``mask_head`` and last ``mask_tail`` characters stay, every other
  character becomes one ``*``; a value too short to keep both ends and still hide something is
  hidden whole (as ``identity.validators`` masks ID numbers);
- ``full``: ``***`` whatever the value (its length is not revealed);
- ``hash``: a short keyed digest (HMAC-SHA256 under the node's subject secret, domain
  separated): equal values give equal digests, and nobody without the key can test guesses;
- ``region``: an address kept up to its district or county (浙江省杭州市西湖区****);
- ``none``: returned as is, except for personal-sensitive items, which get a default by kind
  (ID number: first 6 and last 4; mobile phone: first 3 and last 4; name: the surname;
  address: region; anything else: hidden whole).

``None`` stays ``None`` under every rule (an absent value reveals nothing more than absence).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

from tongban.ledger import keystore

Masker = Callable[[Any], Any]

FULL = "***"
REGION_TAIL = "****"
HASH_CHARS = 16
REGION_FALLBACK_CHARS = 6
_HASH_DOMAIN = b"tongban.exchange.mask\x00"

# Data elements (catalog/data/data_elements.json) whose personal values get a default mask.
NAME_ELEMENTS = frozenset({"DE00002", "DE00011"})  # 姓名, 法定代表人
PHONE_ELEMENTS = frozenset({"DE00006"})
ADDRESS_ELEMENTS = frozenset({"DE00014"})

# An address starts with up to three administrative units, each a short run of characters
# (no digits, no street words) ended by its suffix; a suffix followed by another suffix
# character belongs to a longer name (杭州市, 沙市区). Units must descend: province (1),
# prefecture (2), county (3); 市 is a municipality (1), a prefecture city (2) or a county-level
# city (3) by position. The kept prefix ends at the county level, or where the units stop.
_NOT_STREET = r"[^\d\s路街道巷弄号村镇乡楼室栋幢层园苑院组]"
_UNIT = re.compile(
    rf"{_NOT_STREET}{{1,12}}?(?P<suffix>特别行政区|自治区|自治州|自治县|自治旗|林区|特区|地区|省|市|州|盟|区|县|旗)"
    r"(?![省市州盟区县旗])"
)
_LEVELS = {"特别行政区": 1, "自治区": 1, "省": 1, "自治州": 2, "地区": 2, "州": 2, "盟": 2}
MUNICIPALITIES = ("北京", "上海", "天津", "重庆")
COUNTY = 3


def _unit_level(unit: str, suffix: str, previous: int) -> int:
    if suffix in _LEVELS:
        return _LEVELS[suffix]
    if suffix == "市":
        if previous == 0 and unit.startswith(MUNICIPALITIES):
            return 1
        return 2 if previous < 2 else COUNTY
    return COUNTY


def region_prefix(text: str) -> str:
    """The administrative prefix of an address down to the county level ("" if none)."""
    position, level = 0, 0
    while level < COUNTY:
        match = _UNIT.match(text, position)
        if match is None:
            break
        unit_level = _unit_level(match.group(0), match.group("suffix"), level)
        if unit_level <= level:
            break
        position, level = match.end(), unit_level
    return text[:position]


def keep_ends(value: str, head: int, tail: int) -> str:
    length = len(value)
    if length == 0:
        return value
    if length <= head + tail:
        return "*" * length
    return value[:head] + "*" * (length - head - tail) + value[length - tail:]


def region(value: str) -> str:
    """The address up to its district/county level, the rest as ``****``."""
    text = value.strip()
    if not text:
        return text
    kept = region_prefix(text)
    if not kept:  # not recognisably an address: its first characters, never the whole of it
        kept = text[:min(REGION_FALLBACK_CHARS, len(text) // 2)]
    return kept if len(kept) == len(text) else kept + REGION_TAIL


def keyed_digest(value: str) -> str:
    secret = keystore.subject_secret()
    return hmac.new(secret, _HASH_DOMAIN + value.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_CHARS]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _none_safe(function: Callable[[str], str]) -> Masker:
    def masker(value: Any) -> Any:
        if value is None:
            return None
        return function(_text(value))

    return masker


def clear(value: Any) -> Any:
    """The value as it is (items cleared by a grant, and non-personal items with no rule)."""
    return value


def _element(item) -> str:
    element = getattr(item, "data_element", None) if getattr(item, "data_element_id", None) else None
    return getattr(element, "identifier", "") or ""


def _default_for_personal(item) -> Masker:
    kind = getattr(item, "effective_type", "string")
    element = _element(item)
    if kind == "id_number":
        return _none_safe(lambda text: keep_ends(text.upper(), 6, 4))
    if kind == "phone" or element in PHONE_ELEMENTS:
        return _none_safe(lambda text: keep_ends(text, 3, 4))
    if kind == "uscc":
        return _none_safe(lambda text: keep_ends(text.upper(), 6, 4))
    if element in NAME_ELEMENTS:
        return _none_safe(lambda text: keep_ends(text, 1, 0))
    if element in ADDRESS_ELEMENTS:
        return _none_safe(region)
    return _none_safe(lambda text: FULL)


def masker_for(item) -> Masker:
    """The item's masking rule compiled to a function of one value."""
    rule = getattr(item, "masking", "none") or "none"
    if rule == "keep_ends":
        head, tail = int(item.mask_head or 0), int(item.mask_tail or 0)
        return _none_safe(lambda text: keep_ends(text, head, tail))
    if rule == "full":
        return _none_safe(lambda text: FULL)
    if rule == "hash":
        return _none_safe(keyed_digest)
    if rule == "region":
        return _none_safe(region)
    if getattr(item, "personal_sensitive", False):
        return _default_for_personal(item)
    return clear


def mask(item, value: Any) -> Any:
    """``value`` of ``item`` masked by the item's rule (see the module docstring)."""
    return masker_for(item)(value)
