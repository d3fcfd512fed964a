"""Catalog spreadsheets: bulk import (CSV, XLSX) and CSV export, with Chinese column headers.

Columns (as provinces' catalog spreadsheets name them; order free, unknown columns ignored,
those marked * required): 资源名称*, 英文名称, 资源摘要*, 资源分类 (基础/主题/部门), 类目,
资源格式, 共享类型* (无条件共享/有条件共享/不予共享), 共享条件, 共享方式 (接口/文件/库表),
共享依据, 开放类型* (无条件开放/有条件开放/不予开放), 开放条件, 更新周期* (实时/每日/每周/每月/
每季度/每年/不定期), 主题, 关键字 (separated by 、，; or spaces), 关联资源 (codes), 空间范围 (GB/T 2260
code), 时间范围起, 时间范围止 (YYYY-MM-DD), 联系人, 联系电话, 联系邮箱, 信息项*. The English
values (``open_share`` …) are accepted too. The export adds 资源代码, 版本, 提供部门, 发布日期
and can be imported again.

信息项 mini-syntax: items separated by ``;`` (or ``；``), each ``名称:类型[:标志]…`` (``:`` or ``：``)

* 类型: ``string`` / ``string(50)`` / ``integer`` / ``decimal`` / ``date`` / ``datetime`` / ``boolean`` /
  ``phone`` / ``id_number`` / ``uscc`` (Chinese: 字符串, 整数, 数值, 日期, 日期时间, 布尔, 手机号码,
  公民身份号码, 统一社会信用代码), or a data element by identifier (``DE00003``) or by name (``性别``).
  id_number, uscc and phone bind to the standard data element of that type.
* 标志: ``必填`` · ``主体标识`` (the subject key; exactly one per resource) · ``一般`` / ``重要`` /
  ``核心`` (grade, default 一般) · ``个人敏感`` · ``键=name`` (the ASCII item key; default: the
  data element's key, else item_<n>) · ``英文=Name`` · ``长度=50`` · ``脱敏=首3尾4`` / ``脱敏=全部`` /
  ``脱敏=哈希`` / ``脱敏=区县`` / ``脱敏=无``.

Example: ``公民身份号码:id_number:必填:主体标识:核心:个人敏感:脱敏=首3尾4;姓名:DE00002:必填:重要``.

A file with any bad row is rejected whole: ``InvalidInput`` code ``invalid_rows`` whose details
list every problem as ``{row, column, code, message}`` (row numbers as the spreadsheet shows them:
the header is row 1), and nothing is imported.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import xml.parsers.expat
import zipfile
from typing import Any

from tongban.catalog import services
from tongban.catalog.models import DataType, Item, Resource
from tongban.catalog.rules import Problem, clean_items, clean_resource, current_elements
from tongban.core.errors import InvalidInput
from tongban.core.formula_guard import formula_safe, unguard
from tongban.identity.access import Actor

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_XLSX_UNCOMPRESSED = 50 * 1024 * 1024
MAX_IMPORT_ROWS = 2000

COLUMNS: list[tuple[str, str]] = [
    ("资源名称", "name"), ("英文名称", "name_en"), ("资源摘要", "abstract"), ("资源分类", "category"),
    ("类目", "classification"), ("资源格式", "format"), ("共享类型", "sharing"), ("共享条件", "sharing_conditions"),
    ("共享方式", "sharing_method"), ("共享依据", "sharing_basis"), ("开放类型", "opening"),
    ("开放条件", "opening_conditions"), ("更新周期", "update_cycle"), ("主题", "theme"), ("关键字", "keywords"),
    ("关联资源", "related_codes"), ("空间范围", "spatial"), ("时间范围起", "temporal_start"),
    ("时间范围止", "temporal_end"), ("联系人", "contact_name"), ("联系电话", "contact_phone"),
    ("联系邮箱", "contact_email"), ("信息项", "items"),
]
REQUIRED_COLUMNS = ("资源名称", "资源摘要", "共享类型", "开放类型", "更新周期", "信息项")
HEADER_OF = {name: header for header, name in COLUMNS}
EXPORT_ONLY = ("资源代码", "版本", "提供部门", "发布日期")

VOCABULARY: dict[str, dict[str, str]] = {
    "category": {"基础": "basic", "基础信息资源": "basic", "主题": "theme", "主题信息资源": "theme",
                 "部门": "department", "部门信息资源": "department"},
    "format": {"数据库": "database", "电子表格": "spreadsheet", "电子文档": "document", "图形图像": "image",
               "流媒体": "media", "接口": "api", "服务接口": "api", "其他": "other"},
    "sharing": {"无条件共享": "open_share", "有条件共享": "conditional", "不予共享": "no_share"},
    "sharing_method": {"接口": "api", "文件": "file", "库表": "table"},
    "opening": {"无条件开放": "open", "有条件开放": "conditional", "不予开放": "closed"},
    "update_cycle": {"实时": "realtime", "每日": "daily", "每周": "weekly", "每月": "monthly",
                     "每季度": "quarterly", "每年": "yearly", "不定期": "irregular"},
    "theme": {"人口": "population", "法人": "legal_entity", "自然资源和空间地理": "natural_resources",
              "经济": "economy", "社会信用": "credit", "证照": "licences", "卫生健康": "health",
              "就业和社会保障": "social_security", "民政": "civil_affairs", "市场监管": "market", "交通": "transport",
              "教育文化": "education", "生态环境": "environment", "政务": "government"},
}
LABELS = {field: {value: label for label, value in reversed(list(words.items()))}
          for field, words in VOCABULARY.items()}

TYPE_ALIASES = {
    "string": DataType.STRING, "字符串": DataType.STRING, "字符": DataType.STRING, "文本": DataType.STRING,
    "integer": DataType.INTEGER, "整数": DataType.INTEGER, "decimal": DataType.DECIMAL, "数值": DataType.DECIMAL,
    "小数": DataType.DECIMAL, "date": DataType.DATE, "日期": DataType.DATE, "datetime": DataType.DATETIME,
    "日期时间": DataType.DATETIME, "boolean": DataType.BOOLEAN, "布尔": DataType.BOOLEAN, "是否": DataType.BOOLEAN,
    "phone": DataType.PHONE, "手机号码": DataType.PHONE, "id_number": DataType.ID_NUMBER,
    "公民身份号码": DataType.ID_NUMBER, "身份证号码": DataType.ID_NUMBER, "uscc": DataType.USCC,
    "统一社会信用代码": DataType.USCC,
}
GRADES = {"一般": Item.Grade.GENERAL, "重要": Item.Grade.IMPORTANT, "核心": Item.Grade.CORE}
MASKS = {"无": Item.Masking.NONE, "全部": Item.Masking.FULL, "哈希": Item.Masking.HASH, "区县": Item.Masking.REGION}
_TYPE_WITH_LENGTH = re.compile(r"(\w+)\((\d+)\)")
_KEEP_ENDS = re.compile(r"首(\d+)尾(\d+)")


# --- the items mini-syntax -----------------------------------------------------------------------------------


def parse_items(text: str, elements: dict | None = None) -> tuple[list[dict], list[str]]:
    """Item dicts (for ``rules.clean_items``) from the mini-syntax, and messages for what is unreadable."""
    elements = current_elements() if elements is None else elements
    by_name = {e.name: e for e in sorted(elements.values(), key=lambda e: e.identifier, reverse=True)}
    items, errors = [], []
    for position, chunk in enumerate((c for c in re.split(r"[;；]", text or "") if c.strip()), start=1):
        parts = [p.strip() for p in re.split(r"[:：]", chunk)]
        item: dict[str, Any] = {"name": parts[0]}
        if len(parts) < 2 or not parts[1]:
            errors.append(f"第 {position} 项「{parts[0]}」缺少类型 / item {position} has no type")
            items.append(item)
            continue
        kind = parts[1]
        sized = _TYPE_WITH_LENGTH.fullmatch(kind)
        if sized:
            kind, item["max_length"] = sized.group(1), sized.group(2)
        if kind in elements:
            item["data_element"] = kind
        elif kind.lower() in TYPE_ALIASES or kind in TYPE_ALIASES:
            item["data_type"] = TYPE_ALIASES.get(kind.lower()) or TYPE_ALIASES[kind]
        elif kind in by_name:
            item["data_element"] = by_name[kind].identifier
        else:
            errors.append(f"第 {position} 项「{parts[0]}」的类型「{kind}」未知 / item {position}: unknown type {kind}")
        for flag in parts[2:]:
            name, _, value = flag.partition("=")
            if flag == "必填":
                item["required"] = True
            elif flag == "选填":
                item["required"] = False
            elif flag == "主体标识":
                item["is_subject_key"] = True
            elif flag in GRADES:
                item["grade"] = GRADES[flag]
            elif flag == "个人敏感":
                item["personal_sensitive"] = True
            elif name == "键":
                item["key"] = value
            elif name == "英文":
                item["name_en"] = value
            elif name == "长度":
                item["max_length"] = value
            elif name == "脱敏" and value in MASKS:
                item["masking"] = MASKS[value]
            elif name == "脱敏" and _KEEP_ENDS.fullmatch(value):
                match = _KEEP_ENDS.fullmatch(value)
                item.update(masking=Item.Masking.KEEP_ENDS, mask_head=int(match.group(1)),
                            mask_tail=int(match.group(2)))
            elif flag:
                errors.append(f"第 {position} 项「{parts[0]}」的标志「{flag}」无法识别 / "
                              f"item {position}: unknown flag {flag}")
        items.append(item)
    return items, errors


def format_items(items: list[Item]) -> str:
    """The mini-syntax of a resource's items (what the export writes and the import reads)."""
    reverse_grades = {v: k for k, v in GRADES.items()}
    reverse_masks = {v: k for k, v in MASKS.items()}
    chunks = []
    for item in items:
        if item.data_element_id:
            kind = item.data_element.identifier
        else:
            kind = item.data_type + (f"({item.max_length})" if item.max_length else "")
        parts = [item.name, kind]
        if item.data_element_id and item.max_length:
            parts.append(f"长度={item.max_length}")
        if item.required and not item.is_subject_key:
            parts.append("必填")
        if item.is_subject_key:
            parts.append("主体标识")
        parts.append(reverse_grades[item.grade])
        if item.personal_sensitive:
            parts.append("个人敏感")
        parts.append(f"键={item.key}")
        if item.name_en:
            parts.append(f"英文={item.name_en}")
        if item.masking == Item.Masking.KEEP_ENDS:
            parts.append(f"脱敏=首{item.mask_head}尾{item.mask_tail}")
        elif item.masking != Item.Masking.NONE:
            parts.append(f"脱敏={reverse_masks[item.masking]}")
        chunks.append(":".join(p.replace(":", " ").replace(";", " ") for p in parts))
    return ";".join(chunks)


