"""Helpers for catalog tests: stewards, the bureau, resource input, published resources."""

from __future__ import annotations

import itertools

from tests.identity.factories import make_department, make_official
from tongban.catalog import services
from tongban.catalog.models import Resource
from tongban.identity.access import actor_for_user

_serial = itertools.count(1)


def steward(department_code: str = "market", username: str | None = None):
    department = make_department(department_code)
    user = make_official(username or f"steward-{department_code}-{next(_serial)}", department, ["steward"])
    return actor_for_user(user)


def bureau(username: str | None = None):
    department = make_department("bureau", is_bureau=True)
    user = make_official(username or f"bureau-{next(_serial)}", department, ["bureau_admin", "cdo"])
    return actor_for_user(user)


def person_items(**subject) -> list[dict]:
    return [
        {"key": "id_number", "name": "公民身份号码", "data_type": "id_number", "is_subject_key": True,
         "grade": "core", "personal_sensitive": True, "masking": "keep_ends", "mask_head": 3, "mask_tail": 4,
         **subject},
        {"key": "name", "name": "姓名", "data_element": "DE00002", "required": True, "grade": "important"},
        {"key": "sex", "name": "性别", "data_element": "DE00003"},
    ]


def enterprise_items() -> list[dict]:
    return [
        {"key": "uscc", "name": "统一社会信用代码", "data_type": "uscc", "is_subject_key": True},
        {"key": "org_name", "name": "企业名称", "data_element": "DE00010", "required": True},
    ]


def resource_data(**overrides) -> dict:
    data = {
        "name": "婚姻登记信息", "name_en": "Marriage registration",
        "abstract": "婚姻登记机关办理的结婚、离婚登记信息及当事人婚姻状况，用于购房落户等事项免交结婚证。",
        "sharing": "conditional", "sharing_conditions": "依法履职", "sharing_basis": "《浙江省公共数据条例》第二十四条",
        "opening": "closed", "update_cycle": "daily", "format": "database", "theme": "civil_affairs",
        "keywords": ["婚姻", "登记"], "items": person_items(),
    }
    data.update(overrides)
    return data


def publish(steward_actor, bureau_actor, **overrides) -> Resource:
    resource = services.create_resource(steward_actor, resource_data(**overrides))
    services.submit(steward_actor, resource.code)
    return services.review(bureau_actor, resource.code, approve=True, comment="同意")
