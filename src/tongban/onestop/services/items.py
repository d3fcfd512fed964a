"""Service items (政务服务事项): create, update, publish and withdraw them; the
vocabularies of the hall (themes, life events, channels, situations).

Callers hold the transaction. Authorization (deny by default): an official with the role
``steward`` or ``dept_admin`` of the implementing department, or the bureau's ``bureau_admin``,
maintains an item. Another department's draft is reported as not found; its published item as
not allowed. Every change is a ledger entry (``onestop.item_created`` / ``item_updated`` /
``item_published`` / ``item_withdrawn``). Instant-approval rules are set through
``services.rules.set_rule``.

``clean_item(data)`` checks everything at once and reports every problem (field path, code,
Chinese and English message) in one ``InvalidInput`` (code ``invalid_item``,
``details={"errors": [...]}``): codes unique, item type, time limits (promised ≤ statutory),
visits, channels, situations, themes and life events, the form (field types, choices, prefill
from a published shared resource and one of its items), materials (certificate types that
exist, shared resources and items that exist) and the certificate type the item produces.

Reading for the public (search, browse, the guide) is in ``services.guide``.
"""

from __future__ import annotations

from tongban.core.errors import Conflict, NotFound, PermissionDenied
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.ledger import services as ledger
from tongban.onestop.models import InstantRule, Material, ServiceItem, Upload
from tongban.onestop.services.item_validation import (  # noqa: F401 - re-exported vocabularies
    CHANNELS,
    EDITABLE,
    LIFE_EVENTS,
    SITUATIONS,
    THEMES,
    Cleaned,
    Problem,
    clean_item,
    raise_problems,
)

Status = ServiceItem.Status

EDIT_ROLES = (Role.STEWARD, Role.DEPT_ADMIN)

CREATED = "onestop.item_created"
UPDATED = "onestop.item_updated"
PUBLISHED = "onestop.item_published"
WITHDRAWN = "onestop.item_withdrawn"

# --- authorization -------------------------------------------------------------------------------------------


def may_edit(actor: Actor, department_id: int | None) -> bool:
    """Stewards and department administrators of the implementing department; the bureau's admin."""
    if actor.kind != "official":
        return False
    if actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN):
        return True
    return department_id is not None and actor.department_id == department_id and actor.has_role(*EDIT_ROLES)


def _require_editor(actor: Actor) -> None:
    require_authenticated(actor)
    if actor.kind != "official" or not (actor.has_role(*EDIT_ROLES)
                                        or (actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN))):
        raise PermissionDenied("只有部门数据管理员或部门管理员可以维护服务事项",
                               "Only a department's steward or administrator maintains service items",
                               details={"required_role": sorted([*EDIT_ROLES, Role.BUREAU_ADMIN])})


def _editable(actor: Actor, code: str, *, lock: bool = True) -> ServiceItem:
    _require_editor(actor)
    rows = ServiceItem.objects.select_related("department")
    item = (rows.select_for_update(of=("self",)) if lock else rows).filter(code=code).first()
    if item is None:
        raise NotFound("没有这个服务事项", "No such service item")
    if not may_edit(actor, item.department_id):
        if item.status != Status.PUBLISHED:
            raise NotFound("没有这个服务事项", "No such service item")
        raise PermissionDenied("这个服务事项由其他部门维护", "Another department maintains this service item")
    return item


def _record(actor: Actor, action: str, item: ServiceItem, payload: dict) -> None:
    ledger.record(actor=actor.username or actor.kind, action=action, subject=f"item:{item.code}",
                  payload=payload, department=item.department.code)


# --- use cases -----------------------------------------------------------------------------------------------


def item_input(item: ServiceItem) -> dict:
    """An item as the input ``create_item`` takes (for editing and for ``update_item``)."""
    data = {name: getattr(item, name) for name in EDITABLE if name not in ("department", "co_departments",
                                                                          "materials")}
    data["department"] = item.department.code
    data["co_departments"] = sorted(item.co_departments.values_list("code", flat=True))
    data["materials"] = [{
        "id": m.pk, "name": m.name, "necessity": m.necessity, "source": m.source,
        "certificate_type": m.certificate_type, "resource_code": m.resource_code,
        "resource_items": m.resource_items, "form_section": m.form_section, "description": m.description,
        "paper_copies": m.paper_copies} for m in item.materials.all()]
    return data


def _write_materials(item: ServiceItem, materials: list[dict]) -> None:
    existing = {m.pk: m for m in item.materials.all()}
    kept = set()
    for order, spec in enumerate(materials):
        spec = dict(spec)
        material_id = spec.pop("id", None)
        row = existing.get(material_id) if isinstance(material_id, int) else None
        if row is None:
            Material.objects.create(item=item, order=order, **spec)
            continue
        kept.add(row.pk)
        for key, value in spec.items():
            setattr(row, key, value)
        row.order = order
        row.save()
    dropped = [pk for pk in existing if pk not in kept]
    if Upload.objects.filter(material_id__in=dropped).exists():
        raise Conflict("已有申请上传了该材料，不能删除", "Applications hold uploads of a material removed here",
                       code="material_in_use")
    Material.objects.filter(pk__in=dropped).delete()