# --- reading files -------------------------------------------------------------------------------------------


def _bad_file(zh: str, en: str, code: str = "invalid_file") -> InvalidInput:
    return InvalidInput(zh, en, code=code)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unguard(str(value).strip())  # undo the export's formula guard


def read_rows(filename: str, content: bytes) -> list[list[str]]:
    """The rows of a CSV (UTF-8 or GB18030) or XLSX file, header first, cells as text."""
    if len(content) > MAX_IMPORT_BYTES:
        raise _bad_file(f"文件过大（上限 {MAX_IMPORT_BYTES // 1024 // 1024} MB）",
                        f"File too large (limit {MAX_IMPORT_BYTES // 1024 // 1024} MB)", "file_too_large")
    name = (filename or "").lower()
    if name.endswith(".xlsx") or content[:2] == b"PK":
        rows = _xlsx_rows(content)
    elif name.endswith(".csv") or name.endswith(".txt") or not name:
        rows = _csv_rows(content)
    else:
        raise _bad_file("只接受 CSV 或 XLSX 文件", "Only CSV or XLSX files are accepted", "unsupported_file_type")
    rows = [row for row in rows if any(cell for cell in row)]
    if len(rows) > MAX_IMPORT_ROWS + 1:
        raise _bad_file(f"一次最多导入 {MAX_IMPORT_ROWS} 行", f"At most {MAX_IMPORT_ROWS} rows per file",
                        "too_many_rows")
    return rows


