"""The credentials part of the demo: certificate types, credentials of the demo citizen and
enterprise, and a second demo region (澳门, 820000) whose signed trust list the bureau can import.

Idempotent: types are upserted by code; a credential is issued only when the holder has no
unrevoked one of that type; region B's keys live in the keystore and its files are rewritten.
"""

from __future__ import annotations

import time

from django.conf import settings

from tongban.core.demo import DemoContext
from tongban.credentials import issuer_keys, services
from tongban.credentials.models import CertificateType, Credential
from tongban.credentials.trustlist import build_trust_list, issuer_entry, sign_trust_list
from tongban.credentials.vc import format_datetime, issue_vc_jwt
from tongban.identity.access import Actor
from tongban.identity.models import Department, User


def _f(key: str, name: str, element: str | None, required: bool = False) -> dict:
    return {"key": key, "name": name, "data_element": element, "required": required}


# code, name, English name, department, holder kind, validity days, several allowed, fields
TYPES = [
    ("business_licence", "营业执照", "Business licence", "market", "enterprise", None, False,
     [_f("legal_representative", "法定代表人", "DE00011", True), _f("registered_capital", "注册资本（万元）", "DE00012"),
      _f("founded_on", "成立日期", "DE00013")]),
    ("marriage_certificate", "结婚证", "Marriage certificate", "civil", "citizen", None, False,
     [_f("spouse_name", "配偶姓名", "DE00002", True), _f("registered_on", "登记日期", "DE00019", True)]),
    ("birth_medical_certificate", "出生医学证明", "Birth medical certificate", "health", "citizen", None, True,
     [_f("child_name", "新生儿姓名", "DE00002", True), _f("born_on", "出生日期", "DE00004", True),
      _f("birthplace", "出生地点", "DE00014")]),
    ("degree_certificate", "学位证书", "Degree certificate", "hr", "citizen", None, True,
     [_f("degree", "学位", None, True), _f("certificate_number", "证书编号", "DE00018"), _f("institution", "授予单位", "DE00010", True),
      _f("conferred_on", "授予日期", "DE00019")]),
    ("food_business_licence", "食品经营许可证", "Food business licence", "market", "enterprise", 1825, False,
     [_f("licence_number", "许可证编号", "DE00018", True), _f("scope", "经营项目", None)]),
    ("health_code", "健康码", "Health code", "health", "citizen", 7, False,
     [_f("colour", "健康码颜色", "DE00016", True)]),
    ("high_tech_enterprise", "高新技术企业证书", "High-tech enterprise certificate", "science", "enterprise", 1095, False,
     [_f("certificate_number", "证书编号", "DE00018", True), _f("recognised_on", "认定日期", "DE00019", True)]),
]

REGION_B = "820000"
REGION_B_NAME = "澳门特别行政区（演示）"


def _system(department: Department) -> Actor:
    return Actor(kind="system", username="system:demo", department_id=department.pk,
                 department_code=department.code, scopes=frozenset({"credentials:issue"}))


def _issue_once(type_code: str, holder, identifier: str, fields: dict) -> None:
    type_ = CertificateType.objects.get(code=type_code)
    field = "citizen" if type_.holder_kind == "citizen" else "enterprise"
    if Credential.objects.filter(type=type_, revoked_at__isnull=True, **{field: holder}).exists():
        return
    services.issue_credential(_system(type_.department), type_code, identifier, fields)


def load(context: DemoContext) -> None:
    departments = {d.code: d for d in Department.objects.filter(code__in={t[3] for t in TYPES})}
    for code, name, name_en, dept, kind, days, several, fields in TYPES:
        if dept not in departments:
            continue
        CertificateType.objects.update_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "department": departments[dept], "holder_kind": kind,
            "validity_days": days, "multiple_allowed": several, "fields": fields})
    citizen_user = User.objects.filter(username="citizen-demo").select_related("citizen").first()
    citizen = getattr(citizen_user, "citizen", None) if citizen_user else None
    if citizen is not None:
        _issue_once("marriage_certificate", citizen, citizen.id_number,
                    {"spouse_name": "林晓燕", "registered_on": "2020-05-20"})
        _issue_once("health_code", citizen, citizen.id_number, {"colour": "绿码"})
        _issue_once("degree_certificate", citizen, citizen.id_number,
                    {"degree": "工学学士", "institution": "浙江示范大学", "conferred_on": "2012-06-30"})
    enterprise_user = User.objects.filter(username="enterprise-demo").select_related("enterprise").first()
    enterprise = getattr(enterprise_user, "enterprise", None) if enterprise_user else None
    if enterprise is not None:
        _issue_once("business_licence", enterprise, enterprise.uscc,
                    {"legal_representative": enterprise.legal_representative or "王建国"})
        _issue_once("food_business_licence", enterprise, enterprise.uscc,
                    {"licence_number": "JY13301060000001", "scope": "预包装食品销售"})
        _issue_once("high_tech_enterprise", enterprise, enterprise.uscc,
                    {"certificate_number": "GR202533000123", "recognised_on": "2025-12-01"})
    paths = write_region_b()
    context.notes.append(f"电子证照：第二个演示地区 {REGION_B} 的信任列表 {paths[0]}（根公钥 {paths[1]}，样例证照 {paths[2]}），"
                         f"由 bureau-admin 导入 / second demo region's trust list to import")


def write_region_b():
    """Region B's signed trust list, its root public key and one credential of it, in the data dir."""
    root = issuer_keys._key(f"demo-region-{REGION_B}-root.pem")
    key = issuer_keys._key(f"demo-region-{REGION_B}-health.pem")
    issuer = f"https://tongban.{REGION_B}.example/issuers/health"
    now = time.time()
    doc = build_trust_list(REGION_B, [issuer_entry(issuer, key, department="澳门卫生局（演示）")],
                           region_name=REGION_B_NAME, sequence=int(now), issued_at=now - 60,
                           valid_until=now + 365 * 86400, status_origins=[f"https://tongban.{REGION_B}.example"])
    out = settings.DATA_DIR / "demo"
    out.mkdir(parents=True, exist_ok=True)
    trust = out / f"region-{REGION_B}-trust-list.jws"
    trust.write_text(sign_trust_list(doc, root) + "\n", encoding="utf-8")
    root_path = out / f"region-{REGION_B}-trust-list.jws.root.json"
    import json

    root_path.write_text(json.dumps(root.public_key().public_jwk(), indent=2) + "\n", encoding="utf-8")
    sample = out / f"region-{REGION_B}-health-code.jwt"
    sample.write_text(issue_vc_jwt({
        "@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:8f1c2a4e-0d1b-4c5e-9a7f-820000000001",
        "type": ["VerifiableCredential", "TongbanCertificate"], "issuer": issuer, "name": "健康码",
        "validFrom": format_datetime(now - 60), "validUntil": format_datetime(now + 30 * 86400),
        "credentialSubject": {"type": "Person", "certificateType": "health_code", "name": "陈大文", "colour": "绿码"},
    }, key) + "\n", encoding="utf-8")
    return trust, root_path, sample
