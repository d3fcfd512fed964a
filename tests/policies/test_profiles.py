"""Profiles: one subject's facts built from the registry, the shared records and the wallet —
every variable of the vocabulary present, typed as declared, missing facts null."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.policies import factories as f
from tongban.policies import profiles
from tongban.policies import variables as vocabulary

pytestmark = pytest.mark.django_db

TYPES = {"number": (int, Decimal), "text": (str,), "boolean": (bool,), "list": (list,)}


def _typed(profile: dict, target: str) -> None:
    declared = vocabulary.types_for(target)
    assert set(profile) == set(declared)
    for name, value in profile.items():
        assert value is None or isinstance(value, TYPES[declared[name]]), (name, value)
        if declared[name] == "number" and value is not None:
            assert not isinstance(value, bool)


def test_enterprise_profile_from_the_shared_records():
    firm = f.enterprise(employees=36, insured_count=32, revenue="1800.456", tax_grade="B", capital="500",
                        registered_on=datetime.date(2020, 6, 15), industry="C3911")
    profile = profiles.profile_for("enterprise", firm.uscc, datetime.date(2025, 6, 14))
    _typed(profile, "enterprise")
    assert profile["industry"] == "C3911" and profile["industry_section"] == "C"
    assert (profile["employees"], profile["size_class"], profile["insured_count"]) == (36, "small", 32)
    assert profile["revenue"] == Decimal("1800.46") and profile["revenue_band"] == "R3"
    assert profile["years_registered"] == 4  # one day short of five years
    assert (profile["region"], profile["city"]) == ("330106", "330100")
    assert profile["registered_capital"] == 500 and profile["tax_credit_grade"] == "B"
    assert profile["in_arrears"] is False and profile["penalized_recently"] is False and profile["active"] is True
    assert profile["certificates"] == []


def test_enterprise_missing_records_are_null_not_guessed():
    firm = f.enterprise(employees=None, revenue=None, insured_count=None, tax_grade=None)
    profile = profiles.profile_for("enterprise", firm.uscc)
    _typed(profile, "enterprise")
    assert profile["employees"] is None and profile["size_class"] is None
    assert profile["revenue"] is None and profile["revenue_band"] is None
    assert profile["insured_count"] is None and profile["in_arrears"] is None
    assert profile["tax_credit_grade"] is None
    assert profile["penalized_recently"] is False  # no penalty record: known clean


def test_penalty_counts_for_three_years_and_deregistered_is_inactive():
    recent = f.enterprise(penalty_on=f.TODAY() - datetime.timedelta(days=400))
    old = f.enterprise(penalty_on=f.TODAY() - datetime.timedelta(days=4 * 366), status="注销")
    assert profiles.profile_for("enterprise", recent.uscc)["penalized_recently"] is True
    stale = profiles.profile_for("enterprise", old.uscc)
    assert stale["penalized_recently"] is False and stale["active"] is False


def test_valid_certificates_only():
    firm = f.enterprise(certificates=["high_tech_enterprise", "business_licence"])
    assert profiles.profile_for("enterprise", firm.uscc)["certificates"] == ["business_licence",
                                                                            "high_tech_enterprise"]
    firm.credentials.filter(type__code="business_licence").update(revoked_at=timezone.now())
    assert profiles.profile_for("enterprise", firm.uscc)["certificates"] == ["high_tech_enterprise"]
    firm.credentials.update(valid_until=timezone.now() - datetime.timedelta(days=1))
    assert profiles.profile_for("enterprise", firm.uscc)["certificates"] == []


def test_citizen_profile():
    person = f.citizen(birth_date=datetime.date(1940, 3, 2), low_income=True, household_size=3, disabled=True,
                       months_paid=180, insured=False, marital_status="30")
    profile = profiles.profile_for("citizen", person.id_number, datetime.date(2025, 3, 1))
    _typed(profile, "citizen")
    assert profile["age"] == 84 and profile["sex"] == "female"
    assert (profile["region"], profile["city"], profile["marital_status"]) == ("330106", "330100", "30")
    assert profile["low_income"] is True and profile["household_size"] == 3 and profile["disabled"] is True
    assert profile["insured"] is False and profile["months_paid"] == 180 and profile["employed"] is False


def test_citizen_absent_from_lists_is_not_a_recipient():
    person = f.citizen(marital_status=None)
    profile = profiles.profile_for("citizen", person.id_number)
    _typed(profile, "citizen")
    assert (profile["low_income"], profile["disabled"], profile["insured"], profile["employed"]) == (
        False, False, False, False)
    assert profile["household_size"] is None and profile["months_paid"] is None and profile["marital_status"] is None


def test_unknown_subject_has_no_profile():
    assert profiles.profile_for("enterprise", "91330100MA00000000") is None
    assert profiles.profile_for("citizen", "") is None


def test_iter_profiles_streams_every_subject_in_chunks(monkeypatch):
    monkeypatch.setattr(profiles, "CHUNK", 2)
    firms = [f.enterprise(account=n % 2 == 0) for n in range(5)]
    rows = list(profiles.iter_profiles("enterprise"))
    assert [subject for subject, _ in rows] == [firm.uscc for firm in firms]
    assert profiles.count("enterprise") == 5
    assert all(set(profile) == set(vocabulary.types_for("enterprise")) for _, profile in rows)


@pytest.mark.parametrize(("raw", "expected"), [
    (5, 5), ("12", 12), ("100.5", Decimal("100.50")), ("1e3", 1000), (" 7.005 ", Decimal("7.01")),
    (True, None), (None, None), ("abc", None), ("NaN", None), ("Infinity", None), ("", None),
    ("1e30", None), (10**16, None), ("-9999999999999999.99", Decimal("-9999999999999999.99")), ("0.005", Decimal("0.01")),
])
def test_number(raw, expected):
    value = profiles._number(raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("employees", "size"), [(None, None), (0, "micro"), (9, "micro"), (10, "small"),
                                                 (99, "small"), (100, "medium"), (299, "medium"), (300, "large")])
def test_size_class(employees, size):
    assert profiles.size_class(employees) == size


@pytest.mark.parametrize(("revenue", "band"), [(None, None), (Decimal("99.99"), "R1"), (100, "R2"), (999, "R2"),
                                               (1000, "R3"), (9999, "R3"), (10000, "R4")])
def test_revenue_band(revenue, band):
    assert profiles.revenue_band(revenue) == band