def _csv_rows(content: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _bad_file("无法识别文件编码（请用 UTF-8）", "Unknown text encoding (use UTF-8)")
    try:
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error:
        raise _bad_file("CSV 格式有误", "Malformed CSV") from None


def _refuse_dtds(archive: zipfile.ZipFile) -> None:
    """The XML parts of a workbook never declare a DTD. One that does is an entity-expansion bomb:
    a few kilobytes, well under the unpacked-size limit, that the XML parser expands to gigabytes
    (a 10 KB file grew to 150 MB and 400 MB of memory). Expat reads each part (in any encoding) and
    stops at the first DOCTYPE or entity declaration, before openpyxl parses anything."""

    def refuse(*_args):
        raise _bad_file("XLSX 文件含有不允许的 XML 文档类型声明（DTD）",
                        "The XLSX file contains an XML document type declaration (DTD), which is not allowed",
                        "unsafe_xml")

    for info in archive.infolist():  # every part: the workbook's relations may name a sheet "x.bin"
        parser = xml.parsers.expat.ParserCreate()
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
        with archive.open(info) as part:
            try:
                while chunk := part.read(1024 * 1024):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
            except xml.parsers.expat.ExpatError:
                continue  # not XML (an image) or not well-formed (openpyxl will say it is unreadable)


def _xlsx_rows(content: bytes) -> list[list[str]]:
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            # A small file may unpack to gigabytes (a zip bomb): check before openpyxl reads it.
            if sum(info.file_size for info in archive.infolist()) > MAX_XLSX_UNCOMPRESSED:
                raise _bad_file("文件解压后过大", "File too large when unpacked", "file_too_large")
            _refuse_dtds(archive)
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except InvalidInput:
        raise
    except Exception:  # noqa: BLE001 - any unreadable workbook is the caller's bad input
        raise _bad_file("无法读取 XLSX 文件", "Cannot read the XLSX file") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append([_cell(c) for c in row])
            if len(rows) > MAX_IMPORT_ROWS + 1:
                break
        return rows
    finally:
        workbook.close()


# --- import -----------------------------------------------------------------------------------------------------


def _row_value(field: str, text: str) -> str:
    return VOCABULARY.get(field, {}).get(text, text)


def _column_of(problem_field: str) -> str:
    base = problem_field.split("[", 1)[0].split(".", 1)[0]
    return HEADER_OF.get(base, base)


def import_resources(actor: Actor, filename: str, content: bytes) -> list[Resource]:
    """Create a draft for every row, or nothing when any row fails (code ``invalid_rows``)."""
    services._require_steward(actor)
    rows = read_rows(filename, content)
    if not rows:
        raise _bad_file("文件为空", "The file is empty", "empty_file")
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise InvalidInput(f"缺少列：{'、'.join(missing)}", f"Missing columns: {', '.join(missing)}",
                           code="missing_columns", details={"missing": missing})
    index = {name: header.index(column) for column, name in COLUMNS if column in header}
    elements = current_elements()
    errors: list[dict] = []
    prepared = []
    for row_number, row in enumerate(rows[1:], start=2):
        data = {name: _row_value(name, row[i] if i < len(row) else "") for name, i in index.items()}
        items, item_errors = parse_items(data.pop("items", ""), elements)
        clean, problems = clean_resource(data)
        cleaned_items, item_problems = clean_items(items, elements)
        for message in item_errors:
            errors.append({"row": row_number, "column": "信息项", "code": "invalid_item_syntax", "message": message})
        for problem in problems + item_problems:
            errors.append(_row_error(row_number, problem))
        prepared.append((clean, cleaned_items))
    if not prepared:
        raise _bad_file("文件中没有数据行", "The file has no data rows", "empty_file")
    if errors:
        raise InvalidInput(f"导入失败：{len({e['row'] for e in errors})} 行有误，未导入任何资源",
                           f"Import rejected: {len({e['row'] for e in errors})} rows have errors; nothing imported",
                           code="invalid_rows", details=errors)
    return [services.create_resource(actor, {}, cleaned=pair) for pair in prepared]


def _row_error(row: int, problem: Problem) -> dict:
    message = f"{problem.message_zh} / {problem.message_en}"
    if problem.field.startswith("items["):
        position = problem.field[6:problem.field.index("]")]
        message = f"第 {position} 项：{message}"
    return {"row": row, "column": _column_of(problem.field), "code": problem.code, "message": message}


# --- export ------------------------------------------------------------------------------------------------------


def _safe(value: Any) -> str:
    """Spreadsheet formula injection guard (``core.formula_guard``)."""
    return "" if value is None else formula_safe(str(value))


def export_rows(resources: list[Resource]) -> list[list[str]]:
    header = [*EXPORT_ONLY, *(column for column, _ in COLUMNS)]
    rows = [header]
    for resource in resources:
        values = []
        for _column, name in COLUMNS:
            if name == "items":
                values.append(format_items(sorted(resource.items.all(), key=lambda i: (i.order, i.pk))))
            elif name in ("keywords", "related_codes"):
                values.append("、".join(getattr(resource, name)))
            elif name in LABELS:
                value = getattr(resource, name)
                values.append(LABELS[name].get(value, value))
            else:
                value = getattr(resource, name)
                values.append(value.isoformat() if hasattr(value, "isoformat") else value)
        published = resource.published_at.date().isoformat() if resource.published_at else ""
        rows.append([_safe(v) for v in (resource.code, resource.version, resource.department.name, published,
                                        *values)])
    return rows


def export_csv(resources: list[Resource]) -> str:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # a BOM, so spreadsheet programs read UTF-8 Chinese correctly
    csv.writer(buffer).writerows(export_rows(resources))
    return buffer.getvalue()


def export_resources(actor: Actor, **filters) -> list[Resource]:
    """The published resources the actor may see (filters as ``services.search_resources``)."""
    rows = services.visible_published(actor).select_related("department").prefetch_related("items__data_element")
    for name in ("sharing", "opening", "theme", "format", "update_cycle"):
        if filters.get(name):
            rows = rows.filter(**{name: filters[name]})
    if filters.get("department"):
        rows = rows.filter(department__code=filters["department"])
    return list(rows.order_by("code")[:10_000])
