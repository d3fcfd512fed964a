"""Catalog API under /api/v1/catalog: thin — parse, call the service, shape the answer.

Reading the catalog is open to the public for open resources (the optional authentication below
lets a signed-in caller see more); every write needs a steward or the bureau.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from ninja import File, Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.files import UploadedFile

from tongban.catalog import services, spreadsheet
from tongban.catalog.models import CodeList, DataElement, Resource
from tongban.catalog.schemas import (
    CodeListOut,
    CommentIn,
    DataElementOut,
    DeprecateIn,
    ListOut,
    ResourceIn,
    ResourceOut,
    ReviewIn,
    SearchOut,
)
from tongban.core.errors import NotFound
from tongban.identity.access import ANONYMOUS
from tongban.identity.auth import BearerAuth, SessionActorAuth

router = Router(tags=["catalog"])


def optional_actor(request):
    """Public reads: a valid bearer token or session gives its actor; none gives the anonymous
    actor; a bad bearer token is still refused (401), never silently downgraded."""
    if request.headers.get("Authorization"):
        actor = BearerAuth()(request)
        if not actor:
            raise AuthenticationError()
        return actor
    actor = SessionActorAuth()(request) if request.user.is_authenticated else None
    return actor or ANONYMOUS


PUBLIC = [optional_actor]


def summary(resource: Resource) -> dict:
    return {
        "code": resource.code, "version": resource.version, "status": resource.status, "name": resource.name,
        "name_en": resource.name_en, "abstract": resource.abstract, "department": resource.department.code,
        "department_name": resource.department.name, "sharing": resource.sharing, "opening": resource.opening,
        "update_cycle": resource.update_cycle, "theme": resource.theme, "format": resource.format,
        "keywords": resource.keywords, "published_at": resource.published_at, "quality_score": resource.quality_score,
    }


def detail(actor, resource: Resource) -> dict:
    items = services.items_of(resource)
    subject = next((i for i in items if i.is_subject_key), None)
    data = summary(resource)
    data.update({name: getattr(resource, name) for name in (
        "category", "classification", "sharing_conditions", "sharing_method", "sharing_basis",
        "opening_conditions", "related_codes", "spatial", "temporal_start", "temporal_end", "contact_name",
        "contact_phone", "contact_email")})
    data["subject_kind"] = services.SUBJECT_TYPES.get(subject.effective_type) if subject else None
    data["supersedes_version"] = resource.supersedes.version if resource.supersedes_id else None
    data["items"] = [{
        "key": i.key, "name": i.name, "name_en": i.name_en,
        "data_element": i.data_element.identifier if i.data_element_id else None, "data_type": i.effective_type,
        "max_length": i.max_length, "required": i.required, "is_subject_key": i.is_subject_key, "grade": i.grade,
        "personal_sensitive": i.personal_sensitive, "masking": i.masking, "mask_head": i.mask_head,
        "mask_tail": i.mask_tail,
    } for i in items]
    data["quality"] = services.quality_of(resource)
    data["versions"] = [{"version": v.version, "status": v.status} for v in services.versions_of(actor, resource)]
    data["reviews"] = [{"version": r.resource.version, "author": r.author, "decision": r.decision,
                        "comment": r.comment, "created_at": r.created_at} for r in services.reviews_of(actor, resource)]
    return data


class SearchQuery(Schema):
    q: str = ""
    department: str | None = None
    sharing: str | None = None
    opening: str | None = None
    theme: str | None = None
    format: str | None = None
    update_cycle: str | None = None
    page: int = 1
    page_size: int = 20
    facets: bool = False


@router.get("/resources", response=SearchOut, auth=PUBLIC, summary="Search the catalog (Chinese full text, facets)")
def search_resources(request, query: Query[SearchQuery]):
    params = query.dict()
    with_facets = params.pop("facets")
    result = services.search_resources(request.auth, **params, with_facets=with_facets)
    return {"items": [summary(r) for r in result.items], "count": result.count, "count_exact": result.count_exact,
            "page": result.page, "page_size": result.page_size, "facets": result.facets if with_facets else None}


@router.get("/resources/{code}", response=ResourceOut, auth=PUBLIC, summary="One resource with items and quality")
def get_resource(request, code: str, version: int | None = None):
    resource = services.get_resource(request.auth, code, version)
    return detail(request.auth, resource)


@router.post("/resources", response={201: ResourceOut}, summary="Register a resource (steward; a draft)")
def create_resource(request, payload: ResourceIn):
    with transaction.atomic():
        resource = services.create_resource(request.auth, payload.dict())
        return Status(201, detail(request.auth, resource))


@router.put("/resources/{code}", response=ResourceOut, summary="Change the draft of a resource (steward)")
def update_resource(request, code: str, payload: ResourceIn):
    with transaction.atomic():
        resource = services.update_draft(request.auth, code, payload.dict())
        return detail(request.auth, resource)


@router.post("/resources/{code}/submit", response=ResourceOut, summary="Submit the draft for review (steward)")
def submit(request, code: str, payload: CommentIn | None = None):
    with transaction.atomic():
        resource = services.submit(request.auth, code, payload.comment if payload else "")
        return detail(request.auth, resource)


@router.post("/resources/{code}/review", response=ResourceOut,
             summary="Publish or reject a submitted version (bureau)")
def review(request, code: str, payload: ReviewIn):
    with transaction.atomic():
        resource = services.review(request.auth, code, approve=payload.approve, comment=payload.comment)
        return detail(request.auth, resource)


@router.post("/resources/{code}/revise", response={201: ResourceOut},
             summary="Start a new version of a published resource (steward)")
def revise(request, code: str):
    with transaction.atomic():
        resource = services.revise(request.auth, code)
        return Status(201, detail(request.auth, resource))


@router.post("/resources/{code}/deprecate", response=ResourceOut, summary="Retire a published resource")
def deprecate(request, code: str, payload: DeprecateIn):
    with transaction.atomic():
        resource = services.deprecate(request.auth, code, payload.reason)
        return detail(request.auth, resource)


@router.get("/mine", response=ListOut, summary="My department's resources, drafts included (steward)")
def mine(request, status: str | None = None):
    rows = services.department_resources(request.auth, status=status)
    return {"items": [summary(r) for r in rows], "count": len(rows)}


@router.get("/review-queue", response=ListOut, summary="Versions awaiting review (bureau)")
def review_queue(request):
    rows = services.review_queue(request.auth)
    return {"items": [summary(r) for r in rows], "count": len(rows)}


@router.post("/import", response={201: ListOut},
             summary="Import a catalog spreadsheet (CSV or XLSX, Chinese headers); all rows or none")
def import_file(request, file: File[UploadedFile]):
    content = file.read(spreadsheet.MAX_IMPORT_BYTES + 1)
    with transaction.atomic():
        created = spreadsheet.import_resources(request.auth, file.name or "", content)
        return Status(201, {"items": [summary(r) for r in created], "count": len(created)})


@router.get("/export.csv", auth=PUBLIC, summary="The catalog the caller may see, as CSV (Chinese headers)")
def export_csv(request, department: str | None = None, sharing: str | None = None, opening: str | None = None):
    resources = spreadsheet.export_resources(request.auth, department=department, sharing=sharing, opening=opening)
    response = HttpResponse(spreadsheet.export_csv(resources), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="catalog.csv"'
    return response


@router.get("/data-elements", response=list[DataElementOut], auth=None, summary="Data elements (current versions)")
def data_elements(request):
    return [_element(e) for e in DataElement.objects.filter(is_current=True).select_related("code_list")]


@router.get("/data-elements/{identifier}", response=DataElementOut, auth=None, summary="One data element")
def data_element(request, identifier: str, version: int | None = None):
    rows = DataElement.objects.select_related("code_list").filter(identifier=identifier)
    element = rows.filter(version=version).first() if version else rows.filter(is_current=True).first()
    if element is None:
        raise NotFound()
    return _element(element)


@router.get("/code-lists", response=list[CodeListOut], auth=None, summary="Standard code lists with their codes")
def code_lists(request, identifier: str | None = None):
    rows = CodeList.objects.prefetch_related("entries")
    if identifier:
        rows = rows.filter(identifier=identifier)
    return [{"identifier": c.identifier, "name": c.name, "name_en": c.name_en, "standard": c.standard,
             "version": c.version, "entries": list(c.entries.all())} for c in rows]


def _element(element: DataElement) -> dict:
    return {
        "identifier": element.identifier, "version": element.version, "name": element.name,
        "name_en": element.name_en, "default_key": element.default_key, "definition": element.definition,
        "data_type": element.data_type, "max_length": element.max_length, "pattern": element.pattern,
        "format": element.format, "code_list": element.code_list.identifier if element.code_list_id else None,
    }
