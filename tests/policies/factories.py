"""Builders for the policy-service tests: officials of an issuing department and of the bureau,
enterprises and citizens with the shared records their profiles are built from, policies with
a current rule, and API helpers.

Rows are written straight into the tables (policies, rules, exchange records), so tests of
matching, delivery and supervision do not depend on the drafting services. Departments are
get-or-create, so helpers compose. Profiles read: the identity registry, the exchange records of
``profiles.SOURCES`` and the valid credentials of the wallet.

``data_dir`` is a fixture (import it into a test module) that points the data directory — where
the profile snapshots are written — at a fresh temporary directory.
"""

from __future__ import annotations

import datetime
import itertools
import json
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.identity.factories import PASSWORD, make_department, make_official, make_region
from tests.onestop import factories as of
from tongban.exchange.models import Batch, Record
from tongban.identity.access import ANONYMOUS, Actor, actor_for_user
from tongban.identity.generators import make_id_number, make_uscc
from tongban.identity.models import Citizen, Enterprise, User
from tongban.policies.models import EligibilityRule, Policy

_serial = itertools.count(1)
_seq = itertools.count(500_000)

DEPARTMENT = "hr"  # the issuing department of the default policy
TODAY = datetime.date.today
ACTIVE = "存续（在营、开业、在册）"

# A rule most test enterprises pass: small or micro, 10+ insured, no arrears.
SMALL_FIRM_RULE = {"and": [{"in": [{"var": "size_class"}, ["micro", "small"]]},
                           {">=": [{"var": "insured_count"}, 10]},
                           {"==": [{"var": "in_arrears"}, False]}]}
ELDERLY_RULE = {">=": [{"var": "age"}, 80]}


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TONGBAN_MFA_REQUIRED = False
    return tmp_path


# --- people ------------------------------------------------------------------------------------------------------


def official(department_code: str = DEPARTMENT, *roles: str, is_bureau: bool = False) -> User:
    department = make_department(department_code, is_bureau=is_bureau)
    return make_official(f"po-{department_code}-{'-'.join(roles) or 'staff'}-{next(_serial)}", department,
                         list(roles or ("steward",)))


def steward(department_code: str = DEPARTMENT) -> User:
    return official(department_code, "steward")


def dept_admin(department_code: str = DEPARTMENT) -> User:
    return official(department_code, "dept_admin")


def approver(department_code: str = DEPARTMENT) -> User:
    return official(department_code, "approver")


def clerk(department_code: str = DEPARTMENT) -> User:
    return official(department_code, "clerk")


def bureau_admin() -> User:
    return official("bureau", "bureau_admin", is_bureau=True)


def cdo() -> User:
    return official("bureau", "cdo", is_bureau=True)


def auditor() -> User:
    return official("bureau", "auditor", is_bureau=True)


def actor(user: User | None) -> Actor:
    return ANONYMOUS if user is None else actor_for_user(user)


# --- shared records ------------------------------------------------------------------------------------------------


def record(resource_code: str, subject: str, data: dict) -> Record:
    """``subject``'s record in ``resource_code`` (straight into the exchange's table)."""
    prefix = resource_code.split("-")[0]
    department = make_department(prefix, is_bureau=prefix == "bureau")
    batch = Batch.objects.create(resource_code=resource_code, department=department, loaded_by="test",
                                 channel=Batch.Channel.API, rows=1, inserted=1, sha256="0" * 64)
    return Record.objects.create(resource_code=resource_code, subject=subject, data=data, seq=next(_seq),
                                 batch=batch, updated_at=timezone.now())


def _account(kind: str, name: str) -> User:
    return User.objects.create_user(username=f"po-{kind}-{next(_serial)}", password=PASSWORD, kind=kind,
                                    full_name=name)


