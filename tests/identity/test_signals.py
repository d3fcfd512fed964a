"""Role changes and deactivation move the access generation, so cached actors are dropped."""

from __future__ import annotations

import pytest

from tests.identity.factories import make_department, make_official
from tongban.core import generations
from tongban.identity.access import actor_for_user
from tongban.identity.models import RoleAssignment

pytestmark = pytest.mark.django_db


def test_giving_or_taking_a_role_bumps_the_generation():
    user = make_official("signal-clerk", make_department("market"), ["clerk"])
    before = generations.current()
    RoleAssignment.objects.create(user=user, role="approver")
    after_add = generations.current()
    RoleAssignment.objects.filter(user=user, role="clerk").delete()
    assert before < after_add < generations.current()
    assert actor_for_user(user).roles == frozenset({"approver"})


def test_deactivating_a_user_bumps_it_and_an_unrelated_save_does_not():
    user = make_official("signal-steward", make_department("civil"), ["steward"])
    before = generations.current()
    user.full_name = "新名字"
    user.save()
    assert generations.current() == before
    user.is_active = False
    user.save()
    assert generations.current() > before
