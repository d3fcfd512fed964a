"""The one-stop part of the demo: ten service items modelled on Zhejiang's (浙江政务服务网 /
浙里办), with full guides, and the certificate types they produce that the credentials demo lacks.

* 婚姻登记记录证明 (civil) — INSTANT APPROVAL (DESIGN §7): every form field is prefilled from
  civil-00001 (婚姻登记信息), every required material comes from shared data (and the marriage
  certificate from the wallet), so ``citizen-demo`` completes it with an empty form; the rule
  passes when the record shows a registered marriage; it issues the e-certificate
  ``marriage_record_certificate`` whose fields are exactly the form's keys.
* 社会保险参保证明 (hr) — a second instant item, prefilled from hr-00001, issuing
  ``social_insurance_certificate``.
* 食品经营许可 (market, co-handled by health) — parallel review over two departments.
* 高龄津贴申领 (civil) — a benefit fully prefilled from the population base (bureau-00001).
* 个体工商户设立登记, 出生医学证明, 职业资格证书补办, 企业名称变更登记, 基本养老保险待遇申领, 惠民殡葬补助申领.

A department may bind another department's resource only with an active query grant
(``exchange.services.selfservice.binding_allowed``): before the items are created, each
department requests the items its items bind from other departments' resources
(``exchange.services.requests.submit_request``) and the provider approves (``decide``) — the
bureau, which has no approver, through a demo actor of its administrator acting as department
administrator. A covering active grant already there is reused (idempotent).

Items go through ``services.items`` (validated, ledger entries) by each department's steward
(the bureau's administrator when a steward is missing). Deterministic and idempotent: an item
whose code exists is left alone; certificate types are upserted by code.
"""

from __future__ import annotations

from dataclasses import replace

from tongban.catalog import services as catalog
from tongban.catalog.models import Resource
from tongban.core.demo import DemoContext
from tongban.core.errors import DomainError
from tongban.credentials.services.types import upsert_certificate_type
from tongban.exchange.models import AccessRequest
from tongban.exchange.services import requests as access_requests
from tongban.exchange.services import selfservice
from tongban.identity.access import Actor, actor_for_user
from tongban.identity.models import Department, User
from tongban.onestop.models import ServiceItem
from tongban.onestop.services import items as services
from tongban.onestop.services import rules

INSTANT_ITEM = "330000-civil-QR-0001"  # 婚姻登记记录证明: the §7 instant-approval item
PARALLEL_ITEM = "330000-market-XK-0001"  # 食品经营许可: market + health
BENEFIT_ITEM = "330000-civil-JF-0001"  # 高龄津贴申领
MARRIED = ["20", "21", "22", "23"]  # GB/T 2261.2: 已婚, 初婚, 再婚, 复婚
STEWARDS = {"market": "market-steward", "health": "health-steward", "hr": "hr-steward", "civil": "civil-steward"}


def _f(key: str, name: str, element: str | None, required: bool = False) -> dict:
    return {"key": key, "name": name, "data_element": element, "required": required}


# code, name, English name, department, holder kind, validity days, several allowed, fields
TYPES = [
    ("marriage_record_certificate", "婚姻登记记录证明", "Marriage registration record certificate", "civil", "citizen",
     90, True, [_f("name", "姓名", "DE00002", True), _f("marital_status", "婚姻状况", "DE00009", True),
                _f("registered_on", "登记日期", "DE00019"), _f("spouse_name", "配偶姓名", "DE00002"),
                _f("registry", "登记机关", None)]),
    ("social_insurance_certificate", "社会保险参保证明", "Social insurance certificate", "hr", "citizen", 90, True,
     [_f("name", "姓名", "DE00002", True), _f("insurance_type", "参保险种", None, True),
      _f("status", "参保状态", None, True), _f("employer", "参保单位", "DE00010"),
      _f("months_paid", "累计缴费月数", None)]),
    ("individual_business_licence", "个体工商户营业执照", "Individual business licence", "market", "citizen", None,
     True, [_f("trade_name", "字号名称", None, True), _f("business_scope", "经营范围", None, True),
            _f("premises", "经营场所", "DE00014", True)]),
]