def enterprise(name: str | None = None, *, account: bool = True, industry: str = "I6513", employees: int | None = 30,
               insured_count: int | None = 28, in_arrears: bool | None = False, revenue: str | None = "1500",
               tax_grade: str | None = "A", capital: str = "500", registered_on: datetime.date | None = None,
               penalty_on: datetime.date | None = None, status: str = ACTIVE, region: str = "330106",
               certificates=()) -> Enterprise:
    """An enterprise with its registration, annual report (when employees or revenue is given),
    social-insurance contributions (when insured_count is given), tax credit grade and penalty
    records; an account (``enterprise.user``) unless ``account=False``; credentials of the type
    codes in ``certificates``."""
    name = name or f"杭州政策测试{next(_serial)}号科技有限公司"
    registered_on = registered_on or datetime.date(2018, 3, 1)
    user = _account(User.Kind.ENTERPRISE, name) if account else None
    row = Enterprise.objects.create(uscc=make_uscc(make_region(region).code, 800_000 + next(_serial)), name=name,
                                    region=make_region(region), industry_code=industry, registered_on=registered_on,
                                    registered_capital=Decimal(capital), employees=employees, user=user)
    record("market-00001", row.uscc, {"uscc": row.uscc, "org_name": name, "industry_code": industry,
                                      "established_on": registered_on.isoformat(), "registered_capital": capital,
                                      "registration_status": status})
    if employees is not None or revenue is not None:
        record("market-00002", row.uscc, {"uscc": row.uscc, "year": 2024, "employees": employees,
                                          "revenue": revenue})
    if insured_count is not None:
        record("hr-00005", row.uscc, {"uscc": row.uscc, "insured_count": insured_count, "in_arrears": in_arrears})
    if tax_grade is not None:
        record("bureau-00005", row.uscc, {"uscc": row.uscc, "tax_credit_grade": tax_grade, "year": 2024})
    if penalty_on is not None:
        record("market-00004", row.uscc, {"uscc": row.uscc, "decided_on": penalty_on.isoformat(),
                                          "offence": "虚假宣传"})
    for code in certificates:
        credential(row, code)
    return row


def citizen(name: str = "王秀英", *, account: bool = True, birth_date: datetime.date | None = None,
            sex: str = "female", region: str = "330106", marital_status: str | None = "30",
            low_income: bool = False, household_size: int = 2, disabled: bool = False,
            months_paid: int | None = None, insured: bool = True, employed: bool = False,
            certificates=()) -> Citizen:
    """A citizen (default: 85 years old) with the records their profile reads."""
    birth_date = birth_date or datetime.date(TODAY().year - 85, 1, 1)
    user = _account(User.Kind.CITIZEN, name) if account else None
    number = make_id_number(make_region(region).code, birth_date, next(_serial) % 1000)
    row = Citizen.objects.create(id_number=number, name=name, sex=sex, birth_date=birth_date,
                                 region=make_region(region), user=user)
    record("bureau-00001", number, {"id_number": number, "name": name, "household_region": region})
    if marital_status is not None:
        record("civil-00001", number, {"id_number": number, "name": name, "marital_status": marital_status})
    if low_income:
        record("civil-00002", number, {"id_number": number, "household_size": household_size})
    if disabled:
        record("civil-00005", number, {"id_number": number})
    if months_paid is not None:
        record("hr-00001", number, {"id_number": number, "status": "参保缴费" if insured else "待遇领取",
                                    "months_paid": months_paid})
    if employed:
        record("hr-00003", number, {"id_number": number})
    for code in certificates:
        credential(row, code)
    return row


def credential(holder, type_code: str):
    """A valid credential of ``type_code`` (created for the holder's kind if needed) in the wallet."""
    from tests.onestop.factories_apps import credential as issue

    kind = "enterprise" if isinstance(holder, Enterprise) else "citizen"
    of.make_certificate_type(type_code, "market" if kind == "enterprise" else "civil", holder_kind=kind)
    return issue(holder, type_code, {})


def subject_of(holder) -> str:
    return holder.uscc if isinstance(holder, Enterprise) else holder.id_number


# --- policies -----------------------------------------------------------------------------------------------------


