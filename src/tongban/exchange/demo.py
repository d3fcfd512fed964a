"""The exchange's part of the demo province: records, access requests, grants and accesses.

* Records of 12 demo resources (5 departments), covering the demo citizens and enterprises, with
  values generated per item (code lists, dates, amounts) and consistent with identity's rows
  (``citizen-demo``'s marriage registration matches the marriage certificate of the credentials
  demo). Loaded through ``records.load_records`` (channel ``demo``) by each provider's steward
  (the bureau has no steward account: its own department system loads its two resources).
* Access requests through ``requests.submit_request`` / ``decide``: the health commission's
  ACTIVE query+verify grant to civil-00001 (marriage registration; DESIGN §7), more approved
  grants (one granted at once: 无条件共享), two pending requests (one overdue), one rejected, one
  expired grant.
* A handful of accesses to ``citizen-demo``'s data through ``access.query`` / ``verify`` / ``lookup`` by
  the health commission's system, sealed into the ledger, so 我的数据 (/me/data/) shows them.

Deterministic (a private ``random.Random`` seeded from one draw of ``context.rng``; record values
use a fixed reference date) and idempotent: a resource that already has records is not loaded
again, a request is made only when the consumer has none with that purpose, the demo accesses
only when the health system has none yet — so running the demo twice adds nothing.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from tongban.catalog import services as catalog
from tongban.catalog.validation import validator_for
from tongban.core import generations
from tongban.core.demo import DemoContext
from tongban.core.errors import InvalidInput, NotFound
from tongban.exchange.models import Access, AccessRequest, Batch, Grant, Record
from tongban.exchange.services import access, authz, sealing
from tongban.exchange.services import requests as access_requests
from tongban.exchange.services.records import load_records
from tongban.identity.access import Actor, actor_for_user
from tongban.identity.models import Citizen, Department, Enterprise, Region, User
from tongban.ledger import services as ledger

TODAY = datetime.date(2025, 11, 1)  # the reference date of the demo's record values
UPDATED_AT = "2025-11-01T08:30:00+08:00"
HEALTH_SYSTEM = "system:health-his-demo"  # the health commission's business system (demo accesses)
STEWARDS = {"market": "market-steward", "health": "health-steward", "hr": "hr-steward", "civil": "civil-steward"}
APPROVERS = {"market": "market-approver", "health": "health-approver", "hr": "hr-steward", "civil": "civil-steward"}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国志文斌宇浩然欣怡子涵梓轩雨桐佳琪俊杰晨曦思远"
ROADS = "文三路 文一西路 教工路 延安路 解放路 中山北路 江南大道 滨盛路 百丈路 中山西路 学院路 人民路 车站大道 世纪大道".split()
VACCINES = ["流感疫苗", "乙型肝炎疫苗", "23价肺炎球菌多糖疫苗", "带状疱疹疫苗", "狂犬病疫苗", "新冠病毒疫苗"]
OFFENCES = [("未按规定公示年度报告", "警告，罚款5000元"), ("销售过期食品", "没收违法所得，罚款20000元"),
            ("虚假广告宣传", "责令停止发布，罚款30000元"), ("未建立进货查验记录", "警告，罚款3000元"),
            ("价格标示不规范", "警告")]
SCOPES = {"I": "软件开发；信息技术咨询服务；数据处理服务", "C": "生产、加工、销售本企业产品；货物进出口",
          "F": "日用百货、服装鞋帽、五金交电零售", "E": "房屋建筑工程施工；市政公用工程施工",
          "A": "蔬菜、水果种植及销售；农业技术推广服务", "M": "工程和技术研究与试验发展；技术服务",
          "G": "道路货物运输（不含危险货物）；仓储服务", "H": "住宿服务；餐饮服务；会议及展览服务"}


# --- value helpers -------------------------------------------------------------------------------------------


def _date_between(rng: random.Random, start: datetime.date, end: datetime.date) -> str:
    if end <= start:
        return start.isoformat()
    return (start + datetime.timedelta(days=rng.randrange((end - start).days))).isoformat()


def _age(citizen: Citizen) -> int:
    born = citizen.birth_date
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


def _years_after(born: datetime.date, years: int) -> datetime.date:
    return datetime.date(min(born.year + years, TODAY.year), born.month, min(born.day, 28))


def _stable(subject: str) -> random.Random:
    """A random source fixed per subject: a person's employer and a firm's domicile are the same
    in every department's records."""
    return random.Random(f"tongban-demo:{subject}")


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