MARITAL_OPTIONS = [{"value": "10", "label": "未婚", "label_en": "Single"},
                   {"value": "20", "label": "已婚", "label_en": "Married"},
                   {"value": "21", "label": "初婚", "label_en": "First marriage"},
                   {"value": "22", "label": "再婚", "label_en": "Remarried"},
                   {"value": "23", "label": "复婚", "label_en": "Remarried to former spouse"},
                   {"value": "30", "label": "丧偶", "label_en": "Widowed"},
                   {"value": "40", "label": "离婚", "label_en": "Divorced"},
                   {"value": "90", "label": "未说明的婚姻状况", "label_en": "Not stated"}]


def _field(key, label, label_en, kind="text", *, required=True, prefill=None, options=None, help_text=""):
    spec = {"key": key, "label": label, "label_en": label_en, "type": kind, "required": required}
    if prefill:
        resource, item = prefill.split(":")
        spec["prefill"] = {"resource": resource, "item": item}
    if options:
        spec["options"] = options
    if help_text:
        spec["help"] = help_text
    return spec


def _shared(name, resource, items, description="", necessity="required"):
    return {"name": name, "source": "shared_data", "resource_code": resource, "resource_items": items,
            "necessity": necessity, "description": description}


def _cert(name, type_code, description="", necessity="required"):
    return {"name": name, "source": "certificate", "certificate_type": type_code, "necessity": necessity,
            "description": description}


def _upload(name, description="", necessity="required", paper=0):
    return {"name": name, "source": "upload", "necessity": necessity, "description": description,
            "paper_copies": paper}


ID_CARD = _shared("居民身份证", "bureau-00001", ["id_number", "name", "birth_date"],
                  "通过省人口综合库核验身份，无需提交复印件")
HOUSEHOLD = _shared("居民户口簿", "bureau-00001", ["household_region"], "通过省人口综合库核验户籍，无需提交户口簿")
BUSINESS_LICENCE = _cert("营业执照", "business_licence", "调用电子营业执照，无需提交复印件")
COMPLAINT = "12345政务服务便民热线；浙江政务服务网“好差评”；{dept}监督电话 0571-8705{n:04d}"
STEPS_ONLINE = [
    {"name": "网上申请", "name_en": "Apply online", "description": "登录浙江政务服务网或“浙里办”填写申请"},
    {"name": "受理", "name_en": "Acceptance", "description": "窗口人员审核材料，一次性告知需补正内容"},
    {"name": "审查", "name_en": "Review", "description": "承办部门审查并作出决定"},
    {"name": "办结", "name_en": "Completion", "description": "结果通过站内信通知，电子证照推送至证照夹"},
]
STEPS_INSTANT = [
    {"name": "网上申请", "name_en": "Apply online", "description": "登录后信息自动带出，无需填写"},
    {"name": "自动审批（秒批）", "name_en": "Instant approval", "description": "系统按公开规则比对共享数据，符合即批准"},
    {"name": "电子证照签发", "name_en": "E-certificate issued", "description": "证明即时签发至本人证照夹，可出示核验"},
]


def _common(code, department, n, **data) -> dict:
    base = {"code": code, "department": department, "channels": ["online", "mobile", "window"],
            "complaint": COMPLAINT.format(dept={"civil": "省民政厅", "market": "省市场监管局", "health": "省卫生健康委",
                                                "hr": "省人力社保厅"}[department], n=n),
            "process": STEPS_ONLINE, "visits": 0, "fees": "", "situations": ["new"]}
    base.update(data)
    return base


