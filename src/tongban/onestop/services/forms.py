"""The applicant's answers checked against the item's form (``ServiceItem.form_schema``).

Field types (those ``services.items`` allows): ``text``, ``number``, ``date`` (``YYYY-MM-DD``),
``choice`` (one of ``options[].value``), ``boolean``. Values from web forms arrive as text and
are read accordingly (``"12.5"`` → 12.5, ``"on"``/``"true"`` → true). An empty value is stored
as null. ``required`` is enforced only at submission (a draft may be incomplete). Fields filled
from government records (``Application.prefilled``) cannot be changed by the applicant.

Errors are per field: ``{key: {"code", "message_zh", "message_en"}}``.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from tongban.core.jsonlogic import strict_equal

MAX_TEXT = 2000
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*\Z")
_TRUE = {"true", "on", "1", "yes", "是"}
_FALSE = {"false", "off", "0", "no", "否"}


def _error(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "message_zh": zh, "message_en": en}


def empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def option_values(field: dict) -> list[str]:
    values = []
    for option in field.get("options") or []:
        if isinstance(option, dict):
            values.append(str(option.get("value", "")))
        else:
            values.append(str(option))
    return values


def clean_value(field: dict, value: Any) -> tuple[Any, dict | None]:
    """``(cleaned, None)`` or ``(None, error)`` for one non-empty value."""
    kind = field.get("type", "text")
    if kind == "number":
        if is_plain_number(value):
            number = value
        elif isinstance(value, str) and _NUMBER.match(value):
            try:
                parsed = Decimal(value.strip())
            except InvalidOperation:
                return None, _error("invalid_number", "应为数字", "Must be a number")
            number = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
        else:
            return None, _error("invalid_number", "应为数字", "Must be a number")
        for bound, code, zh, en in (("min", "too_small", "不能小于", "At least"), ("max", "too_large", "不能大于", "At most")):
            limit = field.get(bound)
            if is_plain_number(limit) and (number < limit if bound == "min" else number > limit):
                return None, _error(code, f"{zh} {limit}", f"{en} {limit}")
        return number, None
    if kind == "date":
        text = value.strip() if isinstance(value, str) else ""
        try:
            return datetime.date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, _error("invalid_date", "应为日期（年-月-日）", "Must be a date (YYYY-MM-DD)")
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        text = str(value).strip().lower()
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return None, _error("invalid_boolean", "应为是或否", "Must be yes or no")
    if kind == "choice":
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        if text is None or text not in option_values(field):
            return None, _error("invalid_choice", "请从选项中选择", "Choose one of the options")
        return text, None
    if not isinstance(value, str):
        return None, _error("invalid_text", "应为文字", "Must be text")
    text = value.strip()
    limit = field.get("max_length") if isinstance(field.get("max_length"), int) else MAX_TEXT
    if len(text) > limit:
        return None, _error("too_long", f"最多 {limit} 个字符", f"At most {limit} characters")
    return text, None


def is_plain_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and value not in (float("inf"), float("-inf"))


def clean_form(schema: list[dict], values: dict[str, Any], *, prefilled: dict[str, dict],
               current: dict[str, Any] | None = None, required: bool = False) -> tuple[dict[str, Any], dict[str, dict]]:
    """The merged form (``current`` updated with ``values``) and every error at once.

    ``required``: also report required fields left empty (at submission).
    """
    fields = {f["key"]: f for f in schema if isinstance(f, dict) and f.get("key")}
    merged = dict(current or {})
    errors: dict[str, dict] = {}
    if not isinstance(values, dict):
        return merged, {"form": _error("invalid_form", "表单应为键值对", "The form must be an object")}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            errors[key] = _error("unknown_field", "表单没有这个字段", "The form has no such field")
            continue
        if key in prefilled:
            if not empty(value) and not strict_equal(value, prefilled[key].get("value")) \
                    and str(value).strip() != str(prefilled[key].get("value")):
                errors[key] = _error("prefilled", "此项来自政府记录，不能修改",
                                     "This value comes from government records and cannot be changed")
            continue
        if empty(value) or (isinstance(value, str) and not value.strip()):
            merged[key] = None
            continue
        cleaned, error = clean_value(field, value)
        if error:
            errors[key] = error
        else:
            merged[key] = cleaned
    for key, entry in prefilled.items():
        if key in fields:
            merged[key] = entry.get("value")
    if required:
        for key, field in fields.items():
            if field.get("required") and empty(merged.get(key)) and key not in errors:
                errors[key] = _error("required", "必填", "Required")
    return merged, errors