class Places:
    def __init__(self) -> None:
        self.regions = {r.code: r for r in Region.objects.select_related("parent")}

    def district(self, code: str) -> str:
        region = self.regions.get(code)
        if region is None:
            return "浙江省"
        city = region.parent.name if region.parent_id and region.parent.level == "city" else ""
        return f"{city}{region.name}"

    def address(self, rng: random.Random, code: str) -> str:
        return f"浙江省{self.district(code)}{rng.choice(ROADS)}{rng.randrange(1, 400)}号"


# --- per-resource row builders -------------------------------------------------------------------------------
# Each builder takes (rng, subject row, places) and returns the record (item key -> value), or
# None when this subject has no record in the resource. ``citizen-demo`` / ``enterprise-demo`` are
# always included where the builder is marked ``always_demo``.


def _population(rng, c: Citizen, places, *, demo: bool = False) -> dict:
    return {"id_number": c.id_number, "name": c.name, "sex": "1" if c.sex == "male" else "2",
            "birth_date": c.birth_date.isoformat(), "household_region": c.region_id,
            "item_6": rng.choices(["汉族", "畲族", "回族", "满族", "土家族"], weights=[95, 2, 1, 1, 1])[0],
            "updated_at": UPDATED_AT}


def _marriage(rng, c: Citizen, places, *, demo: bool = False) -> dict | None:
    if not demo and (_age(c) < 22 or rng.random() > 0.7):
        return None
    status = "20" if demo else rng.choices(["20", "21", "22", "40", "30"], weights=[55, 20, 8, 12, 5])[0]
    registered = "2020-05-20" if demo else _date_between(rng, _years_after(c.birth_date, 22), TODAY)
    return {"id_number": c.id_number, "name": c.name, "sex": "1" if c.sex == "male" else "2",
            "birth_date": c.birth_date.isoformat(), "household_region": c.region_id, "marital_status": status,
            "registered_on": registered, "spouse_name": "林晓燕" if demo else _person_name(rng),
            "registry": f"{places.district(c.region_id)}民政局婚姻登记处"}


def _vaccination(rng, c: Citizen, places, *, demo: bool = False) -> dict | None:
    if not demo and rng.random() > 0.5:
        return None
    return {"id_number": c.id_number, "name": c.name, "sex": "1" if c.sex == "male" else "2",
            "birth_date": c.birth_date.isoformat(),
            "vaccine": "流感疫苗" if demo else rng.choice(VACCINES),
            "vaccinated_on": "2025-10-12" if demo else _date_between(rng, datetime.date(2023, 1, 1), TODAY),
            "clinic": f"{places.district(c.region_id)}社区卫生服务中心"}


def _health_code(rng, c: Citizen, places, *, demo: bool = False) -> dict | None:
    if not demo and rng.random() > 0.4:
        return None
    colour = "GREEN" if demo else rng.choices(["GREEN", "YELLOW", "RED"], weights=[96, 3, 1])[0]
    return {"id_number": c.id_number, "name": c.name, "health_code": colour,
            "coded_at": f"{_date_between(rng, datetime.date(2025, 10, 1), TODAY)}T07:{rng.randrange(60):02d}:00+08:00"}


def _social_insurance(rng, c: Citizen, places, employers, *, demo: bool = False) -> dict | None:
    age = _age(c)
    if not demo and (age < 18 or rng.random() > 0.75):
        return None
    working = age < 60
    return {"id_number": c.id_number, "name": c.name, "sex": "1" if c.sex == "male" else "2",
            "birth_date": c.birth_date.isoformat(),
            "insurance_type": "职工基本养老保险" if working or demo else "城乡居民基本养老保险",
            "status": "参保缴费" if working or demo else rng.choice(["待遇领取", "参保缴费"]),
            "employer": _stable(c.id_number).choice(employers) if working or demo else None,
            "months_paid": max(1, min(age - 18, 40) * 12 - rng.randrange(0, 36))}


