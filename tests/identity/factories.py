"""Factories for identity rows: departments, officials, citizens, enterprises, tokens."""

from __future__ import annotations

import datetime
import itertools

from tongban.identity.generators import make_id_number, make_uscc
from tongban.identity.models import Citizen, Department, Enterprise, Region, RoleAssignment, User

PASSWORD = "Correct-Horse-42"
_serial = itertools.count(1)


def make_region(code: str = "330106", name: str = "西湖区") -> Region:
    province, _ = Region.objects.get_or_create(code="330000", defaults={"name": "浙江省", "level": "province"})
    city, _ = Region.objects.get_or_create(code=code[:4] + "00", defaults={"name": "杭州市", "level": "city",
                                                                          "parent": province})
    region, _ = Region.objects.get_or_create(code=code, defaults={"name": name, "level": "county", "parent": city})
    return region


def make_department(code: str = "market", *, is_bureau: bool = False, name: str | None = None) -> Department:
    province = make_region().parent.parent
    department, _ = Department.objects.get_or_create(
        code=code,
        defaults={"name": name or f"{code} 部门", "uscc": make_uscc("330000", 90_000 + next(_serial), "1", "1"),
                  "region": province, "level": "province", "is_bureau": is_bureau},
    )
    return department


def make_official(username: str, department: Department, roles: list[str] = (), *,
                  password: str = PASSWORD) -> User:
    user = User.objects.create_user(username=username, password=password, kind=User.Kind.OFFICIAL,
                                    full_name=username, department=department, is_staff=True)
    RoleAssignment.objects.bulk_create([RoleAssignment(user=user, role=role) for role in roles])
    return user


def make_citizen(name: str = "张三", *, user: User | None = None) -> Citizen:
    region = make_region()
    number = make_id_number(region.code, datetime.date(1990, 1, 1) + datetime.timedelta(days=next(_serial)), 123)
    return Citizen.objects.create(id_number=number, name=name, sex="male" if int(number[16]) % 2 else "female",
                                  birth_date=datetime.date(1990, 1, 1), region=region, user=user)


def make_citizen_user(username: str = "citizen", name: str = "张三", *, password: str = PASSWORD) -> User:
    user = User.objects.create_user(username=username, password=password, kind=User.Kind.CITIZEN, full_name=name)
    make_citizen(name, user=user)
    return user


def make_enterprise(name: str = "杭州测试科技有限公司", *, user: User | None = None) -> Enterprise:
    region = make_region()
    return Enterprise.objects.create(uscc=make_uscc(region.code, 700_000 + next(_serial)), name=name,
                                     region=region, user=user)
