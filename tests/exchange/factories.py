"""Shared builders for exchange tests: a provider with a published resource, a consumer
department, officials with roles, system tokens, sample subjects and rows.

Every helper creates what it needs (departments are get-or-create), so tests compose them.
"""

from __future__ import annotations

import datetime
import itertools

from django.db import transaction

from tests.catalog.factories import bureau, publish
from tests.identity.factories import make_department, make_official
from tongban.catalog.models import Resource
from tongban.identity import tokens
from tongban.identity.access import Actor, actor_for_user
from tongban.identity.generators import make_id_number, make_uscc

_serial = itertools.count(1)


def official(department_code: str, *roles: str, is_bureau: bool = False) -> Actor:
    department = make_department(department_code, is_bureau=is_bureau)
    user = make_official(f"{department_code}-{'-'.join(roles) or 'staff'}-{next(_serial)}", department, list(roles))
    return actor_for_user(user)


def steward(department_code: str = "civil") -> Actor:
    return official(department_code, "steward")


def bureau_admin() -> Actor:
    return bureau()


def system_token(department_code: str, *scopes: str, days: int = 30) -> str:
    """A department-system bearer token with ``scopes`` (the key, shown once)."""
    creator = official(department_code, "steward")
    with transaction.atomic():
        return tokens.create_system_token(creator, name="业务系统", scopes=list(scopes), expires_in_days=days).key


PERSON_ITEMS = [
    {"key": "id_number", "name": "公民身份号码", "data_type": "id_number", "is_subject_key": True, "grade": "core",
     "personal_sensitive": True, "masking": "keep_ends", "mask_head": 6, "mask_tail": 4},
    {"key": "name", "name": "姓名", "data_element": "DE00002", "required": True, "grade": "important",
     "personal_sensitive": True, "masking": "keep_ends", "mask_head": 1, "mask_tail": 0},
    {"key": "sex", "name": "性别", "data_element": "DE00003"},
    {"key": "phone", "name": "手机号码", "data_element": "DE00006", "grade": "important", "personal_sensitive": True,
     "masking": "keep_ends", "mask_head": 3, "mask_tail": 4},
    {"key": "address", "name": "住址", "data_element": "DE00014", "grade": "important", "personal_sensitive": True,
     "masking": "region"},
    {"key": "marital_status", "name": "婚姻状况", "data_element": "DE00009", "required": True},
    {"key": "registered_on", "name": "登记日期", "data_element": "DE00019"},
]

ENTERPRISE_ITEMS = [
    {"key": "uscc", "name": "统一社会信用代码", "data_type": "uscc", "is_subject_key": True},
    {"key": "org_name", "name": "单位名称", "data_element": "DE00010", "required": True},
    {"key": "legal_representative", "name": "法定代表人", "data_element": "DE00011", "grade": "important",
     "personal_sensitive": True, "masking": "keep_ends", "mask_head": 1, "mask_tail": 0},
    {"key": "registered_capital", "name": "注册资本", "data_element": "DE00012"},
]


def person_resource(department_code: str = "civil", *, sharing: str = "conditional", opening: str = "closed",
                    **overrides) -> Resource:
    """A published citizen-keyed resource (marriage registration shape) of ``department_code``."""
    extra = {"sharing_basis": "《浙江省公共数据条例》第二十四条"}
    if sharing == "conditional":
        extra["sharing_conditions"] = "依法履职"
    data = {"name": "婚姻登记信息", "sharing": sharing, "opening": opening, "items": PERSON_ITEMS, **extra,
            **overrides}
    if opening == "conditional":
        data.setdefault("opening_conditions", "签署数据利用协议")
    return publish(steward(department_code), bureau(), **data)


def enterprise_resource(department_code: str = "market", *, sharing: str = "open_share", opening: str = "open",
                        **overrides) -> Resource:
    """A published enterprise-keyed resource (enterprise registration shape)."""
    data = {"name": "企业登记基本信息", "abstract": "市场主体登记机关核准的企业登记基本信息，包括名称、法定代表人和注册资本。",
            "sharing": sharing, "opening": opening, "items": ENTERPRISE_ITEMS, "theme": "legal_entity",
            "sharing_basis": "《企业信息公示暂行条例》第六条", "sharing_conditions": "", **overrides}
    return publish(steward(department_code), bureau(), **data)


def id_number(n: int) -> str:
    """The n-th sample ID number (valid check digit), distinct for distinct n."""
    return make_id_number("330106", datetime.date(1980, 1, 1) + datetime.timedelta(days=n // 1000), n % 1000)


def uscc(n: int) -> str:
    return make_uscc("330100", n)


def person_row(n: int, **overrides) -> dict:
    row = {"id_number": id_number(n), "name": f"张{n}", "sex": "1", "phone": f"138{n:08d}"[:11],
           "address": "浙江省杭州市西湖区文三路90号", "marital_status": "20", "registered_on": "2020-05-20"}
    row.update(overrides)
    return row


def enterprise_row(n: int, **overrides) -> dict:
    row = {"uscc": uscc(n), "org_name": f"杭州测试{n}号科技有限公司", "legal_representative": "李四",
           "registered_capital": "100.5"}
    row.update(overrides)
    return row