def _employment(rng, c: Citizen, places, employers, *, demo: bool = False) -> dict | None:
    if not demo and (not 18 <= _age(c) < 60 or rng.random() > 0.55):
        return None
    return {"id_number": c.id_number, "name": c.name, "sex": "1" if c.sex == "male" else "2",
            "birth_date": c.birth_date.isoformat(), "employer": _stable(c.id_number).choice(employers),
            "contract_from": _date_between(rng, max(_years_after(c.birth_date, 18), datetime.date(2012, 1, 1)), TODAY),
            "employment_form": rng.choices(["全日制", "非全日制", "灵活就业"], weights=[80, 8, 12])[0]}


def _allowance(rng, c: Citizen, places, *, demo: bool = False) -> dict | None:
    if demo or rng.random() > 0.03:  # citizen-demo receives no allowance
        return None
    size = rng.randrange(1, 5)
    return {"id_number": c.id_number, "name": c.name, "household_region": c.region_id, "household_size": size,
            "monthly_amount": str(Decimal(1130) * size), "started_on": _date_between(rng, datetime.date(2019, 1, 1), TODAY)}


def _industry_section(e: Enterprise) -> str:
    return (e.industry_code or "I")[:1]


def _registration(rng, e: Enterprise, places, *, demo: bool = False) -> dict:
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "established_on": e.registered_on.isoformat() if e.registered_on else None,
            "registered_capital": str(e.registered_capital) if e.registered_capital is not None else None,
            "industry_code": e.industry_code or None, "domicile": places.address(_stable(e.uscc), e.region_id),
            "business_scope": SCOPES.get(_industry_section(e), "一般项目：技术服务"),
            "registration_status": "存续（在营、开业、在册）" if demo or rng.random() > 0.04 else "注销"}


def _legal_entity(rng, e: Enterprise, places, *, demo: bool = False) -> dict:
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "established_on": e.registered_on.isoformat() if e.registered_on else None,
            "domicile": places.address(_stable(e.uscc), e.region_id), "industry_code": e.industry_code or None,
            "updated_at": UPDATED_AT}


def _annual_report(rng, e: Enterprise, places, *, demo: bool = False) -> dict | None:
    if not demo and rng.random() > 0.85:
        return None
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "year": 2024, "employees": e.employees, "revenue": _revenue(e), "has_web_shop": rng.random() < 0.3}


def _revenue(e: Enterprise) -> str:
    """Annual revenue in 10k CNY, plausible for the head count (its own random source, so adding it
    left the rest of the demo's random sequence as it was)."""
    per_head = _stable(f"revenue:{e.uscc}").uniform(15, 90)
    return str((Decimal(e.employees or 5) * Decimal(f"{per_head:.2f}")).quantize(Decimal("0.01")))


def _penalty(rng, e: Enterprise, places, *, demo: bool = False) -> dict | None:
    if demo or rng.random() > 0.08:  # enterprise-demo has a clean record
        return None
    offence, penalty = rng.choice(OFFENCES)
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "decision_number": f"浙市监处罚〔2025〕{rng.randrange(100, 1000)}号", "offence": offence, "penalty": penalty,
            "decided_on": _date_between(rng, datetime.date(2024, 6, 1), TODAY)}


def _tax_credit(rng, e: Enterprise, places, *, demo: bool = False) -> dict | None:
    if not demo and rng.random() > 0.9:
        return None
    grade = "A" if demo else rng.choices(["A", "B", "M", "C", "D"], weights=[30, 45, 15, 7, 3])[0]
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "tax_credit_grade": grade, "year": 2024}


