"""Certificate types and actors for the Django-side credential tests."""

from __future__ import annotations

from tests.identity.factories import make_department, make_official
from tongban.credentials.models import CertificateType
from tongban.identity.access import actor_for_user


def marriage_type(department=None, **changes) -> CertificateType:
    department = department or make_department("civil")
    defaults = {"name": "结婚证", "name_en": "Marriage certificate", "department": department,
                "holder_kind": "citizen", "validity_days": None, "multiple_allowed": False,
                "fields": [{"key": "spouse_name", "name": "配偶姓名", "data_element": "DE0001", "required": True},
                           {"key": "registered_on", "name": "登记日期", "data_element": "DE0002"}]}
    defaults.update(changes)
    return CertificateType.objects.create(code=changes.pop("code", "marriage"), **{
        k: v for k, v in defaults.items() if k != "code"})


def licence_type(department=None) -> CertificateType:
    department = department or make_department("market")
    return CertificateType.objects.create(
        code="business_licence", name="营业执照", name_en="Business licence", department=department,
        holder_kind="enterprise", validity_days=3650,
        fields=[{"key": "legal_representative", "name": "法定代表人", "data_element": "DE0003"}])


def official(username, department, roles=("clerk",)):
    return actor_for_user(make_official(username, department, list(roles)))
