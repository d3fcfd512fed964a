"""The catalog's part of the demo province: 60+ published resources of the demo departments.

Deterministic and idempotent: each resource has a fixed code (``<department>-<n:05d>``, n its
place in the department's list below) and is created only when that code has no version yet,
so running the demo again changes nothing. The per-department code counters are raised past the
demo codes so stewards' new resources never collide with them. Items use the spreadsheet
mini-syntax (``catalog.spreadsheet.parse_items``).
"""

from __future__ import annotations

import datetime

from tongban.catalog import quality, search
from tongban.catalog.models import Item, Resource, ResourceSequence, ReviewComment
from tongban.catalog.rules import clean_items, clean_resource, current_elements
from tongban.catalog.services import PUBLISHED
from tongban.catalog.spreadsheet import parse_items
from tongban.core.demo import DemoContext
from tongban.identity.models import Department
from tongban.ledger import services as ledger

# Item building blocks (mini-syntax).
P_ID = "公民身份号码:id_number:主体标识:核心:个人敏感:英文=ID number:脱敏=首6尾4"
P_NAME = "姓名:DE00002:必填:重要:个人敏感:英文=Name:脱敏=首1尾0"
P_SEX = "性别:DE00003:必填:英文=Sex"
P_BIRTH = "出生日期:DE00004:重要:个人敏感:英文=Date of birth"
P_REGION = "户籍地行政区划:DE00005:键=household_region:英文=Household region"
P_PHONE = "手机号码:phone:重要:个人敏感:英文=Mobile phone:脱敏=首3尾4"
P_ADDRESS = "住址:DE00014:重要:个人敏感:英文=Address:脱敏=区县"
E_USCC = "统一社会信用代码:uscc:主体标识:英文=Unified social credit code"
E_NAME = "单位名称:DE00010:必填:英文=Organisation name"
E_LEGAL = "法定代表人:DE00011:重要:个人敏感:英文=Legal representative:脱敏=首1尾0"
E_FOUNDED = "成立日期:DE00013:英文=Date of establishment"
E_CAPITAL = "注册资本（万元）:DE00012:英文=Registered capital"
E_INDUSTRY = "行业代码:DE00008:英文=Industry code"
E_ADDRESS = "住所:DE00014:键=domicile:英文=Domicile"
E_REGION = "登记机关行政区划:DE00005:键=authority_region:英文=Registration authority region"
CERT = "证照编号:DE00018:必填:英文=Certificate number"
ISSUED = "发证日期:date:键=issued_on:英文=Date of issue"
VALID = "有效期至:DE00020:英文=Valid until"
UPDATED = "更新时间:DE00023:英文=Update time"

PERSON = [P_ID, P_NAME, P_SEX, P_BIRTH]
ENTERPRISE = [E_USCC, E_NAME, E_LEGAL]

BASIS_PERSONAL = "《中华人民共和国个人信息保护法》第十三条、第三十四条；《浙江省公共数据条例》第二十五条"
BASIS_SHARING = "《浙江省公共数据条例》第二十四条；《政务信息资源共享管理暂行办法》（国发〔2016〕51号）第九条"
BASIS_SECRET = "《中华人民共和国数据安全法》第二十一条；涉及个人隐私，依法不予共享"  # noqa: S105 - a legal basis
BASIS_PUBLIC = "《中华人民共和国政府信息公开条例》第二十条；《企业信息公示暂行条例》第六条"
CONDITIONS_PERSONAL = "用于依法履职，限本人授权或法定职责范围内的核验与查询，按最小必要原则申请信息项"
CONDITIONS_PUBLIC = "注册为开放平台用户并签署数据利用协议"

