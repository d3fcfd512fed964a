"""The demo province: deterministic, realistic, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tongban.core.models import PlatformFlag
from tongban.identity.models import Citizen, Department, Enterprise, Region, User
from tongban.identity.validators import is_valid_id_number, is_valid_uscc

pytestmark = pytest.mark.django_db

CONTRACT_ACCOUNTS = {
    "bureau-admin", "auditor", "market-steward", "market-clerk", "market-approver", "health-steward",
    "health-approver", "hr-steward", "civil-steward", "citizen-demo", "enterprise-demo",
}


def _snapshot():
    return (
        sorted(Citizen.objects.values_list("id_number", "name")),
        sorted(Enterprise.objects.values_list("uscc", "name")),
        sorted(User.objects.values_list("username", flat=True)),
        Department.objects.count(),
        Region.objects.count(),
    )


def test_demo_loads_province_twice_without_duplicates():
    out = io.StringIO()
    call_command("demo", stdout=out)
    first = _snapshot()
    call_command("demo", stdout=io.StringIO())
    assert _snapshot() == first
    printed = out.getvalue()
    for username in CONTRACT_ACCOUNTS:
        assert username in printed
    assert "tongban-demo" in printed


def test_demo_province_is_realistic():
    call_command("demo", stdout=io.StringIO())
    assert Citizen.objects.count() >= 1000
    assert Enterprise.objects.count() >= 200
    assert all(is_valid_id_number(n) for n in Citizen.objects.values_list("id_number", flat=True))
    assert all(is_valid_uscc(c) for c in Enterprise.objects.values_list("uscc", flat=True))
    assert all(is_valid_uscc(c) for c in Department.objects.values_list("uscc", flat=True))
    assert Region.objects.filter(level="city").count() >= 2
    assert Region.objects.filter(level="county").count() >= 4
    assert Department.objects.filter(is_bureau=True).count() == 1
    assert set(User.objects.values_list("username", flat=True)) >= CONTRACT_ACCOUNTS
    assert PlatformFlag.objects.get(key=PlatformFlag.DEMO_DATA).value == "1"


def test_demo_accounts_have_the_documented_password():
    call_command("demo", stdout=io.StringIO())
    for username in CONTRACT_ACCOUNTS:
        assert User.objects.get(username=username).check_password("tongban-demo"), username
    admin = User.objects.get(username="bureau-admin")
    assert set(admin.role_assignments.values_list("role", flat=True)) == {"bureau_admin", "cdo"}
    assert Citizen.objects.get(user__username="citizen-demo")
    assert Enterprise.objects.get(user__username="enterprise-demo")
