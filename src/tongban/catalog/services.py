"""Catalog use cases: register, review, publish, revise and deprecate resources; find them.

Callers hold the transaction. Authorization (deny by default):
* stewards (role ``steward``, or a department-system token with scope ``catalog:write``) of the
  provider department create, edit and submit drafts and revise or deprecate their resources;
* the bureau (an official of the ``is_bureau`` department with role ``bureau_admin`` or ``cdo``)
  reviews: publishes or rejects with a comment, and may deprecate;
* anyone signed in sees published resources; the public sees published resources whose open
  class is ``open`` or ``conditional`` (their metadata); another department's unpublished row
  is reported as not found.

For other apps (the exchange): ``get_published(code)``, ``items_of(resource)``,
``subject_item(resource)``, ``subject_kind(resource)`` and ``validate_value(item, value)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F
from django.utils import timezone

from tongban.catalog import quality, search
from tongban.catalog.models import SUBJECT_TYPES, Item, Resource, ResourceSequence, ReviewComment
from tongban.catalog.rules import clean_items, clean_resource, raise_problems
from tongban.catalog.validation import validate_value, validator_for  # noqa: F401 - part of the API
from tongban.core import generations
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.identity.access import Actor, Role, require_authenticated, require_role, require_scope
from tongban.identity.models import Department
from tongban.ledger import services as ledger

Status = Resource.Status
PAGE_SIZE_MAX = 100
PAGE_MAX = 10_000
REVIEWER_ROLES = (Role.BUREAU_ADMIN, Role.CDO)

# Ledger actions of the catalog.
SUBMITTED = "catalog.resource_submitted"
PUBLISHED = "catalog.resource_published"
REJECTED = "catalog.resource_rejected"
DEPRECATED = "catalog.resource_deprecated"


def _record(actor: Actor, action: str, subject: str, payload: dict[str, Any]) -> None:
    """The one place the catalog reports a consequential change: the ledger, in the caller's
    transaction. Free-text comments go in as their SHA-256 (tamper-evident, yet no personal data
    a reviewer may have typed lands in the public ledger); the text stays in ReviewComment."""
    if "comment" in payload:
        comment = payload.pop("comment") or ""
        payload["comment_sha256"] = hashlib.sha256(comment.encode("utf-8")).hexdigest() if comment else None
    ledger.record(actor=actor.username or actor.kind, action=action, subject=f"resource:{subject}",
                  payload=payload, department=actor.department_code)


# --- who may do what --------------------------------------------------------------------------------------


def _require_steward(actor: Actor) -> Actor:
    require_authenticated(actor)
    if actor.kind == "system":
        require_scope(actor, "catalog:write")
    else:
        require_role(actor, Role.STEWARD)
    if actor.department_id is None:
        raise PermissionDenied("只有部门数据管理员可以维护目录", "Only a department's data steward maintains the catalog")
    return actor


def _require_reviewer(actor: Actor) -> Actor:
    require_role(actor, *REVIEWER_ROLES)
    if not (actor.is_bureau and actor.kind == "official"):
        raise PermissionDenied("目录审核由大数据局负责", "Catalog review is the big-data bureau's")
    return actor


def is_reviewer(actor: Actor) -> bool:
    return actor.kind == "official" and actor.is_bureau and actor.has_role(*REVIEWER_ROLES)


def is_steward(actor: Actor) -> bool:
    if actor.department_id is None:
        return False
    if actor.kind == "system":
        return actor.allows("catalog:write")
    return actor.kind == "official" and actor.has_role(Role.STEWARD)


def sees_unpublished(actor: Actor, resource: Resource) -> bool:
    """Drafts, submissions and retired versions: the provider department and the bureau."""
    if actor.kind not in ("official", "system"):
        return False
    return resource.department_id == actor.department_id or (actor.is_bureau and actor.kind == "official")


def visible_published(actor: Actor, *, public_portal: bool = False):
    rows = Resource.objects.filter(status=Status.PUBLISHED)
    if public_portal or not actor.is_authenticated:
        rows = rows.filter(opening__in=search.PUBLIC_OPENINGS)
    return rows


# --- reading ------------------------------------------------------------------------------------------------


def get_published(code: str) -> Resource:
    """The published version of a resource code (for other apps; no visibility check)."""
    resource = Resource.objects.select_related("department").filter(code=code, status=Status.PUBLISHED).first()
    if resource is None:
        raise NotFound("资源不存在或未发布", "No published resource with this code")
    return resource


def items_of(resource: Resource) -> list[Item]:
    """The items of a resource in order, with their data elements (and code lists) loaded."""
    return list(resource.items.select_related("data_element__code_list").order_by("order", "pk"))


def subject_item(resource: Resource) -> Item:
    return next(item for item in items_of(resource) if item.is_subject_key)


def subject_kind(resource: Resource) -> str:
    """``citizen`` (keyed by ID number) or ``enterprise`` (keyed by USCC)."""
    return SUBJECT_TYPES[subject_item(resource).effective_type]


def get_resource(actor: Actor, code: str, version: int | None = None) -> Resource:
    """One version of a resource as the actor may see it: by default the published one, or (for
    the provider department and the bureau) the latest version when nothing is published."""
    rows = Resource.objects.select_related("department", "supersedes").filter(code=code)
    if version is not None:
        resource = rows.filter(version=version).first()
    else:
        resource = rows.filter(status=Status.PUBLISHED).first() or rows.order_by("-version").first()
    if resource is None:
        raise NotFound()
    if resource.status == Status.PUBLISHED:
        if actor.is_authenticated or resource.is_public:
            return resource
        raise NotFound()
    if sees_unpublished(actor, resource):
        return resource
    raise NotFound()


def versions_of(actor: Actor, resource: Resource) -> list[Resource]:
    rows = Resource.objects.filter(code=resource.code).order_by("-version")
    if not sees_unpublished(actor, resource):
        rows = rows.filter(status=Status.PUBLISHED)
    return list(rows)


def reviews_of(actor: Actor, resource: Resource) -> list[ReviewComment]:
    if not sees_unpublished(actor, resource):
        return []
    return list(ReviewComment.objects.filter(resource__code=resource.code).select_related("resource")
                .order_by("-created_at", "-pk"))


def quality_of(resource: Resource) -> dict:
    """The stored report of a published version, or a live one for a draft."""
    return resource.quality or quality.assess(resource, items_of(resource))


def department_resources(actor: Actor, *, status: str | None = None) -> list[Resource]:
    """Every version of the steward's department's resources, drafts included."""
    _require_steward(actor)
    rows = Resource.objects.filter(department_id=actor.department_id).select_related("department")
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("code", "-version"))


def review_queue(actor: Actor) -> list[Resource]:
    _require_reviewer(actor)
    return list(Resource.objects.filter(status=Status.SUBMITTED).select_related("department", "supersedes")
                .order_by("submitted_at", "pk"))


@dataclass
class SearchPage:
    items: list[Resource]
    count: int
    page: int
    page_size: int
    count_exact: bool = True
    facets: dict[str, list[dict]] = field(default_factory=dict)
    facets_exact: bool = True
    words: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))


def _page_args(page: int, page_size: int) -> tuple[int, int]:
    # Pages are bounded too: an offset past 2**63 is an error in the database, not an empty page.
    if not 1 <= page <= PAGE_MAX or page_size < 1 or page_size > PAGE_SIZE_MAX:
        raise InvalidInput(f"分页参数无效（页码 1–{PAGE_MAX}，每页 1–{PAGE_SIZE_MAX} 条）",
                           f"Invalid paging (page 1–{PAGE_MAX}, 1–{PAGE_SIZE_MAX} per page)", code="invalid_paging")
    return page, page_size


def search_resources(actor: Actor, q: str = "", *, department: str | None = None, sharing: str | None = None,
                     opening: str | None = None, theme: str | None = None, format: str | None = None,
                     update_cycle: str | None = None, page: int = 1, page_size: int = 20,
                     public_portal: bool = False, with_facets: bool = False) -> SearchPage:
    """Search published resources (Chinese full text + facets); see ``catalog.search``."""
    page, page_size = _page_args(page, page_size)
    public = public_portal or not actor.is_authenticated
    filters: dict[str, Any] = {"sharing": sharing, "opening": opening, "theme": theme, "format": format,
                               "update_cycle": update_cycle}
    if department:
        filters["department"] = Department.objects.filter(code=department).values_list("pk", flat=True).first() or -1
    q = (q or "").strip()[:100]
    if q:
        hits = search.search(q, filters, public=public, page=page, page_size=page_size, with_facets=with_facets)
        by_id = Resource.objects.select_related("department").in_bulk(hits.ids)
        result = SearchPage([by_id[pk] for pk in hits.ids if pk in by_id], hits.count, page, page_size,
                            hits.count_exact, words=hits.words)
        if with_facets:
            result.facets, result.facets_exact = _facet_lists(hits.facets), hits.facets_exact
        return result
    rows = visible_published(actor, public_portal=public_portal)
    for name, value in filters.items():
        if value not in (None, ""):
            rows = rows.filter(**{search.FILTER_COLUMNS[name]: value})
    start = (page - 1) * page_size
    items = list(rows.select_related("department").order_by("-published_at", "-pk")[start:start + page_size])
    result = SearchPage(items, rows.count(), page, page_size)
    if with_facets:
        result.facets = _facet_lists(search.facet_counts(rows))
    return result


def _facet_lists(counters) -> dict[str, list[dict]]:
    labels = {
        "sharing": dict(Resource.Sharing.choices), "opening": dict(Resource.Opening.choices),
        "theme": dict(Resource.Theme.choices), "format": dict(Resource.Format.choices),
        "update_cycle": dict(Resource.UpdateCycle.choices),
    }
    departments = {pk: (code, name) for pk, code, name in
                   Department.objects.filter(pk__in=list(counters["department"])).values_list("pk", "code", "name")}
    facets = {}
    for name, counter in counters.items():
        entries = []
        for value, count in counter.most_common():
            if value in (None, ""):
                continue
            if name == "department":
                code, label = departments.get(value, (str(value), str(value)))
                entries.append({"value": code, "label": label, "count": count})
            else:
                entries.append({"value": value, "label": str(labels[name].get(value, value)), "count": count})
        facets[name] = entries
    return facets


# --- writing ------------------------------------------------------------------------------------------------


def next_code(department: Department) -> str:
    """``<department code>-<sequence:05d>``; the UPDATE locks the counter row until commit."""
    ResourceSequence.objects.get_or_create(department=department)
    ResourceSequence.objects.filter(department=department).update(last=F("last") + 1)
    last = ResourceSequence.objects.filter(department=department).values_list("last", flat=True).get()
    return f"{department.code}-{last:05d}"


def _validated(data: dict, items: list[dict] | None) -> tuple[dict, list[dict]]:
    clean, problems = clean_resource(data)
    cleaned_items, item_problems = clean_items(items or [])
    raise_problems(problems + item_problems)
    return clean, cleaned_items


def _write_items(resource: Resource, cleaned_items: list[dict]) -> None:
    resource.items.all().delete()
    Item.objects.bulk_create([Item(resource=resource, **item) for item in cleaned_items])


def create_resource(actor: Actor, data: dict, *, cleaned: tuple[dict, list[dict]] | None = None) -> Resource:
    """A steward registers a new resource of their department, as a draft."""
    _require_steward(actor)
    clean, cleaned_items = cleaned or _validated(data, data.get("items"))
    department = Department.objects.get(pk=actor.department_id)
    resource = Resource.objects.create(code=next_code(department), version=1, status=Status.DRAFT,
                                       department=department, created_by=actor.username, **clean)
    _write_items(resource, cleaned_items)
    return resource


def _own_row(actor: Actor, code: str, statuses: tuple[str, ...]) -> Resource:
    _require_steward(actor)
    resource = Resource.objects.filter(code=code).order_by("-version").first()
    if resource is None or resource.department_id != actor.department_id:
        raise NotFound()
    row = Resource.objects.filter(code=code, status__in=statuses).order_by("-version").first()
    if row is None:
        raise Conflict("该资源当前状态不允许此操作", "The resource is not in a state that allows this",
                       code="invalid_state", details={"status": resource.status, "allowed": list(statuses)})
    return row


def update_draft(actor: Actor, code: str, data: dict) -> Resource:
    """Change the draft version of a resource (a published version is never changed: revise it)."""
    resource = _own_row(actor, code, (Status.DRAFT,))
    clean, cleaned_items = _validated(data, data.get("items"))
    for name, value in clean.items():
        setattr(resource, name, value)
    resource.save()
    _write_items(resource, cleaned_items)
    return resource


def submit(actor: Actor, code: str, comment: str = "") -> Resource:
    resource = _own_row(actor, code, (Status.DRAFT,))
    # The draft was valid when saved; the rules may have changed since (e.g. an unknown related code).
    data = {name: getattr(resource, name) for name in _RESOURCE_FIELDS}
    _clean, problems = clean_resource(data)
    _items, item_problems = clean_items([_item_dict(i) for i in items_of(resource)])
    raise_problems(problems + item_problems)
    resource.status, resource.submitted_at = Status.SUBMITTED, timezone.now()
    resource.save(update_fields=["status", "submitted_at", "updated_at"])
    ReviewComment.objects.create(resource=resource, author=actor.username, decision=ReviewComment.Decision.SUBMIT,
                                 comment=(comment or "").strip()[:2000])
    _record(actor, SUBMITTED, resource.code, {"version": resource.version})
    return resource


def review(actor: Actor, code: str, *, approve: bool, comment: str = "") -> Resource:
    """The bureau publishes a submitted version or sends it back to draft with a comment."""
    _require_reviewer(actor)
    comment = (comment or "").strip()[:2000]
    resource = Resource.objects.select_related("department").filter(code=code, status=Status.SUBMITTED).first()
    if resource is None:
        if Resource.objects.filter(code=code).exists():
            raise Conflict("该资源没有待审核的版本", "No version of this resource awaits review", code="invalid_state")
        raise NotFound()
    now = timezone.now()
    if not approve:
        if not comment:
            raise InvalidInput("退回须说明理由", "A rejection needs a comment", code="comment_required")
        resource.status = Status.DRAFT
        resource.save(update_fields=["status", "updated_at"])
        ReviewComment.objects.create(resource=resource, author=actor.username,
                                     decision=ReviewComment.Decision.REJECT, comment=comment)
        _record(actor, REJECTED, resource.code, {"version": resource.version, "comment": comment})
        return resource
    previous = Resource.objects.filter(code=code, status=Status.PUBLISHED).first()
    if previous is not None:
        previous.status, previous.retired_at = Status.SUPERSEDED, now
        previous.save(update_fields=["status", "retired_at", "updated_at"])
        search.unindex_resource(previous.pk)
    resource.status, resource.published_at = Status.PUBLISHED, now
    report = quality.assess(resource, items_of(resource))
    resource.quality, resource.quality_score = report, report["percent"]
    resource.save(update_fields=["status", "published_at", "quality", "quality_score", "updated_at"])
    search.index_resource(resource)
    ReviewComment.objects.create(resource=resource, author=actor.username, decision=ReviewComment.Decision.PUBLISH,
                                 comment=comment)
    generations.bump()  # processes caching the published version (the exchange) refresh at once
    _record(actor, PUBLISHED, resource.code, {
        "version": resource.version, "supersedes": previous.version if previous else None,
        "quality": report["percent"],
    })
    return resource


_RESOURCE_FIELDS = (
    "name", "name_en", "abstract", "category", "classification", "format", "sharing", "sharing_conditions",
    "sharing_method", "sharing_basis", "opening", "opening_conditions", "update_cycle", "theme", "keywords",
    "related_codes", "spatial", "temporal_start", "temporal_end", "contact_name", "contact_phone", "contact_email",
)
_ITEM_FIELDS = ("key", "name", "name_en", "data_element", "data_type", "max_length", "required",
                "is_subject_key", "grade", "personal_sensitive", "masking", "mask_head", "mask_tail",
                "description", "order")


def _item_dict(item: Item) -> dict:
    data = {name: getattr(item, name) for name in _ITEM_FIELDS}
    data["data_element"] = item.data_element.identifier if item.data_element_id else ""
    return data


def resource_input(resource: Resource) -> dict:
    """A version's metadata and items as the input dict ``create_resource``/``update_draft`` take."""
    data = {name: getattr(resource, name) for name in _RESOURCE_FIELDS}
    data["items"] = [_item_dict(item) for item in items_of(resource)]
    return data