def service_item(department_code: str = DEPARTMENT, *, applicant_kind: str = "enterprise", **over):
    """A published service item for one-click applications of the policy."""
    return of.service_item(department_code, applicant_kind=applicant_kind, **over)


def policy(department_code: str = DEPARTMENT, *, rule=SMALL_FIRM_RULE, status: str = Policy.Status.PUBLISHED,
           target: str = Policy.Target.ENTERPRISE, mode: str = Policy.Mode.NOTIFY, **over) -> Policy:
    """A policy of ``department_code`` (published by default, in force since last year) with
    ``rule`` as its current rule version 1 (``rule=None``: no rule). Apply mode makes a
    published service item for the target unless ``service_item`` is given."""
    department = make_department(department_code)
    n = next(_serial)
    if mode == Policy.Mode.APPLY and "service_item" not in over:
        over["service_item"] = service_item(department_code, applicant_kind=target).code
    if mode == Policy.Mode.AUTO_GRANT and "benefit_amount" not in over and "benefit_formula" not in over:
        over["benefit_amount"] = Decimal("5000.00")
    fields = {"code": f"{department_code}-T-{n:04d}", "title": f"测试政策{n}", "title_en": f"Test policy {n}",
              "document_number": f"浙人社发〔2025〕{n}号", "department": department,
              "summary": "对符合条件的小微企业给予稳岗补贴。", "target": target, "theme": Policy.Theme.EMPLOYMENT,
              "mode": mode, "valid_from": TODAY() - datetime.timedelta(days=365), "status": status,
              "created_by": "test", "published_at": timezone.now() if status != Policy.Status.DRAFT else None}
    fields.update(over)
    created = Policy.objects.create(**fields)
    if rule is not None:
        published = status != Policy.Status.DRAFT  # publishing confirms the version (four-eyes)
        EligibilityRule.objects.create(policy=created, version=1, logic=rule, description="测试规则",
                                       is_current=True, created_by="test",
                                       confirmed_by="test-confirmer" if published else "",
                                       confirmed_at=timezone.now() if published else None)
    return created


def policy_data(**over) -> dict:
    """Valid input for ``create_policy`` / ``POST /api/v1/policies`` (a notify-mode enterprise policy)."""
    data = {"title": "小微企业稳岗补贴", "title_en": "Job retention subsidy for small firms",
            "document_number": "浙人社发〔2025〕12号", "summary": "对不裁员或少裁员的小微企业返还失业保险费。",
            "target": "enterprise", "theme": "employment", "mode": "notify", "benefit": "按参保人数每人 1000 元",
            "valid_from": (TODAY() - datetime.timedelta(days=30)).isoformat(),
            "valid_until": (TODAY() + datetime.timedelta(days=365)).isoformat()}
    data.update(over)
    return data


# --- the API ------------------------------------------------------------------------------------------------------


def auth(client, user: User) -> dict:
    body = json.dumps({"username": user.username, "password": PASSWORD})
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert response.status_code == 200, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access_token']}"}


def post(client, path: str, body=None, **extra):
    return client.post(path, data=json.dumps(body if body is not None else {}), content_type="application/json",
                       **extra)


def patch(client, path: str, body=None, **extra):
    return client.patch(path, data=json.dumps(body or {}), content_type="application/json", **extra)


# --- the ledger ---------------------------------------------------------------------------------------------------


def ledger_entries(action: str) -> list[dict]:
    """The entries of ``action``, oldest first: the canonical entry (``payload``, ``actor``, …)
    plus ``hashes``, the subject hashes stored beside it."""
    from tongban.ledger.models import LedgerEvent

    out = []
    for event in LedgerEvent.objects.filter(action=action).order_by("id"):
        entry = json.loads(bytes(event.entry))
        entry["hashes"] = sorted(event.subject_hashes.values_list("hash", flat=True))
        entry["raw"] = bytes(event.entry).decode("utf-8")
        out.append(entry)
    return out
