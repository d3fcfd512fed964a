"""Identity services and authorization helpers, below the HTTP layer."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password, make_password

from tests.identity.factories import make_citizen_user, make_department, make_official
from tongban.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity import access, services, tokens
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.site import settings as production_settings

pytestmark = pytest.mark.django_db


def test_production_hashes_passwords_with_argon2(settings):
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS  # the suite uses a fast hasher
    encoded = make_password("Strong-Pass-2026")
    assert encoded.startswith("argon2$argon2id$")
    assert check_password("Strong-Pass-2026", encoded)


def test_password_rules_explain_each_broken_rule():
    with pytest.raises(InvalidInput) as caught:
        services.check_password_strength("abcdefgh")
    error = caught.value
    assert error.code == "weak_password"
    assert {"password_too_short", "password_too_simple"} <= set(error.details["rules"])
    assert "密码强度不足" in error.message_zh and "too weak" in error.message_en


def test_strong_password_passes():
    services.check_password_strength("Tongban-Strong-2026")


def test_actor_of_official_carries_department_and_roles():
    boss = make_official("boss", make_department("bureau", is_bureau=True), ["bureau_admin", "cdo"])
    actor = actor_for_user(boss)
    assert actor.kind == "official" and actor.is_bureau and actor.department_code == "bureau"
    assert actor.roles == {"bureau_admin", "cdo"}
    assert actor.scopes is None and actor.allows("exchange:query")


def test_citizen_has_no_roles_even_if_rows_exist():
    user = make_citizen_user()
    user.role_assignments.create(role="bureau_admin")  # a stray row must not make a citizen an admin
    assert actor_for_user(user).roles == frozenset()


def test_require_helpers_deny_by_default():
    with pytest.raises(NotAuthenticated):
        access.require_role(ANONYMOUS, "steward")
    steward = actor_for_user(make_official("s", make_department("market"), ["steward"]))
    access.require_role(steward, "steward", "approver")
    with pytest.raises(PermissionDenied):
        access.require_role(steward, "approver")


def test_other_departments_object_is_not_found_but_bureau_sees_it():
    market, health = make_department("market"), make_department("health")
    steward = actor_for_user(make_official("s", market, ["steward"]))
    access.require_same_department(steward, market.pk)
    with pytest.raises(NotFound):
        access.require_same_department(steward, health.pk)
    with pytest.raises(NotFound):
        access.require_same_department(steward, None)
    bureau = actor_for_user(make_official("b", make_department("bureau", is_bureau=True), ["cdo"]))
    access.require_same_department(bureau, health.pk)
    with pytest.raises(NotFound):
        access.require_same_department(bureau, health.pk, bureau_sees_all=False)


def test_system_actor_limited_to_its_scopes():
    market = make_department("market")
    steward = actor_for_user(make_official("s", market, ["steward"]))
    issued = tokens.create_system_token(steward, name="sys", scopes=["exchange:verify"], expires_in_days=10)
    actor = tokens.actor_for_bearer(issued.key)
    assert actor.kind == "system" and actor.department_id == market.pk
    access.require_scope(actor, "exchange:verify")
    with pytest.raises(PermissionDenied):
        access.require_scope(actor, "exchange:query")


@pytest.mark.parametrize("days", [0, -1, 367])
def test_system_token_expiry_bounds(days):
    steward = actor_for_user(make_official("s", make_department("market"), ["steward"]))
    with pytest.raises(InvalidInput):
        tokens.create_system_token(steward, name="sys", scopes=["exchange:verify"], expires_in_days=days)


def test_unknown_bearer_and_tampered_key_give_no_actor():
    steward = actor_for_user(make_official("s", make_department("market"), ["steward"]))
    issued = tokens.create_system_token(steward, name="sys", scopes=["exchange:verify"], expires_in_days=10)
    assert tokens.actor_for_bearer(issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B")) is None
    assert tokens.actor_for_bearer("") is None
