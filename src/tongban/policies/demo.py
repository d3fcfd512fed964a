"""The policy part of the demo: twelve policies modelled on real Zhejiang / national ones, with
their eligibility rules, published and bulk-matched once, so enterprise-demo finds several in
/me/policies/ with reasons, a 免申即享 grant in the inbox and one-click applications.

Idempotent: policies are upserted by code (created, ruled and published only when missing);
matching runs only for policies that have never been matched.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from tongban.core.demo import DemoContext
from tongban.identity.access import actor_for_user
from tongban.identity.models import Department, User
from tongban.onestop.demo import BUSINESS_LICENCE, _common, _field, _shared, _upload
from tongban.onestop.models import ServiceItem
from tongban.onestop.services import items as service_items
from tongban.policies.models import MatchRun, Policy
from tongban.policies.services import matching, rules
from tongban.policies.services import policies as services

LOAN_ITEM = "330000-hr-JF-0101"  # 创业担保贷款贴息申领 (enterprise)
HIRING_ITEM = "330000-hr-JF-0102"  # 吸纳就业补贴申领 (enterprise)
ELDERLY_ITEM = "330000-civil-JF-0001"  # 高龄津贴申领 (the one-stop demo's item)
ZHEJIANG_CITIES = ["330100", "330200", "330300", "330400", "330500", "330600", "330700", "330800", "330900",
                   "331000", "331100"]
START = datetime.date(2025, 1, 1)
END = datetime.date(2027, 12, 31)

def var(name: str) -> dict:
    return {"var": name}


def has(certificate: str) -> dict:
    return {"in": [certificate, var("certificates")]}


# code, department, title, English title, document number, theme, target, mode, benefit text,
# amount, formula, cap, service item, summary, rule, rule description
POLICIES: list[tuple] = [
    ("hr-2025-001", "hr", "小微企业失业保险稳岗返还", "Job-stabilisation refund for small and micro enterprises",
     "浙人社发〔2025〕18号", "employment", "enterprise", "auto_grant",
     "按上年度参保职工人数每人1000元返还，单户最高10万元，免申即享直接拨付至企业账户",
     None, {"*": [var("insured_count"), 1000]}, Decimal(100000), "",
     "对不裁员或少裁员、依法足额缴纳失业保险费的小微企业，按参保人数返还失业保险费，数据比对后直接兑现，企业无需申请。",
     {"and": [{"in": [var("size_class"), ["micro", "small"]]}, {">=": [var("insured_count"), 1]},
              {"==": [var("in_arrears"), False]}, {"==": [var("active"), True]}]},
     "小型、微型企业；有参保职工；无社保欠费；存续经营"),
    ("science-2025-001", "science", "高新技术企业认定奖励", "Award for recognised high-tech enterprises",
     "浙科发高〔2025〕37号", "innovation", "enterprise", "auto_grant", "首次通过高新技术企业认定的，一次性奖励20万元",
     Decimal(200000), None, None, "",
     "对持有有效高新技术企业证书、纳税信用良好且近三年无重大违法记录的企业给予一次性奖励，认定信息共享后直接兑现。",
     {"and": [has("high_tech_enterprise"), {"in": [var("tax_credit_grade"), ["A", "B"]]},
              {"==": [var("penalized_recently"), False]}]},
     "持有效高新技术企业证书；纳税信用 A 或 B 级；近三年无行政处罚"),
    ("hr-2025-002", "hr", "创业担保贷款贴息", "Interest subsidy on guaranteed start-up loans",
     "浙人社发〔2024〕52号", "finance", "enterprise", "apply",
     "小微企业创业担保贷款最高300万元，按LPR的50%给予贴息", None, None, None, LOAN_ITEM,
     "成立5年以内、吸纳就业的小微企业可申请创业担保贷款，财政按贷款市场报价利率的50%给予贴息。",
     {"and": [{"<=": [var("years_registered"), 5]}, {"in": [var("size_class"), ["micro", "small"]]},
              {">=": [var("employees"), 3]}, {"in": [var("tax_credit_grade"), ["A", "B", "M"]]}]},
     "成立不超过5年；小型或微型企业；从业3人以上；纳税信用 M 级以上"),
    ("hr-2025-003", "hr", "企业吸纳重点群体就业补贴", "Subsidy for hiring priority groups", "浙人社发〔2025〕9号",
     "employment", "enterprise", "apply", "每吸纳1人给予1000元一次性补贴", None, None, None, HIRING_ITEM,
     "企业吸纳登记失业人员、脱贫人口和高校毕业生就业，签订1年以上劳动合同并缴纳社保的，给予一次性吸纳就业补贴。",
     {"and": [{">=": [var("insured_count"), 10]}, {"==": [var("in_arrears"), False]}]},
     "参保人数10人以上；无社保欠费"),
    ("bureau-2025-001", "bureau", "纳税信用A级企业“信易贷”融资便利", "Easier credit for A-grade taxpayers",
     "浙发改财金〔2025〕106号", "finance", "enterprise", "notify", "银行凭纳税信用免抵押授信，利率下浮",
     None, None, None, "",
     "纳税信用A级、存续经营的企业可通过省金融综合服务平台获得“信易贷”免抵押信用贷款，合作银行给予利率优惠。",
     {"and": [{"==": [var("tax_credit_grade"), "A"]}, {"==": [var("active"), True]}]},
     "纳税信用 A 级；存续经营"),
    ("market-2025-001", "market", "食品安全责任保险保费补贴", "Premium subsidy for food-safety liability insurance",
     "浙市监食〔2025〕21号", "business", "enterprise", "notify", "首年保费补贴50%，最高2000元", None, None, None, "",
     "持有食品经营许可证的经营者投保食品安全责任保险的，首年保费给予50%补贴。",
     has("food_business_licence"), "持有有效食品经营许可证"),
    ("bureau-2025-002", "bureau", "数字经济企业研发投入补助", "R&D grant for digital-economy firms",
     "浙数字经济办〔2025〕4号", "innovation", "enterprise", "notify", "按上年度研发投入的10%补助，最高50万元",
     None, None, None, "",
     "对信息传输、软件和信息技术服务业企业，营业收入500万元以上且成立满1年的，按研发投入给予补助。",
     {"and": [{"==": [var("industry_section"), "I"]}, {">=": [var("revenue"), 500]},
              {">=": [var("years_registered"), 1]}]},
     "信息技术服务业（门类 I）；营业收入500万元以上；成立满1年"),
    ("market-2025-002", "market", "制造业“小升规”奖励", "Award for manufacturers growing above the statistical threshold",
     "浙经信企业〔2025〕33号", "business", "enterprise", "auto_grant", "首次纳入规模以上工业企业的，奖励10万元",
     Decimal(100000), None, None, "",
     "制造业企业年营业收入首次达到2000万元、纳入规上工业统计的，一次性奖励10万元，统计数据共享后直接兑现。",
     {"and": [{"==": [var("industry_section"), "C"]}, {">=": [var("revenue"), 2000]},
              {"==": [var("penalized_recently"), False]}]},
     "制造业（门类 C）；营业收入2000万元以上；近三年无行政处罚"),
    ("civil-2025-001", "civil", "高龄津贴", "Old-age allowance", "浙民养〔2024〕112号", "elderly", "citizen", "apply",
     "80–89周岁每月100元，90–99周岁每月200元，100周岁以上每月500元", None,
     {"if": [{">=": [var("age"), 100]}, 500, {">=": [var("age"), 90]}, 200, 100]}, Decimal(500), ELDERLY_ITEM,
     "本省户籍80周岁以上老年人按月享受高龄津贴，身份和年龄信息从人口综合库自动核验。",
     {"and": [{">=": [var("age"), 80]}, {"in": [var("city"), ZHEJIANG_CITIES]}]},
     "年满80周岁；本省户籍"),
    ("civil-2025-002", "civil", "困难残疾人生活补贴", "Living allowance for disabled people in hardship",
     "浙民助〔2025〕15号", "assistance", "citizen", "auto_grant", "每人每月不低于当地低保标准的30%",
     Decimal(340), None, None, "",
     "享受最低生活保障的残疾人，按月发放困难残疾人生活补贴，民政数据比对后直接发放。",
     {"and": [var("disabled"), var("low_income")]}, "享受残疾人补贴；为低保对象"),
    ("hr-2025-004", "hr", "灵活就业人员社会保险补贴", "Social insurance subsidy for flexible workers",
     "浙人社发〔2025〕27号", "employment", "citizen", "notify", "按实际缴费的三分之二补贴，最长3年", None, None, None,
     "", "40周岁以上未在用人单位登记就业、以灵活就业方式参保缴费的人员，可享受社会保险补贴。",
     {"and": [{">=": [var("age"), 40]}, {"<": [var("age"), 60]}, {"==": [var("employed"), False]},
              {"==": [var("insured"), True]}]},
     "40–59周岁；无就业登记；参保缴费中"),
    ("health-2025-001", "health", "婴幼儿照护服务补贴", "Infant care subsidy", "浙卫发〔2025〕8号", "family", "citizen",
     "notify", "3周岁以下婴幼儿每孩每年3600元", None, None, None, "",
     "已婚育龄家庭养育3周岁以下婴幼儿的，按年发放育儿补贴。",
     {"and": [{"in": [var("marital_status"), ["20", "21", "22", "23"]]}, {"<": [var("age"), 50]}]},
     "已婚；50周岁以下"),
]

LOAN_ITEM_DATA = _common(
    LOAN_ITEM, "hr", 101, basic_code="000409031000", item_type="payment", applicant_kind="enterprise",
    name="创业担保贷款贴息申领", name_en="Claiming interest subsidy on a guaranteed start-up loan",
    summary="符合条件的小微企业申领创业担保贷款贴息和吸纳就业补贴。企业登记、参保和纳税信用信息自动带出。",
    legal_basis="《就业促进法》第十七条；《关于进一步加大创业担保贷款贴息力度全力支持重点群体创业就业的通知》"
                "（财金〔2020〕21号）",
    conditions="1. 小型、微型企业；\n2. 成立不超过5年；\n3. 纳税信用 M 级以上；\n4. 依法参加社会保险。",
    statutory_days=20, promised_days=10, result_name="贴息资金拨付", theme="social_security",
    life_events=["starting_business"], keywords=["创业担保贷款", "贴息", "小微企业", "就业补贴"],
    form_schema=[
        _field("org_name", "企业名称", "Company name", prefill="market-00001:org_name"),
        _field("loan_amount", "贷款金额（万元）", "Loan amount (10k CNY)", "number"),
        _field("bank", "贷款银行", "Lending bank"),
    ],
    materials=[BUSINESS_LICENCE, _shared("企业登记基本信息", "market-00001", ["org_name", "registration_status"],
                                         "自动核验存续状态")],
)


HIRING_ITEM_DATA = _common(
    HIRING_ITEM, "hr", 102, basic_code="000409032000", item_type="payment", applicant_kind="enterprise",
    name="吸纳重点群体就业补贴申领", name_en="Claiming the subsidy for hiring priority groups",
    summary="企业吸纳登记失业人员、脱贫人口、高校毕业生就业并缴纳社会保险的，申领一次性吸纳就业补贴。",
    legal_basis="《就业促进法》第十七条；《就业补助资金管理办法》（财社〔2017〕164号）第六条",
    conditions="1. 与吸纳人员签订1年以上劳动合同；\n2. 为其缴纳社会保险；\n3. 无社会保险欠费。",
    statutory_days=20, promised_days=10, result_name="补贴资金拨付", theme="social_security",
    life_events=["starting_business"], keywords=["吸纳就业", "就业补贴", "重点群体"],
    form_schema=[
        _field("org_name", "企业名称", "Company name", prefill="market-00001:org_name"),
        _field("hired", "吸纳人数", "People hired", "number"),
    ],
    materials=[BUSINESS_LICENCE, _upload("劳动合同", "吸纳人员的劳动合同")],
)


def _official(username: str):
    user = User.objects.filter(username=username).first()
    return actor_for_user(user) if user else None


def _ensure_items() -> None:
    """The service items the one-click policies apply through (the one-stop demo has the rest)."""
    actor = _official("hr-steward")
    for data in (LOAN_ITEM_DATA, HIRING_ITEM_DATA):
        if actor is None or ServiceItem.objects.filter(code=data["code"]).exists():
            continue
        service_items.create_item(actor, data)
        service_items.publish(actor, data["code"])


def load(context: DemoContext) -> None:
    admin = _official("bureau-admin")
    if admin is None:
        return
    _ensure_items()
    departments = set(Department.objects.values_list("code", flat=True))
    created = []
    for (code, dept, title, title_en, number, theme, target, mode, benefit, amount, formula, cap, item, summary,
         rule, description) in POLICIES:
        if dept not in departments or Policy.objects.filter(code=code).exists():
            continue
        if item and not ServiceItem.objects.filter(code=item, status=ServiceItem.Status.PUBLISHED).exists():
            continue
        data = {"title": title, "title_en": title_en, "document_number": number, "summary": summary,
                "full_text": f"{summary}\n\n（演示政策，模拟真实政策编写，文号为虚构。）", "target": target, "theme": theme,
                "mode": mode, "benefit": benefit, "benefit_amount": amount, "benefit_formula": formula,
                "benefit_cap": cap, "service_item": item, "valid_from": START, "valid_until": END,
                "apply_from": START if mode == "apply" else None, "apply_until": END if mode == "apply" else None}
        policy = services.create_policy(admin, data, department_code=dept)
        Policy.objects.filter(pk=policy.pk).update(code=code)
        rules.set_rule(admin, policy.pk, rule, description)
        # Four-eyes: a policy that pays without application is published by a second official,
        # the department's own steward, not by the bureau administrator who drafted it.
        publisher = _official(f"{dept}-steward") if mode == "auto_grant" else admin
        if publisher is None:
            continue
        services.publish(publisher, policy.pk)
        created.append(policy.pk)
    pending = [p.pk for p in Policy.objects.filter(status=Policy.Status.PUBLISHED)
               if not MatchRun.objects.filter(policy=p).exists()]
    result = matching.run_match(pending, created_by="bureau-admin") if pending else {"policies": {}}
    delivered = sum(row["delivered"] for row in result["policies"].values())
    context.notes.append(
        f"政策通 policies: {Policy.objects.filter(status=Policy.Status.PUBLISHED).count()} 项政策 ({len(created)} new, "
        f"{delivered} notices) at /policies/; enterprise-demo 的匹配结果 at /me/policies/")