def create_item(actor: Actor, data: dict) -> ServiceItem:
    """A new draft item of ``data["department"]`` (default: the actor's department)."""
    _require_editor(actor)
    data = {**data, "department": data.get("department") or actor.department_code}
    cleaned = clean_item(data)
    if cleaned.department is not None and not may_edit(actor, cleaned.department.pk):
        raise PermissionDenied("只能维护本部门的服务事项", "You maintain only your department's service items")
    raise_problems(cleaned.problems)
    item = ServiceItem.objects.create(department=cleaned.department, status=Status.DRAFT, **cleaned.fields)
    item.co_departments.set(cleaned.co_departments)
    _write_materials(item, cleaned.materials)
    _record(actor, CREATED, item, {"name": item.name, "materials": len(cleaned.materials)})
    return item


def update_item(actor: Actor, code: str, changes: dict) -> ServiceItem:
    """Changes fields of an item (any status); ``materials``, when given, replaces the list
    (entries with an existing material's ``id`` keep it)."""
    item = _editable(actor, code)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise_problems([Problem(key, "unknown_field", "未知字段", "Unknown field") for key in unknown])
    if "code" in changes and changes["code"] != item.code and item.status != Status.DRAFT:
        raise_problems([Problem("code", "code_fixed", "已发布过的事项不能修改实施编码",
                                "The code of an item that has been published cannot change")])
    data = {**item_input(item), **changes}
    cleaned = clean_item(data, current=item)
    if cleaned.department is not None and not may_edit(actor, cleaned.department.pk):
        raise PermissionDenied("只能维护本部门的服务事项", "You maintain only your department's service items")
    raise_problems(cleaned.problems)
    for key, value in cleaned.fields.items():
        setattr(item, key, value)
    item.department = cleaned.department
    item.save()
    item.co_departments.set(cleaned.co_departments)
    if "materials" in changes:
        _write_materials(item, cleaned.materials)
    _record(actor, UPDATED, item, {"fields": sorted(changes)})
    return item


def publish(actor: Actor, code: str) -> ServiceItem:
    """Draft or withdrawn → published (checked again in full first)."""
    item = _editable(actor, code)
    if item.status == Status.PUBLISHED:
        raise Conflict("该事项已发布", "The item is already published", code="already_published")
    raise_problems(clean_item(item_input(item), current=item).problems)
    item.status = Status.PUBLISHED
    item.save(update_fields=["status", "updated_at"])
    _record(actor, PUBLISHED, item, {"name": item.name})
    return item


def withdraw(actor: Actor, code: str, reason: str = "") -> ServiceItem:
    """Published → withdrawn (no new applications; those under way go on)."""
    item = _editable(actor, code)
    if item.status != Status.PUBLISHED:
        raise Conflict("只有已发布的事项可以撤下", "Only a published item can be withdrawn", code="not_published")
    item.status = Status.WITHDRAWN
    item.save(update_fields=["status", "updated_at"])
    _record(actor, WITHDRAWN, item, {"reason": reason[:200]})
    return item


def current_rule(item: ServiceItem) -> InstantRule | None:
    return InstantRule.objects.filter(item=item, is_current=True).first()


def has_instant_approval(item: ServiceItem) -> bool:
    annotated = getattr(item, "instant_approval", None)
    if annotated is not None:
        return bool(annotated)
    return InstantRule.objects.filter(item=item, is_current=True).exists()


def get_published_item(code: str) -> ServiceItem:
    """A published item by code (for the public and the other one-stop services)."""
    item = ServiceItem.objects.select_related("department").filter(code=code, status=Status.PUBLISHED).first()
    if item is None:
        raise NotFound("没有这个服务事项或尚未发布", "No published service item with this code")
    return item


def get_item(actor: Actor, code: str) -> ServiceItem:
    """A published item, or a draft / withdrawn one its maintainers may see (others: not found)."""
    item = ServiceItem.objects.select_related("department").filter(code=code).first()
    if item is None or (item.status != Status.PUBLISHED and not may_edit(actor, item.department_id)):
        raise NotFound("没有这个服务事项或尚未发布", "No published service item with this code")
    return item


def department_items(actor: Actor) -> list[ServiceItem]:
    """The items the actor maintains (all statuses): their department's, or every one for the bureau."""
    _require_editor(actor)
    rows = ServiceItem.objects.select_related("department")
    if not (actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)):
        rows = rows.filter(department_id=actor.department_id)
    return list(rows)
