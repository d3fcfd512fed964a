"""Grants: state, revocation (immediate), narrowing, visibility."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import transaction
from django.utils import timezone

from tests.exchange.factories import official
from tests.exchange.factories_requests import approved_grant
from tongban.core import generations
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import Grant
from tongban.exchange.services import grants
from tongban.identity.access import Actor
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def last_payload(action: str) -> dict:
    return json.loads(bytes(LedgerEvent.objects.filter(action=action).order_by("-id").first().entry))["payload"]


def test_factory_builds_an_active_grant():
    grant = approved_grant("civil", "health", modes=["verify"], items=["id_number", "name", "sex"],
                           clear_items=["sex"], rate_limit_per_minute=60)
    assert grant.provider.code == "civil" and grant.consumer.code == "health"
    assert grant.modes == ["verify"] and grant.items == ["id_number", "name", "sex"]
    assert grant.clear_items == ["sex"] and grant.rate_limit_per_minute == 60
    assert grants.grant_state(grant) == "active"


def test_grant_state_over_time():
    grant = approved_grant()
    now = timezone.now()
    assert grants.grant_state(grant, grant.starts_at - datetime.timedelta(seconds=1)) == "not_started"
    assert grants.grant_state(grant, grant.expires_at) == "expired"
    assert grants.grant_state(grant, now) == "active"
    grant.status = Grant.Status.REVOKED
    assert grants.grant_state(grant, now) == "revoked"


def test_revocation_takes_effect_at_once():
    grant = approved_grant("civil", "health")
    before = generations.current()
    with pytest.raises(InvalidInput):
        with transaction.atomic():
            grants.revoke_grant(official("civil", "approver"), grant.pk, " ")
    with transaction.atomic():
        revoked = grants.revoke_grant(official("civil", "approver"), grant.pk, "业务已办结")
    assert revoked.status == "revoked" and revoked.revoke_reason == "业务已办结" and revoked.revoked_at
    assert grants.grant_state(Grant.objects.get(pk=grant.pk)) == "revoked"
    assert generations.current() > before
    assert last_payload(grants.GRANT_REVOKED)["grant"] == grant.pk
    assert not grants.list_grants(official("health", "clerk"), active_only=True).exists()
    with pytest.raises(Conflict) as again:
        with transaction.atomic():
            grants.revoke_grant(official("civil", "approver"), grant.pk, "再次撤销")
    assert again.value.code == "grant_revoked"


def test_the_bureau_may_revoke_but_not_the_consumer_or_others():
    grant = approved_grant("civil", "health")
    for actor, error in ((official("health", "approver"), PermissionDenied),
                         (official("civil", "clerk"), PermissionDenied),
                         (official("bureau", "auditor", is_bureau=True), PermissionDenied),
                         (official("hr", "approver"), NotFound)):
        with pytest.raises(error):
            with transaction.atomic():
                grants.revoke_grant(actor, grant.pk, "撤销")
    with transaction.atomic():
        grants.revoke_grant(official("bureau", "cdo", is_bureau=True), grant.pk, "违规使用")
    assert Grant.objects.get(pk=grant.pk).status == "revoked"


def test_update_narrows_only():
    grant = approved_grant("civil", "health", items=["id_number", "name", "sex"])
    steward = official("civil", "steward")
    before = generations.current()
    sooner = grant.expires_at - datetime.timedelta(days=30)
    with transaction.atomic():
        updated = grants.update_grant(steward, grant.pk, clear_items=["name", "sex"], rate_limit_per_minute=120,
                                      expires_at=sooner)
    assert updated.clear_items == ["name", "sex"] and updated.rate_limit_per_minute == 120
    assert updated.expires_at == sooner and generations.current() > before
    assert last_payload(grants.GRANT_UPDATED)["changed"] == ["clear_items", "expires_at", "rate_limit_per_minute"]
    with pytest.raises(InvalidInput) as longer:
        with transaction.atomic():
            grants.update_grant(steward, grant.pk, expires_at=sooner + datetime.timedelta(days=1))
    assert longer.value.code == "expiry_extended"
    with pytest.raises(InvalidInput) as before_start:
        with transaction.atomic():
            grants.update_grant(steward, grant.pk, expires_at=grant.starts_at - datetime.timedelta(days=1))
    assert before_start.value.code == "invalid_expiry"
    with pytest.raises(InvalidInput) as clear:
        with transaction.atomic():
            grants.update_grant(steward, grant.pk, clear_items=["phone"])
    assert clear.value.code == "invalid_clear_items"
    # Ending it now is an early expiry: the state changes at once.
    with transaction.atomic():
        grants.update_grant(steward, grant.pk, expires_at=timezone.now())
    assert grants.grant_state(Grant.objects.get(pk=grant.pk)) == "expired"
    count = LedgerEvent.objects.filter(action=grants.GRANT_UPDATED).count()
    with transaction.atomic():  # no change: no entry
        grants.update_grant(steward, grant.pk, rate_limit_per_minute=120)
    assert LedgerEvent.objects.filter(action=grants.GRANT_UPDATED).count() == count


def test_update_by_the_provider_only_and_not_when_revoked():
    grant = approved_grant("civil", "health")
    for actor, error in ((official("health", "steward"), PermissionDenied),
                         (official("bureau", "bureau_admin", is_bureau=True), PermissionDenied),
                         (official("civil", "clerk"), PermissionDenied),
                         (official("hr", "steward"), NotFound)):
        with pytest.raises(error):
            with transaction.atomic():
                grants.update_grant(actor, grant.pk, rate_limit_per_minute=10)
    with transaction.atomic():
        grants.revoke_grant(official("civil", "approver"), grant.pk, "撤销")
    with pytest.raises(Conflict):
        with transaction.atomic():
            grants.update_grant(official("civil", "steward"), grant.pk, rate_limit_per_minute=10)


def test_list_visibility_and_filters():
    civil_to_health = approved_grant("civil", "health")
    health_to_civil = approved_grant("health", "civil")
    market_to_hr = approved_grant("market", "hr")
    ids = lambda rows: {g.pk for g in rows}  # noqa: E731
    civil = official("civil", "clerk")
    assert ids(grants.list_grants(civil)) == {civil_to_health.pk, health_to_civil.pk}
    assert ids(grants.list_grants(civil, side="provider")) == {civil_to_health.pk}
    assert ids(grants.list_grants(civil, side="consumer")) == {health_to_civil.pk}
    assert ids(grants.list_grants(official("transport", "steward"))) == set()
    assert ids(grants.list_grants(official("bureau", is_bureau=True))) == {
        civil_to_health.pk, health_to_civil.pk, market_to_hr.pk}
    system = Actor(kind="system", username="system:hr", department_id=market_to_hr.consumer_id,
                   department_code="hr", scopes=frozenset({"exchange:query"}))
    assert ids(grants.list_grants(system)) == {market_to_hr.pk}
    with pytest.raises(NotFound):
        grants.get_grant(civil, market_to_hr.pk)
    with pytest.raises(PermissionDenied):
        grants.list_grants(Actor(kind="citizen", username="c", user_id=1))
    Grant.objects.filter(pk=health_to_civil.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert ids(grants.list_grants(civil, active_only=True)) == {civil_to_health.pk}