# code -> (name, name_en, theme, sharing, opening, cycle, format, keywords, abstract, items, extra)
# sharing: S = open_share, C = conditional, N = no_share; opening: O = open, C = conditional, X = closed
SPEC: dict[str, list[tuple]] = {
    "bureau": [
        ("人口基础信息", "Population basic information", "population", "C", "X", "daily", "database",
         ["人口", "户籍", "基础库"],
         "省人口综合库中汇聚的自然人基础信息，包括身份、性别、出生、户籍地等，供各部门依法核验身份、减免证明材料。",
         [*PERSON, P_REGION, "民族:string(20):英文=Ethnicity", UPDATED], {"category": "basic"}),
        ("法人基础信息", "Legal entity basic information", "legal_entity", "S", "O", "daily", "database",
         ["法人", "企业", "基础库"],
         "省法人综合库中各类法人和其他组织的基础登记信息，包括统一社会信用代码、名称、法定代表人、住所和成立日期。",
         [*ENTERPRISE, E_FOUNDED, E_ADDRESS, E_INDUSTRY, UPDATED], {"category": "basic"}),
        ("户籍登记信息", "Household registration information", "population", "C", "X", "daily", "database",
         ["户籍", "户口", "人口"],
         "户籍登记、迁入迁出和户主关系信息，由公安部门归集至人口综合库，用于入学、社保、婚姻登记等事项免交户口簿。",
         [*PERSON, P_REGION, "户号:string(20):键=household_number:重要:个人敏感",
          "与户主关系:string(20):键=relation_to_head", "迁入日期:date:键=moved_in_on"], {"category": "basic"}),
        ("公共信用综合评价信息", "Public credit evaluation", "credit", "C", "C", "monthly", "database",
         ["信用", "评价", "企业"],
         "依据公共信用信息对企业开展的综合评价结果和等级，用于分级分类监管和信用奖惩。",
         [*ENTERPRISE, "信用等级:string(10):键=credit_level:必填", "评价日期:date:键=evaluated_on"], {}),
        ("纳税信用等级信息", "Tax credit grades", "credit", "S", "O", "yearly", "spreadsheet",
         ["纳税信用", "税务", "信用等级"],
         "税务部门评定并向社会公布的纳税人纳税信用级别（A、B、M、C、D），供招投标、评优评先等参考。",
         [*ENTERPRISE, "纳税信用级别:DE00017:必填", "评价年度:integer:键=year:必填"], {}),
        ("电子证照目录信息", "E-certificate index", "licences", "C", "X", "realtime", "api",
         ["电子证照", "证照", "免证办"],
         "全省电子证照库中证照的目录信息，记录持证人、证照类型、编号和有效期，用于办事时在线调用证照。",
         [*PERSON[:2], "证照类型:string(50):键=certificate_type:必填", CERT, ISSUED, VALID], {}),
        ("不动产登记信息", "Real estate registration", "natural_resources", "C", "X", "daily", "database",
         ["不动产登记", "房产", "产权"],
         "不动产权利人、坐落、面积、用途和权利类型等登记信息，用于公积金、落户、入学等事项的在线核验。",
         [*PERSON[:2], "不动产权证号:string(50):键=title_number:必填:重要", "坐落:DE00014:键=location:重要",
          "建筑面积（平方米）:decimal:键=floor_area", "规划用途:string(20):键=planned_use"], {}),
    ],
    "market": [
        ("企业登记基本信息", "Enterprise registration", "legal_entity", "S", "O", "realtime", "database",
         ["企业", "登记", "营业执照", "市场主体"],
         "市场主体登记机关核准的企业登记基本信息，包括名称、类型、法定代表人、注册资本、成立日期、住所和经营范围。",
         [*ENTERPRISE, E_FOUNDED, E_CAPITAL, E_INDUSTRY, E_ADDRESS, "经营范围:string(2000):键=business_scope",
          "登记状态:string(20):键=registration_status:必填"], {"category": "basic"}),
        ("企业年度报告信息", "Enterprise annual reports", "legal_entity", "S", "O", "yearly", "database",
         ["企业", "年报", "公示"],
         "企业通过国家企业信用信息公示系统报送的年度报告，包括从业人数、资产状况和网站网店信息。",
         [*ENTERPRISE, "报告年度:integer:键=year:必填", "从业人数:DE00021:键=employees",
          "营业总收入（万元）:decimal:键=revenue", "是否有网站网店:boolean:键=has_web_shop"], {}),
        ("个体工商户登记信息", "Individual business registration", "market", "C", "X", "daily", "database",
         ["个体工商户", "登记", "经营者"],
         "个体工商户的登记信息，包括字号名称、经营者、经营场所和组成形式，经营者身份信息属个人信息。",
         [*ENTERPRISE, "经营者公民身份号码:id_number:键=operator_id_number:核心:个人敏感:脱敏=首6尾4",
          "经营场所:DE00014:键=premises", E_FOUNDED], {}),
        ("行政处罚信息", "Administrative penalties", "market", "S", "O", "daily", "database",
         ["行政处罚", "公示", "执法"],
         "市场监管部门作出的行政处罚决定信息，依法在作出决定之日起二十个工作日内向社会公示。",
         [*ENTERPRISE, "处罚决定书文号:string(100):键=decision_number:必填", "违法行为类型:string(200):键=offence",
          "处罚内容:string(500):键=penalty", "处罚决定日期:date:键=decided_on:必填"], {}),
        ("食品经营许可证信息", "Food business licences", "licences", "S", "O", "daily", "database",
         ["食品经营许可", "许可证", "食品安全"],
         "食品经营许可证的发证信息，包括经营者名称、经营场所、主体业态、经营项目和有效期。",
         [*ENTERPRISE, CERT, "主体业态:string(50):键=business_form", "经营项目:string(500):键=business_items",
          ISSUED, VALID], {}),
        ("特种设备使用登记信息", "Special equipment registration", "market", "C", "X", "weekly", "database",
         ["特种设备", "电梯", "锅炉", "安全"],
         "电梯、锅炉、压力容器等特种设备的使用登记和定期检验信息，供应急管理、住建等部门共享。",
         [*ENTERPRISE, "设备代码:string(30):键=equipment_code:必填", "设备类别:string(30):键=equipment_type",
          "下次检验日期:date:键=next_inspection_on"], {}),
        ("企业经营异常名录信息", "Abnormal operations list", "credit", "S", "O", "daily", "database",
         ["经营异常", "信用", "企业"],
         "因未按期报送年报、通过登记住所无法联系等原因被列入经营异常名录的企业及列入、移出信息。",
         [*ENTERPRISE, "列入原因:string(200):键=reason:必填", "列入日期:date:键=listed_on:必填",
          "移出日期:date:键=removed_on"], {}),
        ("企业股东及出资信息", "Shareholders and contributions", "legal_entity", "C", "C", "daily", "database",
         ["股东", "出资", "企业"],
         "有限责任公司股东名称、认缴和实缴出资额、出资方式和出资时间，自然人股东身份信息按个人信息保护。",
         [*ENTERPRISE, "股东名称:string(150):键=shareholder:重要", "认缴出资额（万元）:decimal:键=subscribed",
          "实缴出资额（万元）:decimal:键=paid_in"], {}),
        ("企业注销登记信息", "Enterprise deregistration", "legal_entity", "S", "O", "daily", "database",
         ["注销", "企业", "登记"],
         "企业简易注销和一般注销的登记信息，包括注销原因、清算组备案和核准注销日期。",
         [*ENTERPRISE, "注销原因:string(200):键=reason", "核准注销日期:date:键=deregistered_on:必填"], {}),
    ],
    "health": [
        ("出生医学证明信息", "Birth medical certificates", "health", "C", "X", "daily", "database",
         ["出生医学证明", "出生", "新生儿"],
         "助产机构签发的出生医学证明信息，包括新生儿姓名、性别、出生时间地点和父母身份信息，用于出生一件事联办。",
         [P_ID, "新生儿姓名:DE00002:必填:重要:个人敏感:脱敏=首1尾0", P_SEX, P_BIRTH,
          "出生地点:DE00014:键=birth_place", "母亲姓名:string(50):键=mother_name:个人敏感:脱敏=首1尾0",
          "出生医学证明编号:DE00018:必填"], {}),
        ("健康码信息", "Health code status", "health", "C", "X", "realtime", "api",
         ["健康码", "防疫", "核验"],
         "个人健康码颜色状态及赋码时间，用于公共场所通行和重点人群管理的实时核验（演示数据）。",
         [P_ID, P_NAME, "健康码颜色:DE00016:必填", "赋码时间:DE00023:键=coded_at"], {}),
        ("医师执业注册信息", "Physician registration", "health", "C", "C", "weekly", "database",
         ["医师执业", "医生", "执业注册"],
         "医师执业注册的执业地点、执业类别、执业范围和证书编号，公众可查询医师的执业资格。",
         [*PERSON[:2], "执业类别:string(20):键=practice_class:必填", "执业范围:string(100):键=practice_scope",
          "执业地点:string(150):键=practice_place", CERT], {}),
        ("医疗机构执业登记信息", "Medical institution registration", "health", "S", "O", "weekly", "database",
         ["医疗机构", "医院", "执业许可"],
         "医疗机构执业许可证信息，包括机构名称、类别、诊疗科目、床位数和有效期。",
         [*ENTERPRISE, "机构类别:string(50):键=institution_type:必填", "诊疗科目:string(500):键=departments",
          "床位数:integer:键=beds", CERT, VALID], {}),
        ("疫苗接种记录", "Vaccination records", "health", "C", "X", "daily", "database",
         ["疫苗接种", "免疫规划", "儿童"],
         "免疫规划疫苗和非免疫规划疫苗的接种记录，用于入托入学查验接种证。",
         [*PERSON, "疫苗名称:string(100):键=vaccine:必填", "接种日期:date:键=vaccinated_on:必填",
          "接种单位:string(150):键=clinic"], {}),
        ("护士执业注册信息", "Nurse registration", "health", "C", "C", "weekly", "database",
         ["护士执业", "执业注册", "护理"],
         "护士执业注册的执业地点、注册有效期和证书编号。",
         [*PERSON[:2], "执业地点:string(150):键=practice_place", CERT, VALID], {}),
        ("居民电子健康档案", "Electronic health records", "health", "N", "X", "realtime", "database",
         ["健康档案", "病历", "个人隐私"],
         "居民电子健康档案摘要，包括慢病管理和既往病史，属于敏感个人信息，依法不予共享，仅本人在线查阅。",
         [*PERSON, "慢病类型:string(100):键=chronic_conditions:核心:个人敏感:脱敏=全部",
          "建档机构:string(150):键=clinic"], {}),
    ],
    "hr": [
        ("社会保险参保信息", "Social insurance enrolment", "social_security", "C", "X", "monthly", "database",
         ["社会保险", "参保", "养老保险", "医疗保险"],
         "职工和城乡居民养老、医疗、失业、工伤保险的参保状态、参保单位和缴费月数，用于落户、购房、入学等事项核验。",
         [*PERSON, "参保险种:string(50):键=insurance_type:必填", "参保状态:string(20):键=status:必填",
          "参保单位名称:string(150):键=employer", "累计缴费月数:integer:键=months_paid"], {}),
        ("养老保险待遇领取信息", "Pension payments", "social_security", "C", "X", "monthly", "database",
         ["养老保险", "待遇", "领取"],
         "基本养老保险待遇领取人员、待遇标准和发放状态，用于待遇资格认证和重复领取比对。",
         [*PERSON[:2], "月养老金（元）:DE00022:键=monthly_amount:重要", "开始领取日期:date:键=started_on"], {}),
        ("就业登记信息", "Employment registration", "social_security", "C", "X", "monthly", "database",
         ["就业登记", "劳动合同", "就业"],
         "劳动者就业登记和失业登记信息，包括用工单位、劳动合同期限和就业形式。",
         [*PERSON, "用工单位名称:string(150):键=employer", "劳动合同起始日期:date:键=contract_from",
          "就业形式:string(20):键=employment_form"], {}),
        ("职业资格证书信息", "Vocational qualifications", "social_security", "C", "C", "monthly", "database",
         ["职业资格", "技能等级", "证书"],
         "职业资格证书和职业技能等级证书信息，供用人单位和社会公众查询真伪。",
         [*PERSON[:2], "职业（工种）:string(100):键=occupation:必填", "等级:string(20):键=level", CERT,
          ISSUED], {}),
        ("企业社会保险缴费信息", "Employer contributions", "social_security", "C", "X", "monthly", "database",
         ["社会保险", "缴费", "企业", "稳岗"],
         "参保单位的参保人数、缴费基数和欠费情况，用于稳岗返还、惠企政策精准兑现。",
         [*ENTERPRISE, "参保人数:DE00021:键=insured_count", "月缴费基数合计（元）:DE00022:键=base_total",
          "是否欠费:boolean:键=in_arrears"], {}),
        ("失业保险金领取信息", "Unemployment benefit", "social_security", "C", "X", "monthly", "database",
         ["失业保险", "失业金", "待遇"],
         "失业保险金申领、核定期限和发放信息。",
         [*PERSON[:2], "领取期限（月）:integer:键=months", "月发放金额（元）:DE00022:键=monthly_amount"], {}),
        ("技能人才评价信息", "Skills assessment results", "social_security", "S", "C", "quarterly", "spreadsheet",
         ["技能人才", "评价", "职业技能等级"],
         "经备案的评价机构开展职业技能等级认定的结果汇总。",
         [*PERSON[:2], "认定职业:string(100):键=occupation", "认定等级:string(20):键=level"], {}),
    ],
    "civil": [
        ("婚姻登记信息", "Marriage registration", "civil_affairs", "C", "X", "daily", "database",
         ["婚姻登记", "结婚", "离婚", "婚姻状况"],
         "婚姻登记机关办理的结婚、离婚登记信息及当事人婚姻状况，用于购房、落户、生育登记等事项免交结婚证。",
         [*PERSON, P_REGION, "婚姻状况:DE00009:必填", "登记日期:DE00019", "配偶姓名:string(50):键=spouse_name:重要:个人敏感:脱敏=首1尾0",
          "登记机关:string(150):键=registry"], {}),
        ("最低生活保障对象信息", "Minimum living allowance recipients", "civil_affairs", "C", "X", "monthly",
         "database", ["低保", "最低生活保障", "救助"],
         "城乡最低生活保障对象的保障人数、保障金额和起始时间，用于医疗救助、教育资助等事项联动。",
         [*PERSON[:2], P_REGION, "保障人数:DE00021:键=household_size", "月保障金额（元）:DE00022:键=monthly_amount",
          "保障起始日期:date:键=started_on"], {}),
        ("社会组织登记信息", "Social organisations", "civil_affairs", "S", "O", "weekly", "database",
         ["社会组织", "社会团体", "民办非企业", "基金会"],
         "社会团体、民办非企业单位和基金会的登记信息，包括名称、业务主管单位、业务范围和登记状态。",
         [*ENTERPRISE, "组织类型:string(20):键=org_type:必填", "业务范围:string(1000):键=scope", E_FOUNDED], {}),
        ("养老机构备案信息", "Elderly care institutions", "civil_affairs", "S", "O", "monthly", "database",
         ["养老机构", "养老", "床位"],
         "养老机构备案信息，包括机构名称、地址、床位数和服务内容。",
         [*ENTERPRISE, E_ADDRESS, "床位数:integer:键=beds", "备案日期:date:键=filed_on"], {}),
        ("残疾人两项补贴信息", "Disability allowances", "civil_affairs", "C", "X", "monthly", "database",
         ["残疾人", "补贴", "救助"],
         "困难残疾人生活补贴和重度残疾人护理补贴的发放信息。",
         [*PERSON[:2], "补贴类型:string(50):键=allowance_type", "月补贴金额（元）:DE00022:键=monthly_amount"], {}),
        ("死亡火化信息", "Death and cremation records", "civil_affairs", "C", "X", "daily", "database",
         ["殡葬", "死亡", "火化"],
         "殡仪馆火化记录，用于养老金停发、户口注销等身后一件事联办。",
         [*PERSON[:2], "死亡日期:date:键=died_on:必填", "火化日期:date:键=cremated_on"], {}),
        ("收养登记信息", "Adoption registration", "civil_affairs", "N", "X", "irregular", "database",
         ["收养登记", "收养", "个人隐私"],
         "收养登记信息涉及未成年人隐私，依法保密，不予共享。",
         [*PERSON[:2], "收养登记日期:DE00019"], {}),
    ],
    "330100-data": [
        ("杭州市居住证信息", "Hangzhou residence permits", "population", "C", "X", "daily", "database",
         ["居住证", "流动人口", "杭州"],
         "杭州市居住证申领、签注信息，用于积分落户、子女入学和公共服务。",
         [*PERSON[:2], "居住地址:DE00014:键=residence:个人敏感:脱敏=全部", "签注有效期至:DE00020"], {}),
        ("杭州市古树名木养护责任信息", "Hangzhou ancient and notable trees", "natural_resources", "S", "O",
         "yearly", "spreadsheet", ["古树名木", "养护", "园林"],
         "杭州市古树名木的编号、树种、树龄、位置和养护责任单位，向社会公开。",
         [E_USCC, E_NAME, "古树编号:string(30):键=tree_number:必填", "树种:string(50):键=species",
          "估测树龄（年）:integer:键=age", "位置:DE00014:键=location"], {}),
        ("杭州市公共租赁住房保障对象", "Hangzhou public rental housing", "civil_affairs", "C", "X", "monthly",
         "database", ["公租房", "住房保障", "杭州"],
         "公共租赁住房保障对象的家庭人数、保障方式和租金补贴。",
         [*PERSON[:2], "家庭人数:DE00021:键=household_size", "保障方式:string(20):键=support_type"], {}),
        ("杭州市数字经济企业名录", "Hangzhou digital economy firms", "economy", "S", "O", "quarterly", "spreadsheet",
         ["数字经济", "企业", "软件开发"],
         "纳入杭州市数字经济核心产业统计的企业名录及所属行业。",
         [*ENTERPRISE[:2], E_INDUSTRY, "认定年度:integer:键=year"], {}),
    ],
    "330100-market": [
        ("杭州市网络交易经营者信息", "Hangzhou online traders", "market", "S", "C", "daily", "database",
         ["网络交易", "电商", "平台经营者"],
         "在杭州登记的网络交易平台内经营者主体信息及店铺网址。",
         [*ENTERPRISE, "店铺网址:string(300):键=shop_url", E_FOUNDED], {}),
        ("杭州市食品生产许可信息", "Hangzhou food production licences", "licences", "S", "O", "daily", "database",
         ["食品生产许可", "许可证", "食品安全"],
         "杭州市食品生产许可证发证信息，包括食品类别和有效期。",
         [*ENTERPRISE, CERT, "食品类别:string(200):键=food_categories", VALID], {}),
        ("杭州市广告经营单位信息", "Hangzhou advertising firms", "market", "S", "O", "monthly", "database",
         ["广告", "经营单位", "市场监管"],
         "从事广告发布业务单位的登记信息。",
         [*ENTERPRISE[:2], E_ADDRESS], {}),
        ("杭州市双随机抽查结果", "Hangzhou random inspections", "market", "S", "O", "monthly", "database",
         ["双随机", "抽查", "监管"],
         "双随机、一公开监管抽查的对象、事项和检查结果。",
         [*ENTERPRISE[:2], "抽查事项:string(200):键=inspection_item", "检查结果:string(50):键=result:必填",
          "检查日期:date:键=inspected_on"], {}),
    ],
    "330200-data": [
        ("宁波市船舶检验证书信息", "Ningbo ship inspection certificates", "transport", "S", "C", "weekly",
         "database", ["船舶检验", "船舶", "港口", "宁波"],
         "宁波辖区船舶检验机构签发的船舶检验证书，包括船名、船舶所有人、检验类别和有效期。",
         [E_USCC, "船舶所有人:DE00010:必填", "船名:string(50):键=ship_name:必填", "检验类别:string(50):键=survey_type",
          CERT, VALID], {}),
        ("宁波市港口经营企业信息", "Ningbo port operators", "transport", "S", "O", "monthly", "database",
         ["港口", "港口经营", "宁波舟山港"],
         "取得港口经营许可的企业及其经营范围和泊位。",
         [*ENTERPRISE[:2], "港口经营许可证号:DE00018", "经营范围:string(500):键=scope"], {}),
        ("宁波市住房公积金缴存信息", "Ningbo housing fund contributions", "social_security", "C", "X", "monthly",
         "database", ["住房公积金", "缴存", "宁波"],
         "个人住房公积金缴存单位、缴存基数和账户状态，用于贷款和提取核验。",
         [*PERSON[:2], "缴存单位:string(150):键=employer", "月缴存额（元）:DE00022:键=monthly_amount",
          "账户状态:string(20):键=account_status"], {}),
        ("宁波市人才引进认定信息", "Ningbo talent recognition", "social_security", "C", "X", "monthly", "database",
         ["人才", "人才引进", "补贴"],
         "高层次人才分类认定结果和享受政策情况。",
         [*PERSON[:2], "人才类别:string(20):键=category", "认定日期:date:键=recognised_on"], {}),
    ],
    "330200-market": [
        ("宁波市企业登记信息", "Ningbo enterprise registration", "legal_entity", "S", "O", "daily", "database",
         ["企业", "登记", "宁波"],
         "宁波市市场主体登记机关核准的企业登记信息。",
         [*ENTERPRISE, E_FOUNDED, E_CAPITAL, E_INDUSTRY], {}),
        ("宁波市特种设备检验信息", "Ningbo special equipment inspections", "market", "C", "C", "weekly", "database",
         ["特种设备", "检验", "电梯"],
         "宁波市特种设备定期检验结论和下次检验日期。",
         [*ENTERPRISE[:2], "设备代码:string(30):键=equipment_code:必填", "检验结论:string(20):键=result"], {}),
        ("宁波市计量器具检定信息", "Ningbo measuring instruments", "market", "S", "O", "monthly", "database",
         ["计量", "检定", "器具"],
         "强制检定计量器具的检定结果。",
         [*ENTERPRISE[:2], "器具名称:string(100):键=instrument", "检定结果:string(20):键=result"], {}),
        ("宁波市产品质量监督抽查信息", "Ningbo product quality checks", "market", "S", "O", "quarterly",
         "spreadsheet", ["产品质量", "监督抽查", "宁波"],
         "产品质量监督抽查的产品、生产企业和抽查结论。",
         [*ENTERPRISE[:2], "产品名称:string(100):键=product", "抽查结论:string(20):键=result"], {}),
    ],
    "330300-data": [
        ("温州市古树名木信息", "Wenzhou ancient and notable trees", "natural_resources", "S", "O", "yearly",
         "spreadsheet", ["古树名木", "园林", "温州"],
         "温州市古树名木普查结果，包括树种、树龄、保护等级和养护单位。",
         [E_USCC, E_NAME, "古树编号:string(30):键=tree_number:必填", "树种:string(50):键=species",
          "保护等级:string(10):键=protection_level"], {}),
        ("温州市民营企业发展信息", "Wenzhou private enterprises", "economy", "S", "C", "quarterly", "database",
         ["民营经济", "企业", "温州"],
         "温州市民营企业的规模、行业和纳税情况统计。",
         [*ENTERPRISE[:2], E_INDUSTRY, "从业人数:DE00021:键=employees"], {}),
        ("温州市住房公积金缴存信息", "Wenzhou housing fund contributions", "social_security", "C", "X", "monthly",
         "database", ["住房公积金", "缴存", "温州"],
         "个人住房公积金缴存信息，用于贷款和提取核验。",
         [*PERSON[:2], "缴存单位:string(150):键=employer", "月缴存额（元）:DE00022:键=monthly_amount"], {}),
        ("温州市新生儿落户信息", "Wenzhou newborn household registration", "population", "C", "X", "daily",
         "database", ["出生", "落户", "户籍"],
         "出生一件事中新生儿户口登记结果，供医保参保和社保卡申领联办。",
         [*PERSON, P_REGION], {}),
    ],
    "330300-market": [
        ("温州市食品经营许可信息", "Wenzhou food business licences", "licences", "S", "O", "daily", "database",
         ["食品经营许可", "许可证", "温州"],
         "温州市食品经营许可证发证信息。",
         [*ENTERPRISE, CERT, VALID], {}),
        ("温州市鞋类产品质量抽检信息", "Wenzhou footwear quality checks", "market", "S", "O", "quarterly",
         "spreadsheet", ["鞋类", "质量抽检", "温州"],
         "温州鞋类产品质量监督抽检的企业、产品和结论。",
         [*ENTERPRISE[:2], "产品名称:string(100):键=product", "抽检结论:string(20):键=result"], {}),
        ("温州市商标注册信息", "Wenzhou trademarks", "market", "S", "O", "monthly", "database",
         ["商标", "知识产权", "温州"],
         "温州市企业注册商标的注册号、类别和专用权期限。",
         [*ENTERPRISE[:2], "商标注册号:string(20):键=trademark_number:必填", "国际分类:integer:键=nice_class",
          VALID], {}),
        ("温州市小微企业名录", "Wenzhou small and micro enterprises", "economy", "S", "O", "monthly", "database",
         ["小微企业", "扶持", "温州"],
         "小微企业名录及享受扶持政策情况。",
         [*ENTERPRISE[:2], E_INDUSTRY, "享受扶持政策:string(200):键=support"], {}),
    ],
}
SHARING = {"S": "open_share", "C": "conditional", "N": "no_share"}
OPENING = {"O": "open", "C": "conditional", "X": "closed"}
STEWARDS = {"market": "孙市", "health": "郑卫", "hr": "冯社", "civil": "陈民", "bureau": "周建国"}
FIRST_PUBLISHED = datetime.datetime(2025, 3, 1, 9, 30, tzinfo=datetime.UTC)