def revise(actor: Actor, code: str) -> Resource:
    """Start a new version of a published resource: a draft copy (version + 1) that supersedes it."""
    published = _own_row(actor, code, (Status.PUBLISHED,))
    if Resource.objects.filter(code=code, version__gt=published.version,
                               status__in=(Status.DRAFT, Status.SUBMITTED)).exists():
        raise Conflict("该资源已有未发布的修订版本", "A revision of this resource is already in progress",
                       code="revision_exists")
    latest = Resource.objects.filter(code=code).order_by("-version").values_list("version", flat=True).first()
    draft = Resource.objects.create(
        code=code, version=latest + 1, status=Status.DRAFT, supersedes=published, department=published.department,
        created_by=actor.username, **{name: getattr(published, name) for name in _RESOURCE_FIELDS},
    )
    Item.objects.bulk_create([
        Item(resource=draft, **{name: getattr(item, name) for name in _ITEM_FIELDS})
        for item in items_of(published)
    ])
    return draft


def deprecate(actor: Actor, code: str, reason: str = "") -> Resource:
    """Retire a published resource (its provider's steward or the bureau): it leaves the catalog."""
    reason = (reason or "").strip()[:2000]
    if is_reviewer(actor):
        resource = Resource.objects.filter(code=code, status=Status.PUBLISHED).first()
        if resource is None:
            raise NotFound()
    else:
        resource = _own_row(actor, code, (Status.PUBLISHED,))
    if not reason:
        raise InvalidInput("停用须说明理由", "Deprecation needs a reason", code="reason_required")
    resource.status, resource.retired_at = Status.DEPRECATED, timezone.now()
    resource.save(update_fields=["status", "retired_at", "updated_at"])
    search.unindex_resource(resource.pk)
    ReviewComment.objects.create(resource=resource, author=actor.username, decision=ReviewComment.Decision.DEPRECATE,
                                 comment=reason)
    generations.bump()
    _record(actor, DEPRECATED, resource.code, {"version": resource.version, "comment": reason})
    return resource
