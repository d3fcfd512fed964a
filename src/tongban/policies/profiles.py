"""Profiles: one subject's facts for eligibility rules, built from the shared data.

Sources (``variables.py`` documents each variable): the identity registry of enterprises and
citizens, the departments' records loaded into the exchange (``SOURCES``), and the valid
e-certificates of the wallet. The same derivation serves the one-subject path (``profile_for``:
"do I qualify", reasons shown to the subject) and the bulk snapshot (``iter_profiles``: every
subject, streamed in chunks, written to Parquet for the analytic engine), so both paths read
the same facts.

The policy service is a platform function run for the bureau: building a snapshot is one
ledger entry naming the resources read and how many profiles were built (not one access per
subject — the per-subject act is the delivery, which is recorded).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from tongban.credentials.models import Credential
from tongban.exchange.models import Record
from tongban.identity.models import Citizen, Enterprise
from tongban.policies.variables import CITIZEN, ENTERPRISE

# target -> resource codes read (the records of these resources feed the profile)
SOURCES: dict[str, tuple[str, ...]] = {
    ENTERPRISE: ("market-00001", "market-00002", "market-00004", "bureau-00005", "hr-00005"),
    CITIZEN: ("bureau-00001", "civil-00001", "civil-00002", "civil-00005", "hr-00001", "hr-00003"),
}
PENALTY_YEARS = 3
CHUNK = 2000
NUMBER_LIMIT = Decimal(10) ** 16  # the snapshot's number columns are DECIMAL(18,2)


def _number(value: Any) -> int | Decimal | None:
    """A record value as a profile number (int, or Decimal rounded half up — 四舍五入 — to 2 places);
    else None. Beyond what the snapshot's DECIMAL(18,2) columns hold it is None too: one bad record
    must not fail the snapshot of every subject."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(value if isinstance(value, int) else str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or abs(number) >= NUMBER_LIMIT:
        return None
    if isinstance(value, int):
        return value
    number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(number) if number == number.to_integral_value() else number


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return None


def _years_between(start: datetime.date | None, end: datetime.date) -> int | None:
    if start is None:
        return None
    years = end.year - start.year - ((end.month, end.day) < (start.month, start.day))
    return max(years, 0)


def _city(region: str | None) -> str | None:
    return f"{region[:4]}00" if region and len(region) == 6 else None


def size_class(employees: int | Decimal | None) -> str | None:
    """统计上大中小微型企业划分办法（2017）, row "other industries", by employees only."""
    if employees is None:
        return None
    if employees < 10:
        return "micro"
    if employees < 100:
        return "small"
    if employees < 300:
        return "medium"
    return "large"


def revenue_band(revenue: int | Decimal | None) -> str | None:
    """Revenue in 10k CNY → R1 (<100万) … R4 (≥1亿)."""
    if revenue is None:
        return None
    if revenue < 100:
        return "R1"
    if revenue < 1000:
        return "R2"
    if revenue < 10000:
        return "R3"
    return "R4"


def enterprise_profile(enterprise: Enterprise, records: dict[str, dict], certificates: Iterable[str],
                       as_of: datetime.date) -> dict[str, Any]:
    registration = records.get("market-00001") or {}
    report = records.get("market-00002") or {}
    contributions = records.get("hr-00005")
    penalty = records.get("market-00004")
    industry = registration.get("industry_code") or enterprise.industry_code or None
    employees = _number(report.get("employees"))
    if employees is None:
        employees = enterprise.employees
    established = _date(registration.get("established_on")) or enterprise.registered_on
    revenue = _number(report.get("revenue"))
    status = registration.get("registration_status")
    decided = _date(penalty.get("decided_on")) if penalty else None
    recent = penalty is not None and (decided is None or _years_between(decided, as_of) < PENALTY_YEARS)
    return {
        "industry": industry,
        "industry_section": industry[:1] if industry else None,
        "size_class": size_class(employees),
        "region": enterprise.region_id,
        "city": _city(enterprise.region_id),
        "years_registered": _years_between(established, as_of),
        "registered_capital": _number(registration.get("registered_capital", enterprise.registered_capital)),
        "employees": employees,
        "insured_count": _number(contributions.get("insured_count")) if contributions else None,
        "revenue": revenue,
        "revenue_band": revenue_band(revenue),
        "tax_credit_grade": (records.get("bureau-00005") or {}).get("tax_credit_grade"),
        "in_arrears": contributions.get("in_arrears") if contributions else None,
        "penalized_recently": recent,
        "active": str(status).startswith("存续") if status else None,
        "certificates": sorted(set(certificates)),
    }