def _resource_data(department: Department, index: int, spec: tuple) -> dict:
    name, name_en, theme, sharing, opening, cycle, fmt, keywords, abstract, _items, extra = spec
    sharing, opening = SHARING[sharing], OPENING[opening]
    data = {
        "name": name, "name_en": name_en, "abstract": abstract, "theme": theme, "sharing": sharing,
        "opening": opening, "update_cycle": cycle, "format": fmt, "keywords": keywords,
        "category": extra.get("category", "department"),
        "classification": {"population": "人口/基础信息", "legal_entity": "法人/登记信息"}.get(theme, ""),
        "sharing_method": "api" if fmt in ("database", "api") else "file",
        "spatial": department.region_id, "temporal_start": datetime.date(2015 + index % 8, 1, 1),
        "contact_name": STEWARDS.get(department.code, "数据管理员"),
        "contact_phone": f"0571-8{department.pk % 10}{index:02d}{index * 7 % 100:02d}",
        "contact_email": f"data@{department.code.replace('-', '')}.example.gov.cn",
    }
    if sharing != "open_share":
        data["sharing_basis"] = BASIS_SECRET if sharing == "no_share" else BASIS_PERSONAL
        data["sharing_conditions"] = "" if sharing == "no_share" else CONDITIONS_PERSONAL
    else:
        data["sharing_basis"] = BASIS_PUBLIC if opening == "open" else BASIS_SHARING
    if opening == "conditional":
        data["opening_conditions"] = CONDITIONS_PUBLIC
    return data


