"""Validation of service items: ``clean_item(data)`` checks everything at once and reports every
problem (field path, code, Chinese and English message) in one ``InvalidInput`` (code
``invalid_item``, ``details={"errors": [...]}``); the vocabularies of the hall (channels,
situations, themes, life events) live here too. Used by ``services.items``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from tongban.catalog import services as catalog
from tongban.core.errors import InvalidInput, NotFound
from tongban.credentials.models import CertificateType
from tongban.exchange.services.selfservice import binding_allowed
from tongban.identity.models import Department
from tongban.ledger.privacy import find_identifier
from tongban.onestop.models import Material, ServiceItem

Status = ServiceItem.Status



CHANNELS = {"online": _("Online"), "mobile": _("On the phone app"), "window": _("At the service window"),
            "mail": _("By post")}
SITUATIONS = {"new": _("New"), "change": _("Change"), "renew": _("Renewal"), "cancel": _("Cancellation"),
              "reissue": _("Reissue")}
THEMES = {
    "civil_affairs": _("Marriage and family"), "health": _("Birth and health"),
    "education": _("Education"), "employment": _("Jobs and skills"),
    "social_security": _("Social security"), "elderly": _("Elderly care"),
    "market_entry": _("Starting and running a business"), "business_licensing": _("Business permits"),
}
LIFE_EVENTS = {
    "birth": _("Having a baby"), "schooling": _("Going to school"), "employment": _("Getting a job"),
    "marriage": _("Getting married"), "housing": _("Buying a home"), "starting_business": _("Starting a business"),
    "business_change": _("Changing a business"), "retirement": _("Retiring"), "elderly": _("Growing old"),
    "death": _("After a death"),
}
FIELD_TYPES = ("text", "number", "date", "choice", "boolean")
CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{3,59}")
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_FIELDS = 60
MAX_MATERIALS = 40
MAX_DAYS = 365
MAX_VISITS = 10

TEXT_LIMITS = {"basic_code": 40, "name": 200, "name_en": 250, "summary": 4000, "legal_basis": 4000,
               "conditions": 4000, "fees": 200, "result_name": 200, "complaint": 300}
REQUIRED_TEXT = ("basic_code", "name", "legal_basis", "conditions")
EDITABLE = ("code", "basic_code", "name", "name_en", "item_type", "applicant_kind", "department", "co_departments",
            "summary", "legal_basis", "conditions", "process", "statutory_days", "promised_days", "visits", "fees",
            "channels", "situations", "result_name", "certificate_type", "theme", "life_events", "keywords",
            "complaint", "form_schema", "materials", "rectification_days")


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Cleaned:
    fields: dict[str, Any]
    department: Department | None
    co_departments: list[Department]
    materials: list[dict]
    problems: list[Problem]


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        raise InvalidInput(f"服务事项信息有误：{first.message_zh}", f"The service item has errors: {first.message_en}",
                           code="invalid_item", details={"errors": [p.as_dict() for p in problems]})


# --- validation ----------------------------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._resources: dict[str, Any] = {}
        self.department: Department | None = None

    def binding(self, path: str, resource, keys: list[str]) -> bool:
        """May the implementing department bind ``keys`` of ``resource``? (adds the problem if not)"""
        if self.department is None or binding_allowed(self.department.pk, resource, keys):
            return True
        if resource.sharing == resource.Sharing.NO_SHARE:
            self.add(path, "resource_not_shared", f"共享资源 {resource.code} 为不予共享，不能用于预填或免提交",
                     f"Resource {resource.code} is not shared: it cannot be bound")
        else:
            self.add(path, "prefill_not_granted", f"本部门没有资源 {resource.code} 中 {'、'.join(keys)} 的有效查询授权",
                     f"Your department holds no active query grant for {', '.join(keys)} of {resource.code}")
        return False

    def add(self, field: str, code: str, zh: str, en: str) -> None:
        self.problems.append(Problem(field, code, zh, en))

    def text(self, data: dict, key: str, *, required: bool = False) -> str:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            self.add(key, "invalid_text", "应为文字", "Must be text")
            return ""
        value = (value or "").strip()
        if required and not value:
            self.add(key, "field_required", "必填", "Required")
        elif len(value) > TEXT_LIMITS.get(key, 200):
            self.add(key, "too_long", f"最多 {TEXT_LIMITS.get(key, 200)} 个字符",
                     f"At most {TEXT_LIMITS.get(key, 200)} characters")
        return value

    def integer(self, data: dict, key: str, low: int, high: int, *, default: int | None = None) -> int | None:
        value = data.get(key, default)
        if value is None:
            self.add(key, "field_required", "必填", "Required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            else:
                self.add(key, "invalid_number", "应为整数", "Must be a whole number")
                return None
        if not low <= value <= high:
            self.add(key, "out_of_range", f"应在 {low} 到 {high} 之间", f"Must be between {low} and {high}")
            return None
        return value

    def codes(self, data: dict, key: str, allowed: dict, *, required: bool = False) -> list[str]:
        value = data.get(key) or []
        if not isinstance(value, list | tuple) or any(not isinstance(v, str) for v in value):
            self.add(key, "invalid_list", "应为代码列表", "Must be a list of codes")
            return []
        unknown = [v for v in value if v not in allowed]
        if unknown:
            self.add(key, "invalid_choice", f"未知取值：{'、'.join(unknown)}", f"Unknown values: {', '.join(unknown)}")
        if required and not value:
            self.add(key, "field_required", "至少选择一项", "Choose at least one")
        return list(dict.fromkeys(v for v in value if v in allowed))

    def resource(self, code: str):
        if code not in self._resources:
            try:
                resource = catalog.get_published(code)
                self._resources[code] = (resource, {i.key: i for i in catalog.items_of(resource)},
                                         catalog.subject_kind(resource))
            except NotFound:
                self._resources[code] = None
        return self._resources[code]


def _clean_process(check: _Checker, value) -> list[dict]:
    if not isinstance(value, list):
        check.add("process", "invalid_list", "办理流程应为步骤列表", "The process must be a list of steps")
        return []
    steps = []
    for n, step in enumerate(value):
        if isinstance(step, str):
            step = {"name": step}
        name = step.get("name", "").strip() if isinstance(step, dict) and isinstance(step.get("name"), str) else ""
        if not name:
            check.add(f"process[{n}].name", "field_required", "步骤名称必填", "A step needs a name")
            continue
        steps.append({"name": name[:100], "name_en": str(step.get("name_en") or "")[:150],
                      "description": str(step.get("description") or "")[:500]})
    return steps


def _clean_prefill(check: _Checker, path: str, prefill, applicant_kind: str) -> dict | None:
    if not isinstance(prefill, dict) or not isinstance(prefill.get("resource"), str) \
            or not isinstance(prefill.get("item"), str):
        check.add(path, "invalid_prefill", "预填应写明共享资源和信息项", "Prefill must name a resource and an item")
        return None
    found = check.resource(prefill["resource"])
    if found is None:
        check.add(path + ".resource", "unknown_resource", f"共享资源 {prefill['resource']} 不存在或未发布",
                  f"No published resource {prefill['resource']}")
        return None
    _resource, items, kind = found
    if prefill["item"] not in items:
        check.add(path + ".item", "unknown_resource_item", f"资源 {prefill['resource']} 没有信息项 {prefill['item']}",
                  f"Resource {prefill['resource']} has no item {prefill['item']}")
        return None
    if applicant_kind and kind != applicant_kind:
        check.add(path + ".resource", "wrong_subject_kind", "该资源的数据主体与办事对象不符",
                  "The resource's subjects are not this item's applicants")
        return None
    if not check.binding(path + ".resource", _resource, [prefill["item"]]):
        return None
    return {"resource": prefill["resource"], "item": prefill["item"]}


def _clean_options(check: _Checker, path: str, options) -> list[dict]:
    if not isinstance(options, list) or not options:
        check.add(path, "field_required", "选择题需要选项", "A choice field needs options")
        return []
    cleaned = []
    for option in options:
        if isinstance(option, str | int) and not isinstance(option, bool):
            cleaned.append({"value": str(option), "label": str(option)})
        elif isinstance(option, dict) and str(option.get("value", "")).strip():
            cleaned.append({"value": str(option["value"]).strip(),
                            "label": str(option.get("label") or option["value"]).strip(),
                            **({"label_en": str(option["label_en"])} if option.get("label_en") else {})})
        else:
            check.add(path, "invalid_option", "选项无效", "Invalid option")
            return []
    if len({o["value"] for o in cleaned}) != len(cleaned):
        check.add(path, "duplicate_option", "选项重复", "Duplicate options")
    return cleaned


def _clean_form(check: _Checker, value, applicant_kind: str) -> list[dict]:
    if not isinstance(value, list):
        check.add("form_schema", "invalid_list", "表单应为字段列表", "The form must be a list of fields")
        return []
    if len(value) > MAX_FIELDS:
        check.add("form_schema", "too_many_values", f"最多 {MAX_FIELDS} 个字段", f"At most {MAX_FIELDS} fields")
    fields, seen = [], set()
    for n, spec in enumerate(value):
        path = f"form_schema[{n}]"
        if not isinstance(spec, dict):
            check.add(path, "invalid_field", "字段定义无效", "Invalid field definition")
            continue
        key = spec.get("key")
        if not isinstance(key, str) or not FIELD_KEY.fullmatch(key):
            check.add(path + ".key", "invalid_key", "字段键应为小写字母开头的英文、数字或下划线",
                      "A field key is lower-case letters, digits and underscores, starting with a letter")
        elif key in seen:
            check.add(path + ".key", "duplicate_key", f"字段键 {key} 重复", f"Duplicate field key {key}")
        seen.add(key)
        label = spec.get("label")
        if not isinstance(label, str) or not label.strip():
            check.add(path + ".label", "field_required", "字段名称必填", "A field needs a label")
            label = ""
        kind = spec.get("type", "text")
        if kind not in FIELD_TYPES:
            check.add(path + ".type", "invalid_choice", f"字段类型应为 {'/'.join(FIELD_TYPES)}",
                      f"The type is one of {', '.join(FIELD_TYPES)}")
        field = {"key": key, "label": label.strip()[:100], "label_en": str(spec.get("label_en") or "")[:150],
                 "type": kind, "required": bool(spec.get("required", False))}
        if spec.get("help"):
            field["help"] = str(spec["help"])[:300]
        if kind == "choice":
            field["options"] = _clean_options(check, path + ".options", spec.get("options"))
        if spec.get("prefill") is not None:
            prefill = _clean_prefill(check, path + ".prefill", spec["prefill"], applicant_kind)
            if prefill:
                field["prefill"] = prefill
        fields.append(field)
    return fields


def _clean_material(check: _Checker, n: int, spec, applicant_kind: str, form_keys: set[str]) -> dict | None:
    path = f"materials[{n}]"
    if not isinstance(spec, dict):
        check.add(path, "invalid_material", "材料定义无效", "Invalid material definition")
        return None
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        check.add(path + ".name", "field_required", "材料名称必填", "A material needs a name")
        name = ""
    necessity = spec.get("necessity", Material.Necessity.REQUIRED)
    if necessity not in Material.Necessity.values:
        check.add(path + ".necessity", "invalid_choice", "必要性应为必要/非必要/容缺",
                  "Necessity is required, optional or conditional")
    source = spec.get("source")
    if source not in Material.Source.values:
        check.add(path + ".source", "invalid_choice", "来源应为电子证照、共享数据、表单或上传",
                  "The source is certificate, shared_data, form or upload")
    paper = spec.get("paper_copies", 0)
    if isinstance(paper, bool) or not isinstance(paper, int) or not 0 <= paper <= 10:
        check.add(path + ".paper_copies", "out_of_range", "纸质份数应在 0 到 10 之间", "Paper copies: 0 to 10")
        paper = 0
    material = {"id": spec.get("id"), "name": name.strip()[:200], "necessity": necessity, "source": source,
                "certificate_type": "", "resource_code": "", "resource_items": [], "form_section": "",
                "description": str(spec.get("description") or "")[:500], "paper_copies": paper}
    if source == Material.Source.CERTIFICATE:
        code = spec.get("certificate_type") or ""
        type_ = CertificateType.objects.filter(code=code).first() if isinstance(code, str) and code else None
        if type_ is None:
            check.add(path + ".certificate_type", "unknown_certificate_type", f"证照类型 {code or '（空）'} 不存在",
                      f"No certificate type {code or '(empty)'}")
        elif applicant_kind and type_.holder_kind != applicant_kind:
            check.add(path + ".certificate_type", "wrong_holder_kind", "该证照的持证人与办事对象不符",
                      "The certificate's holders are not this item's applicants")
        material["certificate_type"] = code if isinstance(code, str) else ""
    elif source == Material.Source.SHARED_DATA:
        code = spec.get("resource_code") or spec.get("resource") or ""
        keys = spec.get("resource_items") or spec.get("items") or []
        found = check.resource(code) if isinstance(code, str) and code else None
        if found is None:
            check.add(path + ".resource_code", "unknown_resource", f"共享资源 {code or '（空）'} 不存在或未发布",
                      f"No published resource {code or '(empty)'}")
        elif not isinstance(keys, list) or not keys or any(k not in found[1] for k in keys):
            check.add(path + ".resource_items", "unknown_resource_item", f"请选择资源 {code} 中存在的信息项",
                      f"Choose items that exist in resource {code}")
        elif applicant_kind and found[2] != applicant_kind:
            check.add(path + ".resource_code", "wrong_subject_kind", "该资源的数据主体与办事对象不符",
                      "The resource's subjects are not this item's applicants")
        else:
            check.binding(path + ".resource_code", found[0], list(keys))
        material["resource_code"] = code if isinstance(code, str) else ""
        material["resource_items"] = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []
    elif source == Material.Source.FORM:
        section = str(spec.get("form_section") or "")[:60]
        if section and section not in form_keys:
            check.add(path + ".form_section", "unknown_form_field", f"表单没有字段 {section}",
                      f"The form has no field {section}")
        material["form_section"] = section
    return material


def clean_item(data: dict, *, current: ServiceItem | None = None) -> Cleaned:
    """Every problem of an item's definition at once (``current``: the item being updated)."""
    check = _Checker()
    fields: dict[str, Any] = {}
    code = data.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code.strip()):
        check.add("code", "invalid_code", "实施编码为 4–60 位字母、数字或连字符",
                  "The implementation code is 4–60 letters, digits or hyphens")
    elif find_identifier(code):
        check.add("code", "invalid_code", "实施编码不得是身份证号码或统一社会信用代码",
                  "The code must not be an ID number or credit code")
    elif ServiceItem.objects.filter(code=code.strip()).exclude(pk=current.pk if current else None).exists():
        check.add("code", "duplicate_code", f"实施编码 {code} 已被使用", f"The code {code} is taken")
    fields["code"] = code.strip() if isinstance(code, str) else ""
    for key in TEXT_LIMITS:
        fields[key] = check.text(data, key, required=key in REQUIRED_TEXT)
    item_type = data.get("item_type")
    if item_type not in ServiceItem.ItemType.values:
        check.add("item_type", "invalid_choice", "事项类型无效（行政许可、行政给付、行政确认、行政备案、公共服务、其他）",
                  "Invalid item type")
    fields["item_type"] = item_type
    kind = data.get("applicant_kind")
    if kind not in ServiceItem.ApplicantKind.values:
        check.add("applicant_kind", "invalid_choice", "办事对象应为自然人或法人", "Applicants are citizens or enterprises")
        kind = ""
    fields["applicant_kind"] = kind
    statutory = check.integer(data, "statutory_days", 0, MAX_DAYS)
    promised = check.integer(data, "promised_days", 0, MAX_DAYS)
    if statutory is not None and promised is not None and promised > statutory:
        check.add("promised_days", "promised_exceeds_statutory", "承诺时限不得超过法定时限",
                  "The promised time limit cannot exceed the statutory one")
    fields["statutory_days"], fields["promised_days"] = statutory, promised
    fields["visits"] = check.integer(data, "visits", 0, MAX_VISITS, default=0)
    fields["rectification_days"] = check.integer(data, "rectification_days", 1, 60, default=15)
    fields["channels"] = check.codes(data, "channels", CHANNELS, required=True)
    fields["situations"] = check.codes(data, "situations", SITUATIONS)
    fields["life_events"] = check.codes(data, "life_events", LIFE_EVENTS)
    theme = data.get("theme") or ""
    if theme and theme not in THEMES:
        check.add("theme", "invalid_choice", "主题无效", "Unknown theme")
    fields["theme"] = theme if theme in THEMES else ""
    keywords = data.get("keywords") or []
    if not isinstance(keywords, list) or any(not isinstance(k, str) for k in keywords) or len(keywords) > 20:
        check.add("keywords", "invalid_list", "关键词最多 20 个", "At most 20 keywords")
        keywords = []
    fields["keywords"] = [k.strip()[:40] for k in keywords if k.strip()]
    fields["process"] = _clean_process(check, data.get("process") or [])
    department = None
    department_code = data.get("department")
    if department_code:
        department = Department.objects.filter(code=department_code).first()
        if department is None:
            check.add("department", "unknown_department", "实施部门不存在", "No such department")
    else:
        check.add("department", "field_required", "实施部门必填", "The implementing department is required")
    co_departments = []
    co_codes = data.get("co_departments") or []
    if not isinstance(co_codes, list):
        check.add("co_departments", "invalid_list", "联办部门应为部门代码列表", "Co-handling departments: a list of codes")
        co_codes = []
    for co in dict.fromkeys(co_codes):
        found = Department.objects.filter(code=co).first() if isinstance(co, str) else None
        if found is None:
            check.add("co_departments", "unknown_department", f"联办部门 {co} 不存在", f"No such department {co}")
        elif department is not None and found.pk == department.pk:
            check.add("co_departments", "duplicate_department", "联办部门不能是实施部门本身",
                      "A co-handling department cannot be the implementing one")
        else:
            co_departments.append(found)
    certificate = data.get("certificate_type") or ""
    if certificate:
        type_ = CertificateType.objects.filter(code=certificate).first() if isinstance(certificate, str) else None
        if type_ is None:
            check.add("certificate_type", "unknown_certificate_type", f"证照类型 {certificate} 不存在",
                      f"No certificate type {certificate}")
        elif department is not None and type_.department_id != department.pk:
            check.add("certificate_type", "wrong_issuer", "结果证照应由实施部门签发",
                      "The certificate produced must be issued by the implementing department")
        elif kind and type_.holder_kind != kind:
            check.add("certificate_type", "wrong_holder_kind", "结果证照的持证人与办事对象不符",
                      "The certificate's holders are not this item's applicants")
    fields["certificate_type"] = certificate if isinstance(certificate, str) else ""
    check.department = department
    fields["form_schema"] = _clean_form(check, data.get("form_schema") or [], kind)
    form_keys = {f["key"] for f in fields["form_schema"]}
    raw_materials = data.get("materials") or []
    materials = []
    if not isinstance(raw_materials, list) or len(raw_materials) > MAX_MATERIALS:
        check.add("materials", "invalid_list", f"申请材料应为列表（最多 {MAX_MATERIALS} 项）",
                  f"Materials: a list of at most {MAX_MATERIALS}")
    else:
        for n, spec in enumerate(raw_materials):
            material = _clean_material(check, n, spec, kind, form_keys)
            if material is not None:
                materials.append(material)
    return Cleaned(fields, department, co_departments, materials, check.problems)
