"""The profile variables an eligibility rule may read: the documented vocabulary of 政策通.

A profile is one subject's facts, built from the shared data the departments load into the
exchange (``profiles.py`` says which resource and item each one comes from). Rules are
JSON-Logic over these names only (``{"var": "employees"}``); ``validate`` on save refuses any
other name and a literal of the wrong type, and the set-wise compiler maps each name to one
typed column of the profile snapshot.

Types: ``number`` (integers, or decimals with at most 2 places), ``text``, ``boolean``,
``list`` (a list of texts; test membership with ``{"in": ["high_tech", {"var": "certificates"}]}``).
A value the shared data does not hold is null (the rule's comparisons with it are false), except
booleans read from "is there a record" (a subject absent from the 低保 list is not a recipient).
"""

from __future__ import annotations

from dataclasses import dataclass

ENTERPRISE = "enterprise"
CITIZEN = "citizen"
TYPES = ("number", "text", "boolean", "list")


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    label_zh: str
    label_en: str
    source: str  # where the value comes from (resource code.item key, or a derivation)
    note_zh: str = ""
    note_en: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for coded text

    def label(self, language: str = "zh") -> str:
        return self.label_en if language.startswith("en") else self.label_zh


SIZE_CLASSES = (("micro", "微型"), ("small", "小型"), ("medium", "中型"), ("large", "大型"))
REVENUE_BANDS = (("R1", "100万元以下"), ("R2", "100万–1000万元"), ("R3", "1000万–1亿元"), ("R4", "1亿元及以上"))
TAX_GRADES = (("A", "A级"), ("B", "B级"), ("M", "M级"), ("C", "C级"), ("D", "D级"))
MARITAL = (("10", "未婚"), ("20", "已婚"), ("21", "初婚"), ("22", "再婚"), ("23", "复婚"), ("30", "丧偶"),
           ("40", "离婚"), ("90", "未说明的婚姻状况"))
SEXES = (("male", "男"), ("female", "女"))

ENTERPRISE_VARIABLES: tuple[Variable, ...] = (
    Variable("industry", "text", "行业代码", "Industry code (GB/T 4754)", "market-00001.industry_code",
             "国民经济行业分类代码，如 I6513", "GB/T 4754 class code, e.g. I6513"),
    Variable("industry_section", "text", "行业门类", "Industry section", "industry 的首字母",
             "门类字母：C 制造业、I 信息技术服务业、F 批发零售业……", "Section letter: C manufacturing, I IT services, …"),
    Variable("size_class", "text", "企业规模", "Size class", "employees",
             "按从业人员划分（统计上大中小微型企业划分办法，其他未列明行业）：<10 微型，<100 小型，<300 中型",
             "By employees (national size classification, 'other industries' row): <10 micro, <100 small, <300 medium",
             SIZE_CLASSES),
    Variable("region", "text", "登记地行政区划", "Registered region", "identity 企业登记地",
             "6 位行政区划代码", "6-digit region code"),
    Variable("city", "text", "所在设区市", "City", "region 的前 4 位 + 00", "如 330100 杭州市", "e.g. 330100 Hangzhou"),
    Variable("years_registered", "number", "成立年限（年）", "Years since registration", "market-00001.established_on",
             "至快照日期的整年数", "Whole years to the snapshot date"),
    Variable("registered_capital", "number", "注册资本（万元）", "Registered capital (10k CNY)",
             "market-00001.registered_capital"),
    Variable("employees", "number", "从业人数", "Employees", "market-00002.employees（最新年报）"),
    Variable("insured_count", "number", "参保人数", "Insured headcount", "hr-00005.insured_count"),
    Variable("revenue", "number", "营业收入（万元）", "Revenue (10k CNY)", "market-00002.revenue（最新年报）"),
    Variable("revenue_band", "text", "营业收入档次", "Revenue band", "revenue",
             "R1 <100万，R2 <1000万，R3 <1亿，R4 ≥1亿", "R1 <1M, R2 <10M, R3 <100M, R4 ≥100M CNY", REVENUE_BANDS),
    Variable("tax_credit_grade", "text", "纳税信用级别", "Tax credit grade", "bureau-00005.tax_credit_grade",
             choices=TAX_GRADES),
    Variable("in_arrears", "boolean", "社保欠费", "Social insurance arrears", "hr-00005.in_arrears"),
    Variable("penalized_recently", "boolean", "近三年受过行政处罚", "Penalised in the last 3 years",
             "market-00004（有无处罚记录）"),
    Variable("active", "boolean", "存续经营", "In business", "market-00001.registration_status"),
    Variable("certificates", "list", "持有证照", "Certificates held", "电子证照库（有效证照的类型代码）",
             "如 high_tech_enterprise", "e.g. high_tech_enterprise"),
)

CITIZEN_VARIABLES: tuple[Variable, ...] = (
    Variable("age", "number", "年龄", "Age", "identity 出生日期", "至快照日期的周岁", "Full years at the snapshot date"),
    Variable("sex", "text", "性别", "Sex", "identity", choices=SEXES),
    Variable("region", "text", "户籍地行政区划", "Household region", "bureau-00001.household_region"),
    Variable("city", "text", "户籍所在设区市", "City", "region 的前 4 位 + 00"),
    Variable("marital_status", "text", "婚姻状况", "Marital status", "civil-00001.marital_status", choices=MARITAL),
    Variable("household_size", "number", "低保保障人数", "Household size (allowance)", "civil-00002.household_size"),
    Variable("low_income", "boolean", "最低生活保障对象", "Minimum living allowance recipient",
             "civil-00002（有无记录）"),
    Variable("disabled", "boolean", "享受残疾人补贴", "Receives disability allowance", "civil-00005（有无记录）"),
    Variable("insured", "boolean", "参保缴费中", "Paying social insurance", "hr-00001.status"),
    Variable("months_paid", "number", "累计缴费月数", "Months of contributions", "hr-00001.months_paid"),
    Variable("employed", "boolean", "就业登记", "Registered employment", "hr-00003（有无记录）"),
    Variable("certificates", "list", "持有证照", "Certificates held", "电子证照库（有效证照的类型代码）"),
)

BY_TARGET: dict[str, tuple[Variable, ...]] = {ENTERPRISE: ENTERPRISE_VARIABLES, CITIZEN: CITIZEN_VARIABLES}


def variables_for(target: str) -> tuple[Variable, ...]:
    return BY_TARGET[target]


def types_for(target: str) -> dict[str, str]:
    """name -> type, for ``jsonlogic.validate`` and the compiler."""
    return {v.name: v.type for v in BY_TARGET[target]}


def labels_for(target: str, language: str = "zh") -> dict[str, str]:
    return {v.name: v.label(language) for v in BY_TARGET[target]}