def load(context: DemoContext) -> None:
    elements = current_elements()
    created = 0
    serial = 0
    for department_code, specs in SPEC.items():
        department = Department.objects.get(code=department_code)
        for index, spec in enumerate(specs, start=1):
            serial += 1
            code = f"{department.code}-{index:05d}"
            if Resource.objects.filter(code=code).exists():
                continue
            clean, problems = clean_resource(_resource_data(department, index, spec))
            raw_items, errors = parse_items(";".join(spec[9]), elements)
            items, item_problems = clean_items(raw_items, elements)
            if problems or item_problems or errors:  # a mistake in the table above, not user input
                raise ValueError(f"demo resource {code}: {problems + item_problems} {errors}")
            published = FIRST_PUBLISHED + datetime.timedelta(days=serial * 3)
            resource = Resource.objects.create(code=code, version=1, status=Resource.Status.PUBLISHED,
                                               department=department, created_by=f"{department_code}-steward",
                                               submitted_at=published, published_at=published, **clean)
            Item.objects.bulk_create([Item(resource=resource, **item) for item in items])
            report = quality.assess(resource)
            Resource.objects.filter(pk=resource.pk).update(quality=report, quality_score=report["percent"])
            resource.quality, resource.quality_score = report, report["percent"]
            ReviewComment.objects.create(resource=resource, author="bureau-admin",
                                         decision=ReviewComment.Decision.PUBLISH, comment="演示数据：审核通过")
            search.index_resource(resource)
            # The demo's publications are on the public ledger like real ones.
            ledger.record(actor="bureau-admin", action=PUBLISHED, subject=f"resource:{code}", department="bureau",
                          payload={"version": 1, "demo": True})
            created += 1
        sequence, _ = ResourceSequence.objects.get_or_create(department=department)
        if sequence.last < len(specs):
            sequence.last = len(specs)
            sequence.save(update_fields=["last"])
    total = Resource.objects.filter(status=Resource.Status.PUBLISHED).count()
    context.notes.append(f"数据目录 catalog: {total} 个已发布资源 published resources ({created} new); "
                         f"搜索 search at /catalog/, 开放数据 open data at /open-data/")
