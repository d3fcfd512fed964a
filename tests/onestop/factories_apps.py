"""Builders for the application tests (on top of ``tests.onestop.factories``): the applicant's
own records in the exchange, credentials in their wallet, a service item that uses both, and
applications driven to a given status through the real services."""

from __future__ import annotations

import itertools

from django.db import transaction
from django.utils import timezone

from tests.exchange import factories as xf
from tests.identity.factories import make_department
from tests.onestop import factories as f
from tongban.catalog.models import Resource
from tongban.credentials import services as credentials
from tongban.exchange.models import Batch, Grant, Record
from tongban.onestop.models import Application, Material
from tongban.onestop.services import applications as apps
from tongban.onestop.services.completion import issuer

CIVIL = "civil-00001"  # marriage registration (civil affairs), keyed by ID number
POP = "bureau-00001"  # population basics
_seq = itertools.count(10_000)


RESOURCE_ITEMS = [*xf.PERSON_ITEMS, {"key": "household_region", "name": "户籍地"},
                  {"key": "spouse_name", "name": "配偶姓名", "data_element": "DE00002", "personal_sensitive": True,
                   "masking": "keep_ends", "mask_head": 1, "mask_tail": 0}]


def catalog_resource(code: str, department_code: str = "civil", *, sharing: str = "conditional") -> Resource:
    """The published catalog resource ``code`` of ``department_code`` (created once; person-keyed,
    with household_region and spouse_name besides the usual items)."""
    existing = Resource.objects.filter(code=code, status=Resource.Status.PUBLISHED).first()
    if existing is not None:
        return existing
    extra = {} if sharing != "no_share" else {"sharing_conditions": ""}
    resource = xf.person_resource(department_code, sharing=sharing, items=RESOURCE_ITEMS, **extra)
    Resource.objects.filter(pk=resource.pk).update(code=code)
    resource.refresh_from_db()
    return resource


def grant(consumer_code: str, resource_code: str, items, *, clear_items=(), modes=("query",), **over) -> Grant:
    """An active grant (written straight into the table) of ``items`` of ``resource_code`` to ``consumer_code``."""
    resource = Resource.objects.get(code=resource_code, status=Resource.Status.PUBLISHED)
    now = timezone.now()
    fields = {"starts_at": now - timezone.timedelta(days=1), "expires_at": now + timezone.timedelta(days=30),
              "purpose": "测试", "created_by": "test", **over}
    return Grant.objects.create(resource_code=resource_code, provider_id=resource.department_id,
                                consumer=make_department(consumer_code), items=list(items),
                                clear_items=list(clear_items), modes=list(modes), **fields)


def record(resource_code: str, subject: str, data: dict, department_code: str = "civil") -> Record:
    """The subject's record in ``resource_code`` (written straight into the exchange's table; the
    resource is published in the catalog for ``department_code`` when it is not yet)."""
    department = make_department(department_code)
    catalog_resource(resource_code, department_code)
    batch = Batch.objects.create(resource_code=resource_code, department=department, loaded_by="test",
                                 channel=Batch.Channel.API, rows=1, inserted=1, sha256="0" * 64)
    return Record.objects.create(resource_code=resource_code, subject=subject, data=data, seq=next(_seq), batch=batch,
                                 updated_at=timezone.now())


def marriage_record(citizen, **over) -> Record:
    data = {"id_number": citizen.id_number, "name": citizen.name, "marital_status": "20",
            "registered_on": "2020-05-20", "spouse_name": "林晓燕", **over}
    return record(CIVIL, citizen.id_number, data)


def credential(citizen_or_enterprise, type_code: str, fields: dict | None = None):
    """A credential of ``type_code`` (the type must exist) in the holder's wallet."""
    from tongban.credentials.models import CertificateType

    type_ = CertificateType.objects.select_related("department").get(code=type_code)
    identifier = getattr(citizen_or_enterprise, "id_number", None) or citizen_or_enterprise.uscc
    with transaction.atomic():
        return credentials.issue_credential(issuer(type_), type_code, identifier, fields or {})


PREFILL_FORM = [
    {"key": "name", "label": "姓名", "type": "text", "required": True, "prefill": {"resource": CIVIL, "item": "name"}},
    {"key": "marital_status", "label": "婚姻状况", "type": "text",
     "prefill": {"resource": CIVIL, "item": "marital_status"}},
    {"key": "household", "label": "户籍地", "type": "text", "prefill": {"resource": POP, "item": "household_region"}},
    {"key": "reason", "label": "申请事由", "type": "text", "required": True},
    {"key": "years", "label": "居住年限", "type": "number"},
    {"key": "moved_on", "label": "迁入日期", "type": "date"},
    {"key": "kind", "label": "类别", "type": "choice", "options": [{"value": "a", "label": "甲"},
                                                                  {"value": "b", "label": "乙"}]},
    {"key": "agree", "label": "承诺", "type": "boolean"},
]


def prefill_item(department_code: str = "civil", **over):
    """A citizen item: three prefilled fields over two resources, and four materials —
    shared data (civil), the marriage certificate from the wallet, an upload, a form section.
    The implementing department gets an active query grant for what it binds of the other
    department's resources (POP of the bureau; CIVIL too when it is not civil)."""
    catalog_resource(CIVIL, "civil")
    catalog_resource(POP, "bureau")
    grant(department_code, POP, ["household_region"])
    if department_code != "civil":
        grant(department_code, CIVIL, ["name", "marital_status"])
    f.make_certificate_type("marriage_certificate", "civil", fields=[
        {"key": "spouse_name", "name": "配偶姓名", "data_element": "DE00002", "required": True}])
    item = f.service_item(department_code, form_schema=PREFILL_FORM, materials=[
        {"source": "shared_data", "name": "婚姻登记信息", "resource_code": CIVIL, "resource_items": ["marital_status"]},
        {"source": "certificate", "name": "结婚证", "certificate_type": "marriage_certificate"},
        {"source": "upload", "name": "本人照片"},
        {"source": "form", "name": "申请表", "form_section": "reason"},
    ], **over)
    return item


def materials(item) -> dict[str, Material]:
    return {m.source: m for m in item.materials.all()}


def start(user, item) -> Application:
    with transaction.atomic():
        return apps.start_application(f.actor(user), item.code)


def submitted(item=None, user=None, form=None) -> tuple[Application, object]:
    """A submitted application of ``item`` (default: a plain civil item) by ``user`` (a new citizen)."""
    item = item or f.service_item("civil")
    if user is None:
        user, _citizen = f.citizen_applicant()
    application = start(user, item)
    with transaction.atomic():
        apps.save_form(f.actor(user), application.number, form if form is not None else {"reason": "本人申请"})
        apps.submit(f.actor(user), application.number)
    application.refresh_from_db()
    return application, user


def under_review(item=None, user=None, clerk_user=None) -> tuple[Application, object]:
    item = item or f.service_item("market", co_departments=("health",))
    application, user = submitted(item, user)
    clerk_user = clerk_user or f.clerk(item.department.code)
    with transaction.atomic():
        apps.accept(f.actor(clerk_user), application.number)
    application.refresh_from_db()
    return application, user
