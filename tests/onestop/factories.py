"""Shared builders for the one-stop tests: published service items with materials and rules,
certificate types, applicants and officials.

Rows are written straight into the tables (no validation through ``services.items``), so tests
of applications, reviews and ratings do not depend on the item services. Departments are
get-or-create, so helpers compose.

Defaults of ``service_item``: a published 行政确认 item of ``department_code`` for citizens,
statutory 20 / promised 5 working days, zero visits, free, online; one required text field
``reason`` (申请事由) unless ``form_schema`` is given; no materials unless ``materials`` is given
(a list of dicts, each passed to ``material``: ``{"source": ..., "name"?: ..., ...}``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from tests.identity.factories import make_citizen_user, make_department, make_enterprise, make_official
from tongban.credentials.models import CertificateType
from tongban.identity.access import ANONYMOUS, Actor, actor_for_user
from tongban.identity.models import Citizen, Enterprise, User
from tongban.onestop.models import InstantRule, Material, ServiceItem

_serial = itertools.count(1)

DEFAULT_FORM = [{"key": "reason", "label": "申请事由", "label_en": "Reason", "type": "text", "required": True}]


def make_certificate_type(code: str, department_code: str = "civil", *, holder_kind: str = "citizen",
                     fields: Sequence[dict] | None = None, **over) -> CertificateType:
    """A certificate type (get-or-create by code). Default fields: one optional ``note``."""
    if fields is None:
        fields = [{"key": "note", "name": "备注", "data_element": "DE09999"}]
    row, _ = CertificateType.objects.get_or_create(code=code, defaults={
        "name": over.pop("name", f"{code} 证照"), "name_en": over.pop("name_en", code),
        "department": make_department(department_code), "holder_kind": holder_kind, "fields": list(fields),
        **over})
    return row


def material(item: ServiceItem, source: str, **over) -> Material:
    """A material of ``item`` (``source``: certificate / shared_data / form / upload), required by default."""
    defaults = {"name": f"材料{next(_serial)}", "necessity": Material.Necessity.REQUIRED, "order": item.materials.count()}
    defaults.update(over)
    return Material.objects.create(item=item, source=source, **defaults)


def service_item(department_code: str = "civil", *, code: str | None = None, co_departments: Iterable[str] = (),
                 instant_rule: dict | None = None, certificate_type: str = "", form_schema: list | None = None,
                 materials: Sequence[dict] | None = None, applicant_kind: str = "citizen", promised_days: int = 5,
                 **over) -> ServiceItem:
    """A published service item (see the module docstring for the defaults).

    ``co_departments``: department codes co-handling it (并联审批). ``instant_rule``: JSON-Logic; stored as
    the current InstantRule version 1. ``certificate_type``: a type code the item produces; created
    (issued by ``department_code``, holder ``applicant_kind``) when it does not exist yet.
    ``**over``: any other ServiceItem field (``status="draft"`` for an unpublished one).
    """
    department = make_department(department_code)
    n = next(_serial)
    code = code or f"330000-{department_code}-{n:04d}"
    fields = {
        "basic_code": f"00{n:04d}", "name": f"测试事项{n}", "name_en": f"Test service {n}",
        "item_type": ServiceItem.ItemType.CONFIRMATION, "applicant_kind": applicant_kind,
        "status": ServiceItem.Status.PUBLISHED, "department": department, "summary": "测试用事项。",
        "legal_basis": "《测试条例》第一条", "conditions": "申请人为本人。", "process": ["申请", "受理", "审查", "办结"],
        "statutory_days": max(20, promised_days), "promised_days": promised_days, "visits": 0, "fees": "",
        "channels": ["online"], "situations": ["new"], "result_name": "", "certificate_type": certificate_type,
        "theme": "", "life_events": [], "keywords": [], "complaint": "12345 政务服务便民热线",
        "form_schema": DEFAULT_FORM if form_schema is None else form_schema,
    }
    fields.update(over)
    item = ServiceItem.objects.create(code=code, **fields)
    if co_departments:
        item.co_departments.set([make_department(c) for c in co_departments])
    if certificate_type and not CertificateType.objects.filter(code=certificate_type).exists():
        make_certificate_type(certificate_type, department_code, holder_kind=applicant_kind)
    if instant_rule is not None:
        InstantRule.objects.create(item=item, version=1, logic=instant_rule, description="测试规则",
                                   is_current=True, created_by="test")
    for spec in materials or ():
        spec = dict(spec)
        material(item, spec.pop("source"), **spec)
    return item


def citizen_applicant(name: str = "张三", *, username: str | None = None) -> tuple[User, Citizen]:
    """A citizen account and its Citizen row (valid ID number, region 330106)."""
    user = make_citizen_user(username or f"os-citizen-{next(_serial)}", name)
    return user, user.citizen


def enterprise_applicant(name: str = "杭州测试科技有限公司", *, username: str | None = None) -> tuple[User, Enterprise]:
    """An enterprise account and its Enterprise row (valid USCC)."""
    user = User.objects.create_user(username=username or f"os-enterprise-{next(_serial)}", password="x-Unused-42",
                                    kind=User.Kind.ENTERPRISE, full_name=name)
    return user, make_enterprise(name, user=user)


def official_user(department_code: str, *roles: str, username: str | None = None, is_bureau: bool = False) -> User:
    """An official of ``department_code`` (created if needed) with ``roles``; password tests.identity PASSWORD."""
    department = make_department(department_code, is_bureau=is_bureau)
    name = username or f"os-{department_code}-{'-'.join(roles) or 'staff'}-{next(_serial)}"
    return make_official(name, department, list(roles))


def clerk(department_code: str = "market", *, username: str | None = None) -> User:
    return official_user(department_code, "clerk", username=username)


def approver(department_code: str = "market", *, username: str | None = None) -> User:
    return official_user(department_code, "approver", username=username)


def steward(department_code: str = "civil", *, username: str | None = None) -> User:
    return official_user(department_code, "steward", username=username)


def dept_admin(department_code: str = "civil", *, username: str | None = None) -> User:
    return official_user(department_code, "dept_admin", username=username)


def bureau_admin(*, username: str | None = None) -> User:
    """A bureau official (bureau_admin + cdo); pages need settings.TONGBAN_MFA_REQUIRED=False."""
    return official_user("bureau", "bureau_admin", "cdo", username=username, is_bureau=True)


def actor(user: User | None) -> Actor:
    """The Actor of ``user`` (ANONYMOUS for None)."""
    return ANONYMOUS if user is None else actor_for_user(user)