def _contributions(rng, e: Enterprise, places, *, demo: bool = False) -> dict | None:
    if not demo and rng.random() > 0.85:
        return None
    insured = e.employees or rng.randrange(3, 50)
    return {"uscc": e.uscc, "org_name": e.name, "legal_representative": e.legal_representative or None,
            "insured_count": insured, "base_total": str(Decimal(insured) * Decimal("6500.00")),
            "in_arrears": False if demo else rng.random() < 0.05}


# --- records ----------------------------------------------------------------------------------------------


def _loader(department: Department) -> Actor:
    username = STEWARDS.get(department.code)
    user = User.objects.filter(username=username).first() if username else None
    if user is not None:
        return actor_for_user(user)
    # The bureau has no steward account in the demo: its own department system loads its data.
    return Actor(kind="system", username=f"system:{department.code}-demo-loader", department_id=department.pk,
                 department_code=department.code, scopes=frozenset({"exchange:records:write"}))


def _valid(resource, rows: list[dict]) -> list[dict]:
    """Drop values the resource would refuse (a guard: a mistake here must not break the demo)."""
    validators = {item.key: (item, validator_for(item)) for item in catalog.items_of(resource)}
    clean = []
    for row in rows:
        data = {}
        for key, (item, validate) in validators.items():
            value = row.get(key)
            try:
                validate(value)
                data[key] = value
            except InvalidInput:
                if item.required or item.is_subject_key:
                    raise ValueError(f"demo record of {resource.code}: bad required value for {key}") from None
                data[key] = None
        clean.append(data)
    return clean


def _load_records(context: DemoContext, rng: random.Random, places: Places) -> tuple[int, int]:
    citizens = list(Citizen.objects.order_by("pk"))
    enterprises = list(Enterprise.objects.order_by("pk"))
    demo_citizen = Citizen.objects.filter(user__username="citizen-demo").first()
    demo_enterprise = Enterprise.objects.filter(user__username="enterprise-demo").first()
    employers = [e.name for e in enterprises[:60]] or ["浙江示范科技有限公司（演示）"]

    def people(build: Callable, **extra) -> Callable[[], list[dict]]:
        def rows() -> list[dict]:
            out = []
            for c in citizens:
                demo = demo_citizen is not None and c.pk == demo_citizen.pk
                row = build(rng, c, places, **extra, demo=demo)
                if row is not None:
                    out.append(row)
            return out
        return rows

    def firms(build: Callable) -> Callable[[], list[dict]]:
        def rows() -> list[dict]:
            out = []
            for e in enterprises:
                demo = demo_enterprise is not None and e.pk == demo_enterprise.pk
                row = build(rng, e, places, demo=demo)
                if row is not None:
                    out.append(row)
            return out
        return rows

    plan: list[tuple[str, Callable[[], list[dict]]]] = [
        ("bureau-00001", people(_population)),
        ("civil-00001", people(_marriage)),
        ("civil-00002", people(_allowance)),
        ("health-00002", people(_health_code)),
        ("health-00005", people(_vaccination)),
        ("hr-00001", people(_social_insurance, employers=employers)),
        ("hr-00003", people(_employment, employers=employers)),
        ("bureau-00002", firms(_legal_entity)),
        ("bureau-00005", firms(_tax_credit)),
        ("market-00001", firms(_registration)),
        ("market-00002", firms(_annual_report)),
        ("market-00004", firms(_penalty)),
        ("hr-00005", firms(_contributions)),
    ]
    loaded = resources = 0
    for code, rows in plan:
        try:
            resource = catalog.get_published(code)
        except NotFound:
            continue
        data = rows()  # always generated, so the random sequence does not depend on what exists
        if Record.objects.filter(resource_code=code).exists() or not data:
            continue
        batch = load_records(_loader(resource.department), code, _valid(resource, data), channel=Batch.Channel.DEMO)
        loaded += batch.inserted
        resources += 1
    return resources, loaded


# --- requests and grants ---------------------------------------------------------------------------------------

