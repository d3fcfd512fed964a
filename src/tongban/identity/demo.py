"""Identity's part of the demo province: regions, departments, officials, citizens, enterprises.

The province uses Zhejiang's GB/T 2260 codes so that identifiers look real, but every person,
enterprise and record is synthetic (the site shows a 演示数据 banner). Values come from a seeded
random source, so every run produces the same province.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from tongban.core.demo import DEMO_PASSWORD, DemoContext
from tongban.identity.generators import make_id_number, make_uscc
from tongban.identity.models import Citizen, Department, Enterprise, Region, RoleAssignment, User

PROVINCE = ("330000", "浙江省", "Zhejiang Province")
CITIES = {
    ("330100", "杭州市", "Hangzhou"): [
        ("330102", "上城区", "Shangcheng District"), ("330105", "拱墅区", "Gongshu District"),
        ("330106", "西湖区", "Xihu District"), ("330108", "滨江区", "Binjiang District"),
    ],
    ("330200", "宁波市", "Ningbo"): [
        ("330203", "海曙区", "Haishu District"), ("330205", "江北区", "Jiangbei District"),
        ("330206", "北仑区", "Beilun District"), ("330212", "鄞州区", "Yinzhou District"),
    ],
    ("330300", "温州市", "Wenzhou"): [
        ("330302", "鹿城区", "Lucheng District"), ("330303", "龙湾区", "Longwan District"),
        ("330304", "瓯海区", "Ouhai District"), ("330381", "瑞安市", "Rui'an"),
    ],
}

# (code, name, English name, bureau?) of the province-level departments the contract names.
PROVINCE_DEPARTMENTS = [
    ("bureau", "浙江省大数据发展管理局", "Provincial Big Data Development Bureau", True),
    ("market", "浙江省市场监督管理局", "Provincial Administration for Market Regulation", False),
    ("health", "浙江省卫生健康委员会", "Provincial Health Commission", False),
    ("hr", "浙江省人力资源和社会保障厅", "Provincial Department of Human Resources and Social Security", False),
    ("civil", "浙江省民政厅", "Provincial Department of Civil Affairs", False),
    ("science", "浙江省科学技术厅", "Provincial Department of Science and Technology", False),
]
# City-level counterparts, each guided by the province department with the same function.
CITY_DEPARTMENTS = [
    ("data", "数据资源管理局", "Data Resources Bureau", "bureau"),
    ("market", "市场监督管理局", "Administration for Market Regulation", "market"),
]

# username, full name, department code, roles, description (printed by `make demo`)
OFFICIALS = [
    ("bureau-admin", "周建国", "bureau", ["bureau_admin", "cdo"], "大数据局管理员+首席数据官 / bureau admin + CDO"),
    ("auditor", "钱审", "bureau", ["auditor"], "审计员 / auditor"),
    ("market-steward", "孙市", "market", ["steward"], "市场监管局数据管理员 / market data steward"),
    ("market-clerk", "李窗", "market", ["clerk"], "市场监管局窗口人员 / market service clerk"),
    ("market-approver", "吴批", "market", ["approver"], "市场监管局审批人员 / market approver"),
    ("health-steward", "郑卫", "health", ["steward"], "卫健委数据管理员 / health data steward"),
    ("health-approver", "王康", "health", ["approver"], "卫健委审批人员 / health approver"),
    ("hr-steward", "冯社", "hr", ["steward"], "人社厅数据管理员 / HR & social security steward"),
    ("civil-steward", "陈民", "civil", ["steward"], "民政厅数据管理员 / civil affairs steward"),
    ("science-steward", "许科", "science", ["steward"], "科技厅数据管理员 / science data steward"),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志文斌宇浩然欣怡子涵梓轩雨桐佳琪俊杰晨曦思远嘉懿梦瑶博文一诺"
# (GB/T 4754-2017 class, trade word, suffix)
INDUSTRIES = [
    ("I6510", "软件开发", "科技有限公司"), ("C3670", "汽车零部件及配件制造", "汽车部件有限公司"),
    ("F5211", "百货零售", "商贸有限公司"), ("E4710", "住宅房屋建筑", "建设工程有限公司"),
    ("C1810", "机织服装制造", "服饰有限公司"), ("A0141", "蔬菜种植", "农业发展有限公司"),
    ("M7320", "工程和技术研究和试验发展", "技术研究有限公司"), ("G5430", "道路货物运输", "物流有限公司"),
    ("H6110", "旅游饭店", "酒店管理有限公司"), ("C3911", "计算机整机制造", "电子有限公司"),
]
BRANDS = "华创恒信远达联科睿鼎泰安瑞丰宏图嘉禾新源天成卓越博雅启明海纳浙通星河云帆东方正和"

CITIZEN_COUNT = 1000
ENTERPRISE_COUNT = 200
DEMO_CITIZEN_ID_REGION = "330106"


def load(context: DemoContext) -> None:
    counties = _load_regions()
    departments = _load_departments()
    _load_officials(context, departments)
    citizens = _load_citizens(context, counties)
    enterprises = _load_enterprises(context, counties)
    _load_public_accounts(context, citizens, enterprises)
    context.notes.append(
        "双因素认证 TOTP: bureau-admin 登录后在「我的 → 双因素认证」(/me/two-factor/) 用验证器 App 扫码启用；"
        "生产环境对 bureau_admin/cdo 强制 (TONGBAN_MFA_REQUIRED=1)，make demo 默认关闭强制。 / "
        "Enrol TOTP at /me/two-factor/; enforced for bureau_admin and cdo unless TONGBAN_MFA_REQUIRED=0 "
        "(make demo switches enforcement off)."
    )
    context.notes.append(
        f"{len(departments)} 个部门 departments, {Citizen.objects.count()} 名自然人 citizens, "
        f"{Enterprise.objects.count()} 家企业 enterprises"
    )


def _load_regions() -> list[str]:
    province, _ = Region.objects.update_or_create(
        code=PROVINCE[0], defaults={"name": PROVINCE[1], "name_en": PROVINCE[2], "level": Region.Level.PROVINCE}
    )
    counties = []
    for (city_code, city_name, city_en), districts in CITIES.items():
        city, _ = Region.objects.update_or_create(
            code=city_code,
            defaults={"name": city_name, "name_en": city_en, "level": Region.Level.CITY, "parent": province},
        )
        for code, name, name_en in districts:
            Region.objects.update_or_create(
                code=code, defaults={"name": name, "name_en": name_en, "level": Region.Level.COUNTY, "parent": city}
            )
            counties.append(code)
    return counties


def _load_departments() -> dict[str, Department]:
    departments: dict[str, Department] = {}
    serial = 1
    for code, name, name_en, is_bureau in PROVINCE_DEPARTMENTS:
        departments[code], _ = Department.objects.update_or_create(
            code=code,
            defaults={
                "name": name, "name_en": name_en, "is_bureau": is_bureau, "region_id": PROVINCE[0],
                "level": Department.Level.PROVINCE, "uscc": make_uscc(PROVINCE[0], 1000 + serial, "1", "1"),
            },
        )
        serial += 1
    for city_code, city_name, city_en in CITIES:
        for suffix, name, name_en, parent_code in CITY_DEPARTMENTS:
            code = f"{city_code}-{suffix}"
            departments[code], _ = Department.objects.update_or_create(
                code=code,
                defaults={
                    "name": city_name + name, "name_en": f"{city_en} {name_en}", "region_id": city_code,
                    "level": Department.Level.CITY, "parent": departments[parent_code],
                    "uscc": make_uscc(city_code, 1000 + serial, "1", "1"),
                },
            )
            serial += 1
    return departments


def _upsert_account(username: str, **fields) -> User:
    user, _ = User.objects.update_or_create(username=username, defaults=fields)
    # Reset each run so the printed demo logins always work.
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


def _load_officials(context: DemoContext, departments: dict[str, Department]) -> None:
    for username, full_name, department_code, roles, description in OFFICIALS:
        is_bureau_admin = "bureau_admin" in roles
        user = _upsert_account(
            username, kind=User.Kind.OFFICIAL, full_name=full_name, department=departments[department_code],
            is_staff=True, is_superuser=is_bureau_admin,
        )
        user.role_assignments.exclude(role__in=roles).delete()
        for role in roles:
            RoleAssignment.objects.get_or_create(user=user, role=role)
        context.logins.append((username, description))


def _person_name(context: DemoContext) -> str:
    given_length = context.rng.choice((1, 2, 2))
    return context.rng.choice(SURNAMES) + "".join(context.rng.choice(GIVEN) for _ in range(given_length))


def _load_citizens(context: DemoContext, counties: list[str]) -> list[Citizen]:
    rows = []
    seen: set[str] = set()
    while len(rows) < CITIZEN_COUNT:
        region = context.rng.choice(counties)
        birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=context.rng.randrange(0, 365 * 66))
        number = make_id_number(region, birth, context.rng.randrange(0, 1000))
        if number in seen:
            continue
        seen.add(number)
        sex = "male" if int(number[16]) % 2 else "female"
        phone = f"1{context.rng.choice('3589')}{context.rng.randrange(0, 10**9):09d}"
        rows.append(Citizen(id_number=number, name=_person_name(context), sex=sex, birth_date=birth,
                            region_id=region, phone=phone))
    Citizen.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return rows


def _load_enterprises(context: DemoContext, counties: list[str]) -> list[Enterprise]:
    rows = []
    for serial in range(ENTERPRISE_COUNT):
        region = context.rng.choice(counties)
        industry, _trade, suffix = context.rng.choice(INDUSTRIES)
        brand = "".join(context.rng.sample(BRANDS, 2))
        city = Region.objects.get(code=region).parent.name.removesuffix("市")
        registered = datetime.date(2000, 1, 1) + datetime.timedelta(days=context.rng.randrange(0, 365 * 25))
        rows.append(Enterprise(
            uscc=make_uscc(region, 500_000 + serial * 7919),
            name=f"{city}{brand}{suffix}（演示）",
            legal_representative=_person_name(context),
            region_id=region,
            industry_code=industry,
            registered_on=registered,
            registered_capital=Decimal(context.rng.choice((50, 100, 200, 500, 1000, 3000, 5000))),
            employees=context.rng.choice((3, 8, 15, 30, 60, 120, 300, 800)),
        ))
    Enterprise.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return rows


def _load_public_accounts(context: DemoContext, citizens: list[Citizen], enterprises: list[Enterprise]) -> None:
    citizen = Citizen.objects.get(id_number=citizens[0].id_number)
    user = _upsert_account("citizen-demo", kind=User.Kind.CITIZEN, full_name=citizen.name, phone=citizen.phone)
    Citizen.objects.filter(pk=citizen.pk).update(user=user)
    context.logins.append(("citizen-demo", f"自然人 citizen {citizen.name}"))

    enterprise = Enterprise.objects.get(uscc=enterprises[0].uscc)
    user = _upsert_account("enterprise-demo", kind=User.Kind.ENTERPRISE, full_name=enterprise.name)
    Enterprise.objects.filter(pk=enterprise.pk).update(user=user)
    context.logins.append(("enterprise-demo", f"企业 enterprise {enterprise.name}"))