ITEMS: list[tuple[dict, dict | None, str]] = [
    # (item input, instant rule or None, rule description)
    (_common(
        INSTANT_ITEM, "civil", 1, basic_code="000209013000", item_type="confirmation", applicant_kind="citizen",
        name="婚姻登记记录证明", name_en="Marriage registration record certificate",
        summary="出具本人在民政部门的婚姻登记记录证明，用于购房、落户、公证等。信息从婚姻登记信息自动带出，符合条件即时出证。",
        legal_basis="《婚姻登记条例》第二条、第十八条；《浙江省民政厅关于开展婚姻登记记录证明出具工作的通知》；"
                    "《浙江省公共数据条例》第二十四条",
        conditions="1. 申请人为本人；\n2. 申请人在本省婚姻登记机关有婚姻登记记录；\n"
                   "3. 证明内容以婚姻登记档案和省婚姻登记信息系统记录为准。",
        process=STEPS_INSTANT, statutory_days=1, promised_days=0, result_name="婚姻登记记录证明（电子证照）",
        certificate_type="marriage_record_certificate", theme="civil_affairs", life_events=["marriage", "housing"],
        keywords=["婚姻证明", "婚姻状况证明", "购房", "落户", "结婚证明"],
        form_schema=[
            _field("name", "姓名", "Name", prefill="civil-00001:name"),
            _field("marital_status", "婚姻状况", "Marital status", "choice", prefill="civil-00001:marital_status",
                   options=MARITAL_OPTIONS),
            _field("registered_on", "登记日期", "Date of registration", "date", required=False,
                   prefill="civil-00001:registered_on"),
            _field("spouse_name", "配偶姓名", "Spouse's name", required=False, prefill="civil-00001:spouse_name"),
            _field("registry", "登记机关", "Registry", required=False, prefill="civil-00001:registry"),
        ],
        materials=[ID_CARD, HOUSEHOLD,
                   _shared("婚姻登记档案", "civil-00001", ["marital_status", "registered_on", "spouse_name", "registry"],
                           "民政部门婚姻登记信息系统记录"),
                   _cert("结婚证", "marriage_certificate", "已婚的，调用电子结婚证", necessity="conditional")],
    ), {"in": [{"var": "data.civil-00001.marital_status"}, MARRIED]},
        "婚姻登记信息显示申请人有有效的结婚登记（婚姻状况为已婚、初婚、再婚或复婚）时，自动出具证明。"),
    (_common(
        "330000-hr-GG-0001", "hr", 2, basic_code="000409006000", item_type="public_service",
        applicant_kind="citizen", name="社会保险参保缴费证明", name_en="Social insurance contribution certificate",
        summary="打印或下载本人社会保险参保缴费证明，用于购房、购车、子女入学、积分落户等。",
        legal_basis="《中华人民共和国社会保险法》第七十四条；《社会保险个人权益记录管理办法》第十五条",
        conditions="已在本省参加社会保险的人员本人。",
        process=STEPS_INSTANT, statutory_days=1, promised_days=0, result_name="社会保险参保证明（电子证照）",
        certificate_type="social_insurance_certificate", theme="social_security",
        life_events=["employment", "housing", "schooling"], keywords=["社保证明", "参保证明", "缴费证明", "社保"],
        form_schema=[
            _field("name", "姓名", "Name", prefill="hr-00001:name"),
            _field("insurance_type", "参保险种", "Insurance", prefill="hr-00001:insurance_type"),
            _field("status", "参保状态", "Status", prefill="hr-00001:status"),
            _field("employer", "参保单位", "Employer", required=False, prefill="hr-00001:employer"),
            _field("months_paid", "累计缴费月数", "Months paid", "number", required=False,
                   prefill="hr-00001:months_paid"),
        ],
        materials=[ID_CARD, _shared("社会保险参保信息", "hr-00001", ["insurance_type", "status", "employer", "months_paid"],
                                    "人力社保部门社会保险参保记录")],
    ), {"==": [{"var": "data.hr-00001.status"}, "参保缴费"]},
        "参保信息显示申请人处于“参保缴费”状态时，自动出具证明。"),
    (_common(
        PARALLEL_ITEM, "market", 3, basic_code="000111037000", item_type="licence", applicant_kind="enterprise",
        co_departments=["health"], name="食品经营许可（新办）", name_en="Food business licence (new)",
        summary="从事食品销售和餐饮服务的经营者申请食品经营许可。市场监管部门受理并审查，卫生健康部门同步审查"
                "从业人员健康管理，两部门并联审批。",
        legal_basis="《中华人民共和国食品安全法》第三十五条；《食品经营许可和备案管理办法》（国家市场监督管理总局令"
                    "第78号）第十条至第二十五条；《浙江省食品小作坊小餐饮小食杂店管理规定》",
        conditions="1. 已依法取得营业执照；\n2. 具有与经营的食品品种、数量相适应的经营场所，并与有毒、有害场所"
                   "保持规定的距离；\n3. 有专职或者兼职的食品安全管理人员和保证食品安全的规章制度；\n"
                   "4. 从事接触直接入口食品工作的从业人员持有有效健康证明。",
        statutory_days=20, promised_days=7, result_name="食品经营许可证（电子证照）",
        certificate_type="food_business_licence", theme="business_licensing", life_events=["starting_business"],
        keywords=["食品许可", "餐饮", "食品销售", "开店"],
        form_schema=[
            _field("org_name", "经营者名称", "Business name", prefill="market-00001:org_name"),
            _field("legal_representative", "法定代表人（负责人）", "Legal representative",
                   prefill="market-00001:legal_representative"),
            _field("domicile", "住所", "Domicile", prefill="market-00001:domicile"),
            _field("premises", "经营场所", "Premises"),
            _field("business_items", "经营项目", "Business", "choice", options=[
                {"value": "prepackaged", "label": "预包装食品销售", "label_en": "Prepackaged food"},
                {"value": "bulk", "label": "散装食品销售", "label_en": "Bulk food"},
                {"value": "hot_food", "label": "热食类食品制售", "label_en": "Hot food"},
                {"value": "cold_food", "label": "冷食类食品制售", "label_en": "Cold food"}]),
            _field("area", "经营场所面积（平方米）", "Floor area (m²)", "number"),
            _field("staff", "从业人员数", "Staff", "number"),
        ],
        materials=[BUSINESS_LICENCE,
                   _shared("企业登记基本信息", "market-00001", ["org_name", "legal_representative", "domicile"],
                           "市场主体登记信息自动核验"),
                   _upload("经营场所平面布局图", "标明设备布局和工艺流程"),
                   _upload("食品安全管理制度文本"),
                   _upload("从业人员健康证明", "接触直接入口食品的从业人员，由卫生健康部门并联审查"),
                   {"name": "经营项目和场所说明", "source": "form", "form_section": "business_items"}],
    ), None, ""),
    (_common(
        BENEFIT_ITEM, "civil", 4, basic_code="000208011000", item_type="payment", applicant_kind="citizen",
        name="高龄津贴申领", name_en="Old-age allowance",
        summary="80周岁以上本省户籍老年人申领高龄津贴，按月发放至本人社会保障卡。身份、年龄和户籍信息从人口综合库"
                "自动带出，无需提交任何材料。",
        legal_basis="《中华人民共和国老年人权益保障法》第三十三条；《浙江省社会养老服务促进条例》第三十三条；"
                    "《浙江省高龄津贴发放办法》",
        conditions="1. 具有本省户籍；\n2. 年满80周岁；\n3. 本人或其监护人提出申请。",
        statutory_days=20, promised_days=5, result_name="高龄津贴发放（按月发放至社会保障卡）",
        theme="elderly", life_events=["elderly", "retirement"], keywords=["高龄津贴", "老年人", "补贴", "养老"],
        form_schema=[
            _field("name", "姓名", "Name", prefill="bureau-00001:name"),
            _field("birth_date", "出生日期", "Date of birth", "date", prefill="bureau-00001:birth_date"),
            _field("household_region", "户籍地", "Household region", prefill="bureau-00001:household_region"),
        ],
        materials=[ID_CARD, HOUSEHOLD],
    ), None, ""),
    (_common(
        "330000-market-DJ-0002", "market", 5, basic_code="000111001000", item_type="licence",
        applicant_kind="citizen", name="个体工商户设立登记", name_en="Registering an individual business",
        summary="有经营能力的公民申请设立个体工商户，领取个体工商户营业执照。",
        legal_basis="《促进个体工商户发展条例》第八条；《中华人民共和国市场主体登记管理条例》第三条、第二十一条；"
                    "《中华人民共和国市场主体登记管理条例实施细则》",
        conditions="1. 有经营能力的自然人；\n2. 有固定的经营场所；\n3. 经营范围不属于法律法规禁止的项目。",
        statutory_days=3, promised_days=1, result_name="个体工商户营业执照（电子证照）",
        certificate_type="individual_business_licence", theme="market_entry", life_events=["starting_business"],
        keywords=["个体户", "营业执照", "开店", "创业"],
        form_schema=[
            _field("name", "经营者姓名", "Operator", prefill="bureau-00001:name"),
            _field("trade_name", "字号名称", "Trade name"),
            _field("business_scope", "经营范围", "Business scope"),
            _field("premises", "经营场所", "Premises"),
            _field("capital", "资金数额（万元）", "Capital (10,000 yuan)", "number", required=False),
        ],
        materials=[ID_CARD, _upload("经营场所使用证明", "房屋产权证明或租赁合同")],
    ), None, ""),
    (_common(
        "330000-health-QR-0001", "health", 6, basic_code="000212008000", item_type="confirmation",
        applicant_kind="citizen", name="出生医学证明（首次签发）", name_en="Birth medical certificate (first issue)",
        summary="新生儿父母申请首次签发《出生医学证明》，电子证照推送至证照夹，用于户口登记、医保参保等“出生一件事”。",
        legal_basis="《中华人民共和国母婴保健法》第二十三条；《中华人民共和国母婴保健法实施办法》第二十五条；"
                    "《出生医学证明管理办法》",
        conditions="1. 在本省依法取得助产技术服务资质的医疗保健机构内出生的新生儿；\n2. 由新生儿父亲或母亲申请。",
        statutory_days=10, promised_days=3, result_name="出生医学证明（电子证照）",
        certificate_type="birth_medical_certificate", theme="health", life_events=["birth"],
        keywords=["出生证", "新生儿", "出生一件事"],
        form_schema=[
            _field("parent_name", "申请人（父亲或母亲）姓名", "Parent", prefill="bureau-00001:name"),
            _field("child_name", "新生儿姓名", "Child's name"),
            _field("born_on", "出生日期", "Date of birth", "date"),
            _field("birthplace", "出生地点", "Place of birth"),
        ],
        materials=[ID_CARD,
                   _shared("父母婚姻登记信息", "civil-00001", ["marital_status", "spouse_name"],
                           "卫生健康部门经授权在线核验父母婚姻状况，免交结婚证复印件"),
                   _cert("结婚证", "marriage_certificate", "父母已婚的，调用电子结婚证", necessity="conditional"),
                   _upload("分娩记录", "助产机构出具；在本省助产机构分娩的由机构直接推送", necessity="optional")],
    ), None, ""),
    (_common(
        "330000-hr-GG-0002", "hr", 7, basic_code="000409015000", item_type="public_service",
        applicant_kind="citizen", name="职业资格证书补办", name_en="Replacing a vocational qualification certificate",
        summary="职业资格证书遗失或损毁的，申请补发。可先在线查询本人证书记录。",
        legal_basis="《中华人民共和国劳动法》第六十九条；《职业资格证书制度暂行办法》第十四条",
        conditions="1. 已取得本省人力社保部门核发的职业资格证书；\n2. 证书遗失或损毁。",
        statutory_days=20, promised_days=10, situations=["reissue"], result_name="补发的职业资格证书",
        theme="employment", life_events=["employment"], keywords=["职业资格", "证书补办", "技能证书", "证书查询"],
        form_schema=[
            _field("name", "姓名", "Name", prefill="bureau-00001:name"),
            _field("certificate_name", "职业（工种）及等级", "Occupation and level"),
            _field("certificate_number", "原证书编号", "Former certificate number", required=False),
            _field("reason", "补办原因", "Reason", "choice", options=[
                {"value": "lost", "label": "遗失", "label_en": "Lost"},
                {"value": "damaged", "label": "损毁", "label_en": "Damaged"}]),
        ],
        materials=[ID_CARD, _upload("损毁的原证书", "证书损毁的提供", necessity="conditional", paper=1),
                   _cert("学位证书", "degree_certificate", "按职业要求需核验学历的，调用电子学位证书",
                         necessity="optional")],
    ), None, ""),
    (_common(
        "330000-market-DJ-0003", "market", 8, basic_code="000111002000", item_type="licence",
        applicant_kind="enterprise", situations=["change"], name="企业名称变更登记", name_en="Changing a company's name",
        summary="有限责任公司变更企业名称，换发营业执照。登记信息和电子营业执照自动调用。",
        legal_basis="《中华人民共和国市场主体登记管理条例》第二十四条；《企业名称登记管理规定》第十八条",
        conditions="1. 企业登记状态为存续；\n2. 新名称已通过企业名称自主申报；\n3. 股东会已作出变更决议。",
        statutory_days=3, promised_days=1, result_name="换发的营业执照", theme="market_entry",
        life_events=["business_change"], keywords=["名称变更", "变更登记", "营业执照"],
        form_schema=[
            _field("org_name", "原企业名称", "Current name", prefill="market-00001:org_name"),
            _field("legal_representative", "法定代表人", "Legal representative",
                   prefill="market-00001:legal_representative"),
            _field("new_name", "新企业名称", "New name"),
            _field("resolution_date", "股东会决议日期", "Date of the resolution", "date"),
        ],
        materials=[BUSINESS_LICENCE,
                   _shared("企业登记基本信息", "market-00001", ["org_name", "registration_status"], "自动核验存续状态"),
                   _upload("股东会决议", "全体股东签署"), _upload("修改后的公司章程或章程修正案")],
    ), None, ""),
    (_common(
        "330000-hr-JF-0003", "hr", 9, basic_code="000409003000", item_type="payment", applicant_kind="citizen",
        name="基本养老保险待遇申领（退休）", name_en="Claiming a basic pension on retirement",
        summary="达到法定退休年龄、累计缴费满15年的参保人员申领按月领取基本养老金。参保和缴费信息自动带出。",
        legal_basis="《中华人民共和国社会保险法》第十六条；《国务院关于完善企业职工基本养老保险制度的决定》"
                    "（国发〔2005〕38号）",
        conditions="1. 达到法定退休年龄；\n2. 累计缴费满15年（180个月）；\n3. 已办理参保登记。",
        statutory_days=20, promised_days=10, result_name="按月发放基本养老金", theme="social_security",
        life_events=["retirement"], keywords=["退休", "养老金", "养老保险"],
        form_schema=[
            _field("name", "姓名", "Name", prefill="hr-00001:name"),
            _field("insurance_type", "参保险种", "Insurance", prefill="hr-00001:insurance_type"),
            _field("months_paid", "累计缴费月数", "Months paid", "number", prefill="hr-00001:months_paid"),
            _field("retire_on", "申请退休日期", "Retirement date", "date"),
        ],
        materials=[ID_CARD, _shared("社会保险参保信息", "hr-00001", ["insurance_type", "months_paid"]),
                   _upload("本人档案中的出生时间材料", "档案出生时间与身份证不一致的提供", necessity="conditional")],
    ), None, ""),
    (_common(
        "330000-civil-JF-0002", "civil", 10, basic_code="000208020000", item_type="payment", applicant_kind="citizen",
        name="惠民殡葬补助申领", name_en="Funeral subsidy",
        summary="本省户籍居民去世后，其直系亲属申领基本殡葬服务费用补助，由殡仪馆直接减免或发放至申请人账户。",
        legal_basis="《殡葬管理条例》第四条；《浙江省殡葬管理条例》第十七条；《浙江省民政厅关于全面推行惠民殡葬政策的"
                    "实施意见》",
        conditions="1. 逝者具有本省户籍；\n2. 遗体在本省殡仪馆火化；\n3. 由逝者的直系亲属申请。",
        statutory_days=20, promised_days=5, result_name="基本殡葬服务费用减免或补助发放", theme="civil_affairs",
        life_events=["death"], keywords=["殡葬", "丧葬补助", "身后事", "火化"],
        form_schema=[
            _field("applicant_name", "申请人姓名", "Applicant", prefill="bureau-00001:name"),
            _field("deceased_name", "逝者姓名", "Name of the deceased"),
            _field("relation", "与逝者关系", "Relationship", "choice", options=[
                {"value": "spouse", "label": "配偶", "label_en": "Spouse"},
                {"value": "child", "label": "子女", "label_en": "Child"},
                {"value": "parent", "label": "父母", "label_en": "Parent"}]),
            _field("died_on", "死亡日期", "Date of death", "date"),
        ],
        materials=[ID_CARD, _upload("居民死亡医学证明（推断）书", "医疗机构出具；本省医疗机构开具的由系统推送"),
                   _upload("火化证明", "殡仪馆出具"),
                   _upload("亲属关系证明", "户籍信息无法证明亲属关系的提供", necessity="conditional")],
    ), None, ""),
]


