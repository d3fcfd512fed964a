"""The rules a resource's metadata and items must satisfy, shared by the API, the pages and import.

``clean_resource(data)`` and ``clean_items(items)`` return cleaned values plus a list of
problems (``Problem``: field, code, Chinese and English message) instead of stopping at the
first, so an import can list every bad cell and a form every bad field. ``raise_problems`` turns
the list into one ``InvalidInput`` (code of the first problem, all of them in ``details``).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from tongban.catalog.models import CodeListEntry, DataElement, DataType, Item, Resource
from tongban.core.errors import InvalidInput

ITEM_KEY = re.compile(r"[a-z][a-z0-9_]{0,49}")
MAX_ITEMS = 200
MAX_KEYWORDS = 20
REGION_LIST = "GB/T 2260"
# Types an item may have without a data element; ``code`` needs the element's code list.
OWN_TYPES = {t for t in DataType.values if t != DataType.CODE}
# Items typed as these bind to the standard element of the type (the subject key must).
STANDARD_TYPES = (DataType.ID_NUMBER, DataType.USCC, DataType.PHONE)


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict:
        return asdict(self)


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput(first.message_zh, first.message_en, code=first.code,
                           details={"errors": [p.as_dict() for p in problems]})


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    return str(value).strip()[:limit * 4] if value is not None else ""


def _choice(data, key, choices, problems, *, required=True, default="") -> str:
    value = _text(data, key, 40) or default
    if not value:
        if required:
            problems.append(Problem(key, "field_required", f"请填写{key}", f"{key} is required"))
        return ""
    if value not in choices.values:
        problems.append(Problem(key, "invalid_choice", f"{key} 的取值无效", f"{key} has an invalid value"))
    return value


def _date(data, key, problems) -> datetime.date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(Problem(key, "invalid_date", "日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD"))
        return None


def _list(data, key, limit, problems) -> list[str]:
    value = data.get(key) or []
    if isinstance(value, str):
        value = re.split(r"[,，;；、\s]+", value)
    cleaned = []
    for entry in value:
        text = str(entry).strip()
        if text and text not in cleaned:
            cleaned.append(text[:30])
    if len(cleaned) > limit:
        problems.append(Problem(key, "too_many_values", f"最多 {limit} 个", f"At most {limit} values"))
    return cleaned[:limit]


def clean_resource(data: dict[str, Any]) -> tuple[dict, list[Problem]]:
    problems: list[Problem] = []
    clean: dict[str, Any] = {}
    for key, limit, required in (("name", 200, True), ("name_en", 250, False), ("abstract", 4000, True),
                                 ("classification", 200, False), ("sharing_conditions", 2000, False),
                                 ("sharing_basis", 2000, False), ("opening_conditions", 2000, False),
                                 ("contact_name", 50, False), ("contact_phone", 30, False),
                                 ("contact_email", 254, False)):
        value = _text(data, key, limit)
        if required and not value:
            problems.append(Problem(key, "field_required", f"请填写 {key}", f"{key} is required"))
        if len(value) > limit:
            problems.append(Problem(key, "too_long", f"不超过 {limit} 字", f"At most {limit} characters"))
        clean[key] = value[:limit]
    clean["category"] = _choice(data, "category", Resource.Category, problems, default=Resource.Category.DEPARTMENT)
    clean["format"] = _choice(data, "format", Resource.Format, problems, default=Resource.Format.DATABASE)
    clean["sharing"] = _choice(data, "sharing", Resource.Sharing, problems)
    clean["sharing_method"] = _choice(data, "sharing_method", Resource.SharingMethod, problems,
                                      default=Resource.SharingMethod.API)
    clean["opening"] = _choice(data, "opening", Resource.Opening, problems)
    clean["update_cycle"] = _choice(data, "update_cycle", Resource.UpdateCycle, problems)
    clean["theme"] = _choice(data, "theme", Resource.Theme, problems, required=False)
    clean["keywords"] = _list(data, "keywords", MAX_KEYWORDS, problems)
    clean["related_codes"] = _list(data, "related_codes", 20, problems)
    clean["temporal_start"] = _date(data, "temporal_start", problems)
    clean["temporal_end"] = _date(data, "temporal_end", problems)
    clean["spatial"] = _text(data, "spatial", 6)
    # 以共享为原则、不共享为例外: anything short of unconditional sharing states its basis.
    if clean["sharing"] and clean["sharing"] != Resource.Sharing.OPEN_SHARE and not clean["sharing_basis"]:
        problems.append(Problem("sharing_basis", "sharing_basis_required",
                                "有条件共享或不予共享须注明法律法规或政策依据",
                                "Conditional or no sharing must state its legal or policy basis"))
    if clean["sharing"] == Resource.Sharing.NO_SHARE and clean["opening"] in (Resource.Opening.OPEN,
                                                                              Resource.Opening.CONDITIONAL):
        problems.append(Problem("opening", "inconsistent_classes", "不予共享的资源不能向社会开放",
                                "A resource not shared between departments cannot be open to the public"))
    if clean["temporal_start"] and clean["temporal_end"] and clean["temporal_end"] < clean["temporal_start"]:
        problems.append(Problem("temporal_end", "invalid_period", "时间范围的结束早于开始",
                                "The coverage ends before it starts"))
    if clean["spatial"] and not CodeListEntry.objects.filter(code_list__identifier=REGION_LIST,
                                                             code=clean["spatial"]).exists():
        problems.append(Problem("spatial", "invalid_spatial", "空间范围应为 GB/T 2260 行政区划代码",
                                "Spatial coverage must be a GB/T 2260 region code"))
    if clean["contact_email"]:
        try:
            validate_email(clean["contact_email"])
        except ValidationError:
            problems.append(Problem("contact_email", "invalid_email", "电子邮箱格式无效", "Invalid e-mail address"))
    if clean["related_codes"]:
        known = set(Resource.objects.filter(code__in=clean["related_codes"]).values_list("code", flat=True))
        unknown = [code for code in clean["related_codes"] if code not in known]
        if unknown:
            problems.append(Problem("related_codes", "unknown_related", f"关联资源不存在：{'、'.join(unknown)}",
                                    f"Unknown related resources: {', '.join(unknown)}"))
    return clean, problems


def current_elements() -> dict[str, DataElement]:
    return {e.identifier: e for e in DataElement.objects.filter(is_current=True).select_related("code_list")}


def standard_element(data_type: str, elements: dict[str, DataElement]) -> DataElement | None:
    matches = sorted((e for e in elements.values() if e.data_type == data_type), key=lambda e: e.identifier)
    return matches[0] if matches else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "是", "on"}
    return bool(value)


def clean_items(items: list[dict], elements: dict[str, DataElement] | None = None
                ) -> tuple[list[dict], list[Problem]]:
    """Clean item dicts: ``key, name, name_en, data_element (identifier), data_type, max_length,
    required, is_subject_key, grade, personal_sensitive, masking, mask_head, mask_tail, description``."""
    elements = current_elements() if elements is None else elements
    problems: list[Problem] = []
    cleaned: list[dict] = []
    if not items:
        problems.append(Problem("items", "items_required", "至少需要一个信息项", "At least one item is required"))
    if len(items) > MAX_ITEMS:
        problems.append(Problem("items", "too_many_items", f"信息项不超过 {MAX_ITEMS} 个",
                                f"At most {MAX_ITEMS} items"))
    keys: set[str] = set()
    for position, raw in enumerate(items[:MAX_ITEMS], start=1):
        where = f"items[{position}]"
        name = _text(raw, "name", 100)
        if not name:
            problems.append(Problem(f"{where}.name", "field_required", "请填写信息项名称", "Item name is required"))
        element = None
        identifier = _text(raw, "data_element", 20)
        data_type = _text(raw, "data_type", 12) or DataType.STRING
        if identifier:
            element = elements.get(identifier)
            if element is None:
                problems.append(Problem(f"{where}.data_element", "unknown_data_element",
                                        f"数据元 {identifier} 不存在", f"Unknown data element {identifier}"))
        elif data_type not in DataType.values:
            problems.append(Problem(f"{where}.data_type", "invalid_data_type", "数据类型无效", "Invalid data type"))
        elif data_type not in OWN_TYPES:
            problems.append(Problem(f"{where}.data_type", "code_list_required",
                                    "代码类型的信息项须引用带代码集的数据元",
                                    "A code item must name a data element with a code list"))
        elif data_type in STANDARD_TYPES:
            element = standard_element(data_type, elements)
        key = _text(raw, "key", 50) or (element.default_key if element else "") or f"item_{position}"
        if not ITEM_KEY.fullmatch(key):
            problems.append(Problem(f"{where}.key", "invalid_item_key",
                                    "信息项标识须为小写字母开头的字母、数字或下划线",
                                    "Item key must be lower-case letters, digits or _ starting with a letter"))
        elif key in keys:
            problems.append(Problem(f"{where}.key", "duplicate_item_key", f"信息项标识 {key} 重复",
                                    f"Item key {key} is used twice"))
        keys.add(key)
        max_length = raw.get("max_length")
        try:
            max_length = int(max_length) if max_length not in (None, "") else None
            if max_length is not None and not 0 < max_length <= 100_000:
                raise ValueError(max_length)
        except (TypeError, ValueError):
            problems.append(Problem(f"{where}.max_length", "invalid_max_length", "最大长度无效", "Invalid maximum length"))
            max_length = None
        grade = _text(raw, "grade", 10) or Item.Grade.GENERAL
        if grade not in Item.Grade.values:
            problems.append(Problem(f"{where}.grade", "invalid_grade", "分级无效", "Invalid grade"))
        masking = _text(raw, "masking", 10) or Item.Masking.NONE
        head, tail = int(raw.get("mask_head") or 0), int(raw.get("mask_tail") or 0)
        if masking not in Item.Masking.values:
            problems.append(Problem(f"{where}.masking", "invalid_masking", "脱敏规则无效", "Invalid masking rule"))
        elif masking == Item.Masking.KEEP_ENDS and not (head or tail):
            problems.append(Problem(f"{where}.masking", "invalid_masking", "保留首尾的脱敏规则须给出保留位数",
                                    "Keep-ends masking needs the number of characters to keep"))
        subject = _flag(raw.get("is_subject_key"))
        cleaned.append({
            "key": key, "name": name, "name_en": _text(raw, "name_en", 150), "data_element": element,
            "data_type": element.data_type if element else data_type, "max_length": max_length,
            "required": _flag(raw.get("required")) or subject, "is_subject_key": subject, "grade": grade,
            "personal_sensitive": _flag(raw.get("personal_sensitive")), "masking": masking,
            "mask_head": head if masking == Item.Masking.KEEP_ENDS else 0,
            "mask_tail": tail if masking == Item.Masking.KEEP_ENDS else 0,
            "description": _text(raw, "description", 300), "order": position,
        })
    subjects = [item for item in cleaned if item["is_subject_key"]]
    if items and not subjects:
        problems.append(Problem("items", "subject_key_required",
                                "须有且仅有一个主体标识信息项（公民身份号码或统一社会信用代码）",
                                "Exactly one item must be the subject key (ID number or USCC)"))
    elif len(subjects) > 1:
        problems.append(Problem("items", "multiple_subject_keys", "只能有一个主体标识信息项",
                                "Only one item may be the subject key"))
    elif subjects and subjects[0]["data_type"] not in (DataType.ID_NUMBER, DataType.USCC):
        problems.append(Problem("items", "invalid_subject_key",
                                "主体标识须为公民身份号码或统一社会信用代码",
                                "The subject key must be an ID number or a USCC"))
    return cleaned, problems