BASIS_BIRTH = "《中华人民共和国母婴保健法》第二十三条；《浙江省公共数据条例》第二十四条；《出生医学证明管理办法》"
BASIS_ASSIST = "《社会救助暂行办法》第四十四条；《浙江省公共数据条例》第二十四条"
BASIS_POLICY = "《浙江省公共数据条例》第二十四条；《优化营商环境条例》第三十五条"
BASIS_INSURANCE = "《中华人民共和国社会保险法》第五十八条；《浙江省公共数据条例》第二十四条"

# (consumer, resource, items, modes, purpose, scenario, legal basis, days, outcome)
# outcome: "approve" | "reject" | "pending" | "overdue" | "expired" ("auto": granted at once, 无条件共享)
REQUESTS = [
    ("health", "civil-00001", ["id_number", "name", "marital_status", "registered_on", "spouse_name"],
     ["query", "verify"], "出生医学证明签发与生育登记：核验父母婚姻状况",
     "新生儿出生一件事联办时，助产机构与卫健部门在线核验父母婚姻登记信息，群众免交结婚证复印件。",
     BASIS_BIRTH, 365, "approve"),
    ("health", "hr-00001", ["id_number", "name", "insurance_type", "status"], ["verify"],
     "医疗救助对象参保状态核验", "医疗救助对象资格审核时核验其基本医疗保险参保状态，不返回明细数据。",
     BASIS_INSURANCE, 365, "approve"),
    ("civil", "hr-00003", ["id_number", "name", "employer", "employment_form"], ["query"],
     "最低生活保障家庭经济状况核对：就业情况", "低保申请家庭经济状况核对时查询家庭成员就业登记情况。",
     BASIS_ASSIST, 365, "approve"),
    ("hr", "market-00001", ["uscc", "org_name", "industry_code", "registration_status"], ["query", "subscribe"],
     "社会保险参保单位登记信息比对", "参保单位登记、变更时比对市场主体登记状态，订阅注销变更以停止参保。",
     BASIS_INSURANCE, 730, "auto"),
    ("hr", "civil-00002", ["id_number", "name", "household_size"], ["query"], "就业援助对象认定：低保家庭成员",
     "认定就业困难人员时查询低保家庭成员身份。", BASIS_ASSIST, 365, "pending"),
    ("market", "hr-00005", ["uscc", "org_name", "insured_count", "in_arrears"], ["query"],
     "惠企政策精准推送：核定企业参保人数", "稳岗返还、小微企业扶持政策匹配时核定企业参保人数和欠费情况。",
     BASIS_POLICY, 365, "overdue"),
    ("hr", "health-00005", ["id_number", "name", "vaccine", "vaccinated_on"], ["query"],
     "企业员工健康管理", "协助用人单位掌握员工疫苗接种情况。", BASIS_INSURANCE, 365, "reject"),
    ("civil", "health-00001", ["id_number", "name", "birth_date", "certificate_number"], ["query"],
     "出生一件事联办试点：新生儿信息核验", "试点期间民政部门在线获取出生医学证明信息，办理相关补贴。",
     BASIS_BIRTH, 90, "expired"),
]
REASONS = {
    "approve": "用途明确、依据充分，所申请信息项符合最小必要原则，同意共享。",
    "expired": "同意在试点期内共享，试点结束后授权到期。",
    "reject": "申请用途与疫苗接种信息无直接关联，且用人单位无权获取员工健康信息，不符合最小必要原则，不予共享。",
}


def _official(username: str) -> Actor | None:
    user = User.objects.filter(username=username).first()
    return actor_for_user(user) if user is not None else None