def _maintainer(department_code: str) -> Actor | None:
    for username in (STEWARDS.get(department_code), "bureau-admin"):
        user = User.objects.filter(username=username).first() if username else None
        if user is not None:
            return actor_for_user(user)
    return None


APPROVERS = {"market": "market-approver", "health": "health-approver", "hr": "hr-steward", "civil": "civil-steward"}
GRANT_PURPOSE = "一网通办事项预填与免提交材料（本人办事）"
GRANT_SCENARIO = "申请人在线办事时，由本部门服务事项自动带出申请人本人的信息，申请人免填写、免提交证明材料。"
GRANT_BASIS = "《浙江省公共数据条例》第二十四条；《国务院关于加快推进全国一体化在线政务服务平台建设的指导意见》"


def _bindings(data: dict) -> dict[str, list[str]]:
    """resource code -> item keys an item input binds (form prefill + shared-data materials)."""
    found: dict[str, list[str]] = {}
    for field in data.get("form_schema") or []:
        if field.get("prefill"):
            keys = found.setdefault(field["prefill"]["resource"], [])
            keys.extend(k for k in [field["prefill"]["item"]] if k not in keys)
    for material in data.get("materials") or []:
        if material.get("source") == "shared_data":
            keys = found.setdefault(material["resource_code"], [])
            keys.extend(k for k in material["resource_items"] if k not in keys)
    return found


