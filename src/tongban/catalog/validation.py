"""Validating one value against a data element or an item: ``validate_value``.

The exchange calls this for every field of every record it loads, so it is table-driven and
compiled once per element/item: ``validator_for`` builds a closure from the type table below
and caches it on the instance (and code lists' codes in a process-wide cache). A failure raises
``InvalidInput`` with a precise code; the message never echoes the value (it may be personal).

Normalised values are JSON-friendly, so records can be stored as JSON: strings stripped, integers
as ``int``, decimals as canonical strings, dates as ``YYYY-MM-DD``, datetimes as ISO 8601,
booleans as ``bool``, codes, ID numbers and USCCs upper-case, phones as 11 digits.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from tongban.catalog.models import CodeListEntry, DataElement, DataType, Item
from tongban.core.errors import InvalidInput
from tongban.identity.validators import validate_id_number, validate_uscc

Validator = Callable[[Any], Any]

# code list id -> frozenset of its codes. Code lists change only through migrations or the back
# office; the signal below clears this process's cache (other workers pick it up on restart).
_CODE_CACHE: dict[int, frozenset[str]] = {}

_PHONE = re.compile(r"1[3-9]\d{9}")
_TRUE = frozenset({"true", "1", "yes", "y", "是", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "f"})


def _error(code: str, zh: str, en: str, **details: Any) -> InvalidInput:
    return InvalidInput(zh, en, code=code, details=details or None)


def codes_of(code_list_id: int) -> frozenset[str]:
    codes = _CODE_CACHE.get(code_list_id)
    if codes is None:
        codes = frozenset(CodeListEntry.objects.filter(code_list_id=code_list_id).values_list("code", flat=True))
        _CODE_CACHE[code_list_id] = codes
    return codes


def clear_code_cache(**_kwargs) -> None:
    _CODE_CACHE.clear()


def connect_cache_invalidation() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(clear_code_cache, sender=CodeListEntry, dispatch_uid="catalog-code-cache-save")
    post_delete.connect(clear_code_cache, sender=CodeListEntry, dispatch_uid="catalog-code-cache-delete")


# --- one function per type: (text, spec) -> normalised value ---------------------------------------


def _string(value: Any, spec: dict) -> str:
    text = value.strip() if isinstance(value, str) else str(value)
    pattern = spec.get("pattern")
    if pattern is not None and not pattern.fullmatch(text):
        raise _error("value_pattern_mismatch", "格式不符合数据元规定", "Does not match the required format")
    return text


def _integer(value: Any, spec: dict) -> int:
    if isinstance(value, bool):
        raise _error("invalid_integer", "应为整数", "Must be an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d{1,18}", text):
        raise _error("invalid_integer", "应为整数", "Must be an integer")
    return int(text)


def _decimal(value: Any, spec: dict) -> str:
    if isinstance(value, bool):
        raise _error("invalid_decimal", "应为数值", "Must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _error("invalid_decimal", "应为数值", "Must be a number") from None
    if not number.is_finite():
        raise _error("invalid_decimal", "应为数值", "Must be a number")
    return format(number.normalize(), "f") if number == number.to_integral() else format(number, "f")


def _date(value: Any, spec: dict) -> str:
    if isinstance(value, datetime.datetime):
        raise _error("invalid_date", "应为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)")
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return datetime.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise _error("invalid_date", "应为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)") from None


def _datetime(value: Any, spec: dict) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) < 16:  # a bare date is not a datetime
            raise ValueError(text)
        return datetime.datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise _error("invalid_datetime", "应为日期时间（ISO 8601）", "Must be a date and time (ISO 8601)") from None


def _boolean(value: Any, spec: dict) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _error("invalid_boolean", "应为是或否", "Must be yes or no")


def _code(value: Any, spec: dict) -> str:
    text = str(value).strip().upper()
    code_list_id = spec.get("code_list_id")
    if code_list_id is not None and text not in codes_of(code_list_id):
        raise _error("code_not_in_list", "不在代码集中", "Not a code of the code list",
                     code_list=spec.get("code_list"))
    return text


def _id_number(value: Any, spec: dict) -> str:
    return validate_id_number(str(value)).number  # raises invalid_id_number with the reason


def _uscc(value: Any, spec: dict) -> str:
    return validate_uscc(str(value)).code  # raises invalid_uscc with the reason


def _phone(value: Any, spec: dict) -> str:
    text = str(value).strip().replace(" ", "").replace("-", "")
    if text.startswith("+86"):
        text = text[3:]
    if not _PHONE.fullmatch(text):
        raise _error("invalid_phone", "手机号码应为 11 位数字", "Mobile phone must be 11 digits starting with 1")
    return text


TYPE_CHECKS: dict[str, Callable[[Any, dict], Any]] = {
    DataType.STRING: _string,
    DataType.INTEGER: _integer,
    DataType.DECIMAL: _decimal,
    DataType.DATE: _date,
    DataType.DATETIME: _datetime,
    DataType.BOOLEAN: _boolean,
    DataType.CODE: _code,
    DataType.ID_NUMBER: _id_number,
    DataType.USCC: _uscc,
    DataType.PHONE: _phone,
}


LENGTH_CHECKED = frozenset({DataType.STRING, DataType.CODE})


def _spec(element: DataElement | None, item: Item | None) -> dict:
    data_type = element.data_type if element is not None else item.data_type
    max_length = None
    pattern = None
    code_list_id = code_list = None
    if element is not None:
        max_length = element.max_length
        pattern = re.compile(element.pattern) if element.pattern else None
        code_list_id = element.code_list_id
        code_list = element.code_list.identifier if element.code_list_id else None
    if item is not None and item.max_length:
        max_length = min(max_length, item.max_length) if max_length else item.max_length
    return {
        "type": data_type, "check": TYPE_CHECKS[data_type], "max_length": max_length, "pattern": pattern,
        "code_list_id": code_list_id, "code_list": code_list,
        "required": bool(item.required) if item is not None else False,
    }


def validator_for(element_or_item: DataElement | Item) -> Validator:
    """A compiled validator for an element or item (cached on the instance)."""
    cached = getattr(element_or_item, "_tb_validator", None)
    if cached is not None:
        return cached
    if isinstance(element_or_item, Item):
        item = element_or_item
        element = item.data_element if item.data_element_id else None
    else:
        item, element = None, element_or_item
    spec = _spec(element, item)
    check, max_length, required = spec["check"], spec["max_length"], spec["required"]
    if spec["type"] not in LENGTH_CHECKED:
        max_length = None  # identifiers, numbers, dates and phones have stricter rules of their own

    def validate(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise _error("value_required", "必填", "Required")
            return None
        if max_length is not None and len(str(value).strip()) > max_length:
            raise _error("value_too_long", f"超过最大长度 {max_length}", f"Longer than {max_length} characters",
                         max_length=max_length)
        return check(value, spec)

    element_or_item._tb_validator = validate
    return validate


def validate_value(element_or_item: DataElement | Item, value: Any) -> Any:
    """Validate ``value`` against a data element or an item and return it normalised.

    Raises ``InvalidInput`` with one of the codes ``value_required``, ``value_too_long``,
    ``value_pattern_mismatch``, ``invalid_integer``, ``invalid_decimal``, ``invalid_date``,
    ``invalid_datetime``, ``invalid_boolean``, ``code_not_in_list``, ``invalid_id_number``,
    ``invalid_uscc``, ``invalid_phone``.
    """
    return validator_for(element_or_item)(value)