def citizen_profile(citizen: Citizen, records: dict[str, dict], certificates: Iterable[str],
                    as_of: datetime.date) -> dict[str, Any]:
    population = records.get("bureau-00001") or {}
    allowance = records.get("civil-00002")
    insurance = records.get("hr-00001")
    region = population.get("household_region") or citizen.region_id
    return {
        "age": _years_between(citizen.birth_date, as_of),
        "sex": citizen.sex or None,
        "region": region,
        "city": _city(region),
        "marital_status": (records.get("civil-00001") or {}).get("marital_status"),
        "household_size": _number(allowance.get("household_size")) if allowance else None,
        "low_income": allowance is not None,
        "disabled": "civil-00005" in records,
        "insured": (insurance.get("status") == "参保缴费") if insurance else False,
        "months_paid": _number(insurance.get("months_paid")) if insurance else None,
        "employed": "hr-00003" in records,
        "certificates": sorted(set(certificates)),
    }


def _records(target: str, subjects: list[str]) -> dict[str, dict[str, dict]]:
    by_subject: dict[str, dict[str, dict]] = defaultdict(dict)
    rows = Record.objects.filter(resource_code__in=SOURCES[target], subject__in=subjects)
    for subject, code, data in rows.values_list("subject", "resource_code", "data").iterator(chunk_size=CHUNK):
        by_subject[subject][code] = data or {}
    return by_subject


def _certificates(target: str, holder_ids: list[int]) -> dict[int, set[str]]:
    field = "enterprise_id" if target == ENTERPRISE else "citizen_id"
    now = timezone.now()
    held: dict[int, set[str]] = defaultdict(set)
    rows = (Credential.objects.filter(**{f"{field}__in": holder_ids}, revoked_at__isnull=True, suspended=False)
            .exclude(valid_until__lt=now).values_list(field, "type__code"))
    for holder, code in rows:
        held[holder].add(code)
    return held


def _build(target: str, holders: list, as_of: datetime.date) -> Iterator[tuple[str, dict[str, Any]]]:
    key = "uscc" if target == ENTERPRISE else "id_number"
    subjects = [getattr(h, key) for h in holders]
    records = _records(target, subjects)
    certificates = _certificates(target, [h.pk for h in holders])
    build = enterprise_profile if target == ENTERPRISE else citizen_profile
    for holder, subject in zip(holders, subjects, strict=True):
        yield subject, build(holder, records.get(subject, {}), certificates.get(holder.pk, ()), as_of)


def _holders(target: str):
    return Enterprise.objects.all() if target == ENTERPRISE else Citizen.objects.all()


def profile_for(target: str, subject: str, as_of: datetime.date | None = None) -> dict[str, Any] | None:
    """The profile of one subject (None when the registry does not know it)."""
    key = "uscc" if target == ENTERPRISE else "id_number"
    holder = _holders(target).filter(**{key: subject}).first()
    if holder is None:
        return None
    return next(_build(target, [holder], as_of or timezone.localdate()))[1]


def count(target: str) -> int:
    return _holders(target).count()


def iter_profiles(target: str, as_of: datetime.date | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subject's profile, in chunks (bounded memory), ordered by the registry's key."""
    as_of = as_of or timezone.localdate()
    last = 0
    while True:
        holders = list(_holders(target).filter(pk__gt=last).order_by("pk")[:CHUNK])
        if not holders:
            return
        yield from _build(target, holders, as_of)
        last = holders[-1].pk
