"""Metadata quality score, adapted from data.europa.eu's Metadata Quality Assessment (MQA).

A pure function of a resource and its items: ``assess(resource, items)``. The MQA gives at most
405 points over five dimensions; we keep its dimensions, their maxima and its rating bands and
swap the DCAT-specific checks for what the national catalog guide records:

| dimension | max | checks (points) |
|---|---|---|
| findability 可发现性 | 100 | keywords (30), theme (30), spatial coverage (20), temporal coverage (20) |
| accessibility 可访问性 | 100 | sharing method stated (50), sharing terms complete: conditions and basis where not open_share (30), opening terms complete: conditions where conditional (20) |
| interoperability 互操作性 | 110 | format stated (20), machine-readable format: database / API / spreadsheet (20), items bound to data elements (40 × share of items), a subject key bound to a standard element (20), English item names (10 × share) |
| reusability 可重用性 | 75 | contact person (10), contact phone or e-mail (10), publisher (10), abstract of at least 30 characters (15), English resource name (10), legal or policy basis stated (20) |
| contextuality 情境性 | 20 | update cycle (5), publication date (5), classification (5), related resources (5) |

Rating (MQA bands): excellent 351–405, good 221–350, sufficient 121–220, bad 0–120. The result
is stored on the resource when it is published and shown with what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongban.catalog.models import DataType, Item, Resource

MAX_POINTS = 405
DIMENSIONS = {
    "findability": ("可发现性", "Findability", 100),
    "accessibility": ("可访问性", "Accessibility", 100),
    "interoperability": ("互操作性", "Interoperability", 110),
    "reusability": ("可重用性", "Reusability", 75),
    "contextuality": ("情境性", "Contextuality", 20),
}
RATINGS = ((351, "excellent", "优秀", "Excellent"), (221, "good", "良好", "Good"),
           (121, "sufficient", "一般", "Sufficient"), (0, "bad", "较差", "Bad"))
MACHINE_READABLE = {Resource.Format.DATABASE, Resource.Format.API, Resource.Format.SPREADSHEET}


@dataclass(frozen=True)
class Check:
    dimension: str
    key: str
    label_zh: str
    label_en: str
    points: int
    earned: int


def _check(dimension, key, zh, en, points, ok: float | bool) -> Check:
    share = float(ok) if not isinstance(ok, bool) else (1.0 if ok else 0.0)
    return Check(dimension, key, zh, en, points, round(points * share))


def _share(items: list[Item], predicate) -> float:
    return sum(1 for item in items if predicate(item)) / len(items) if items else 0.0


def checks(resource: Resource, items: list[Item]) -> list[Check]:
    r = resource
    needs_basis = r.sharing != Resource.Sharing.OPEN_SHARE
    subject = next((i for i in items if i.is_subject_key), None)
    subject_bound = bool(subject and subject.data_element_id
                         and subject.effective_type in (DataType.ID_NUMBER, DataType.USCC))
    return [
        _check("findability", "keywords", "关键字", "Keywords", 30, bool(r.keywords)),
        _check("findability", "theme", "主题分类", "Theme", 30, bool(r.theme)),
        _check("findability", "spatial", "空间范围", "Spatial coverage", 20, bool(r.spatial)),
        _check("findability", "temporal", "时间范围", "Temporal coverage", 20, bool(r.temporal_start)),
        _check("accessibility", "sharing_method", "共享方式", "Sharing method", 50, bool(r.sharing_method)),
        _check("accessibility", "sharing_terms", "共享条件与依据", "Sharing conditions and basis", 30,
               not needs_basis or bool(r.sharing_basis and (r.sharing == Resource.Sharing.NO_SHARE
                                                            or r.sharing_conditions))),
        _check("accessibility", "opening_terms", "开放条件", "Opening conditions", 20,
               r.opening != Resource.Opening.CONDITIONAL or bool(r.opening_conditions)),
        _check("interoperability", "format", "资源格式", "Format", 20, bool(r.format)),
        _check("interoperability", "machine_readable", "机器可读格式", "Machine-readable format", 20,
               r.format in MACHINE_READABLE),
        _check("interoperability", "data_elements", "信息项引用数据元", "Items bound to data elements", 40,
               _share(items, lambda i: bool(i.data_element_id))),
        _check("interoperability", "subject_element", "主体标识引用标准数据元", "Subject key bound to a standard element",
               20, subject_bound),
        _check("interoperability", "item_names_en", "信息项英文名称", "English item names", 10,
               _share(items, lambda i: bool(i.name_en))),
        _check("reusability", "contact_name", "联系人", "Contact person", 10, bool(r.contact_name)),
        _check("reusability", "contact_point", "联系电话或邮箱", "Contact phone or e-mail", 10,
               bool(r.contact_phone or r.contact_email)),
        _check("reusability", "publisher", "提供部门", "Publisher", 10, bool(r.department_id)),
        _check("reusability", "abstract", "资源摘要（不少于 30 字）", "Abstract (30 characters or more)", 15,
               len(r.abstract or "") >= 30),
        _check("reusability", "name_en", "英文名称", "English name", 10, bool(r.name_en)),
        _check("reusability", "basis", "共享开放依据", "Legal or policy basis", 20, bool(r.sharing_basis)),
        _check("contextuality", "update_cycle", "更新周期", "Update cycle", 5, bool(r.update_cycle)),
        _check("contextuality", "issued", "发布日期", "Publication date", 5, bool(r.published_at)),
        _check("contextuality", "classification", "资源分类", "Classification", 5, bool(r.classification)),
        _check("contextuality", "related", "关联资源", "Related resources", 5, bool(r.related_codes)),
    ]


def assess(resource: Resource, items: list[Item] | None = None) -> dict:
    """The quality report: total points, percent, rating, per-dimension points and what is missing."""
    if items is None:
        items = list(resource.items.all())
    results = checks(resource, items)
    total = sum(c.earned for c in results)
    dimensions = {}
    for key, (zh, en, maximum) in DIMENSIONS.items():
        dimensions[key] = {"label_zh": zh, "label_en": en, "max": maximum,
                           "points": sum(c.earned for c in results if c.dimension == key)}
    rating = next(r for r in RATINGS if total >= r[0])
    return {
        "points": total,
        "max": MAX_POINTS,
        "percent": round(total * 100 / MAX_POINTS),
        "rating": rating[1], "rating_zh": rating[2], "rating_en": rating[3],
        "dimensions": dimensions,
        "missing": [
            {"dimension": c.dimension, "key": c.key, "label_zh": c.label_zh, "label_en": c.label_en,
             "points": c.points - c.earned}
            for c in results if c.earned < c.points
        ],
    }