def _load_requests(context: DemoContext) -> dict[str, int]:
    counts: dict[str, int] = {}
    for consumer, code, items, modes, purpose, scenario, basis, days, outcome in REQUESTS:
        requester = _official(STEWARDS.get(consumer, ""))
        try:
            resource = catalog.get_published(code)
        except NotFound:
            continue
        if requester is None or requester.department_id is None:
            continue
        if AccessRequest.objects.filter(consumer_id=requester.department_id, resource_code=code,
                                        purpose=purpose).exists():
            continue
        request = access_requests.submit_request(
            requester, resource_code=code, items=items, modes=modes, purpose=purpose, scenario=scenario,
            legal_basis=basis, duration_days=days)
        if outcome in ("approve", "reject", "expired"):
            decider = _official(APPROVERS[resource.department.code])
            request = access_requests.decide(decider, request.pk, approve=outcome != "reject", reason=REASONS[outcome])
        if outcome == "overdue":
            # Demo only: the request was "submitted" three weeks ago, so its 10-working-day answer
            # deadline has passed and the bureau's oversight list shows it as overdue.
            submitted = timezone.now() - datetime.timedelta(days=21)
            AccessRequest.objects.filter(pk=request.pk).update(
                submitted_at=submitted, due_on=timezone.localdate() - datetime.timedelta(days=6))
        if outcome == "expired":
            # Demo only: a grant cannot be back-dated through the services (expiry is only ever
            # shortened, never into the past), so the trial grant's dates are set directly to
            # show an expired grant.
            started = timezone.now() - datetime.timedelta(days=120)
            Grant.objects.filter(request_id=request.pk).update(
                starts_at=started, expires_at=started + datetime.timedelta(days=days), created_at=started)
            AccessRequest.objects.filter(pk=request.pk).update(submitted_at=started - datetime.timedelta(days=5),
                                                               decided_at=started)
            generations.bump()
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- accesses to citizen-demo's data ---------------------------------------------------------------------------


def _health_system() -> Actor | None:
    health = Department.objects.filter(code="health").first()
    if health is None:
        return None
    return Actor(kind="system", username=HEALTH_SYSTEM, department_id=health.pk, department_code=health.code,
                 scopes=frozenset({"exchange:query", "exchange:verify"}))


def _load_accesses(context: DemoContext) -> int:
    # The grants were created in this very transaction: no cache of this process may predate them.
    authz.clear_caches()
    system = _health_system()
    citizen = Citizen.objects.filter(user__username="citizen-demo").first()
    if system is None or citizen is None:
        return 0
    subject_hash = ledger.subject_hash(citizen.id_number)
    if Access.objects.filter(actor=HEALTH_SYSTEM, subject_hash=subject_hash).exists():
        return 0
    made = 0
    if Record.objects.filter(resource_code="civil-00001", subject=citizen.id_number).exists():
        for _ in range(3):
            access.query(system, "civil-00001", citizen.id_number)
            made += 1
        access.verify(system, "civil-00001", citizen.id_number, {"marital_status": "20"})
        # A batch lookup (one access, several subjects: found again through AccessSubject).
        others = list(Record.objects.filter(resource_code="civil-00001").exclude(subject=citizen.id_number)
                      .order_by("subject").values_list("subject", flat=True)[:2])
        access.lookup(system, "civil-00001", [citizen.id_number, *others])
        made += 2
    if Record.objects.filter(resource_code="hr-00001", subject=citizen.id_number).exists():
        access.verify(system, "hr-00001", citizen.id_number, {"status": "参保缴费"})
        made += 1
    if made:
        sealing.seal_pending()  # into the ledger now (the worker would within seconds)
    return made


# --- the loader ---------------------------------------------------------------------------------------------


def load(context: DemoContext) -> None:
    rng = random.Random(context.rng.getrandbits(64))
    places = Places()
    resources, records = _load_records(context, rng, places)
    outcomes = _load_requests(context)
    accesses = _load_accesses(context)
    total = Record.objects.count()
    active = Grant.objects.filter(status=Grant.Status.ACTIVE, expires_at__gt=timezone.now()).count()
    context.notes.append(
        f"共享交换 exchange: {total} 条归集数据 records ({records} new in {resources} resources), "
        f"{active} 个有效授权 active grants, 新增申请 new requests: "
        f"{', '.join(f'{n} {outcome}' for outcome, n in outcomes.items()) or '—'}, "
        f"{accesses} 次演示访问 demo accesses; citizen-demo 的「我的数据」/me/data/ 可见卫健委的访问记录 "
        f"(who accessed my data); 开放数据下载 open data e.g. /open-data/market-00001/records.csv"
    )