def _decider(department: Department) -> Actor | None:
    username = APPROVERS.get(department.code) or ("bureau-admin" if department.is_bureau else None)
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        return None
    actor = actor_for_user(user)
    if department.is_bureau:  # demo only: the bureau's administrator decides as its department admin
        actor = replace(actor, roles=actor.roles | {"dept_admin"})
    return actor


def _ensure_grants(context: DemoContext, departments: set[str]) -> int:
    """Active query grants for every cross-department binding of the demo items (see the docstring)."""
    wanted: dict[tuple[str, str], list[str]] = {}
    for data, _rule, _description in ITEMS:
        for code, keys in _bindings(data).items():
            merged = wanted.setdefault((data["department"], code), [])
            merged.extend(k for k in keys if k not in merged)
    made = 0
    for (consumer_code, code), keys in wanted.items():
        consumer = Department.objects.filter(code=consumer_code).first()
        try:
            resource = catalog.get_published(code)
        except DomainError:
            continue
        if consumer is None or consumer_code not in departments or resource.department_id == consumer.pk:
            continue
        if resource.sharing == Resource.Sharing.NO_SHARE or selfservice.binding_allowed(consumer.pk, resource, keys):
            continue
        requester, decider = _maintainer(consumer_code), _decider(resource.department)
        if requester is None or decider is None or requester.department_id != consumer.pk:
            continue
        items = [k for k in dict.fromkeys(["id_number", *keys]) if k in {i.key for i in catalog.items_of(resource)}]
        pending = AccessRequest.objects.filter(consumer=consumer, resource_code=code,
                                               status=AccessRequest.Status.PENDING).first()
        request = pending or access_requests.submit_request(
            requester, resource_code=code, items=items, modes=["query"], purpose=GRANT_PURPOSE,
            scenario=GRANT_SCENARIO, legal_basis=GRANT_BASIS, duration_days=access_requests.MAX_DURATION_DAYS)
        request.refresh_from_db()
        if request.status == AccessRequest.Status.PENDING:
            access_requests.decide(decider, request.pk, approve=True, reason="依法履职、本人办事，同意共享所列信息项。")
        made += 1
    return made


def load(context: DemoContext) -> None:
    departments = set(Department.objects.values_list("code", flat=True))
    for code, name, name_en, dept, kind, days, several, fields in TYPES:
        if dept in departments:
            upsert_certificate_type(code, name=name, name_en=name_en, department_code=dept, holder_kind=kind,
                                    validity_days=days, multiple_allowed=several, fields=fields)
    grants = _ensure_grants(context, departments)
    created = 0
    for data, rule, description in ITEMS:
        if ServiceItem.objects.filter(code=data["code"]).exists():
            continue
        actor = _maintainer(data["department"])
        if actor is None or data["department"] not in departments:
            continue
        services.create_item(actor, data)
        if rule is not None:
            rules.set_rule(actor, data["code"], rule, description)
        services.publish(actor, data["code"])
        created += 1
    total = ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED).count()
    context.notes.append(
        f"一网通办 one-stop: {total} 个服务事项 service items ({created} new, {grants} new prefill grants) "
        "at /services/; "
        f"citizen-demo 可“秒批”办理婚姻登记记录证明 (instant approval, empty form) at /services/{INSTANT_ITEM}/")
