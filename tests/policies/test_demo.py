"""The policy demo: ≥ 10 published policies with rules, enterprise-demo matching several (DESIGN
§7) with reasons, a 免申即享 grant in its inbox, idempotent, and every count the demo stored equal
to the row-by-row evaluation of the same rules over the same profiles."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tongban.core import jsonlogic
from tongban.core.models import Notification
from tongban.identity.access import actor_for_user
from tongban.identity.models import User
from tongban.ledger.models import LedgerEvent
from tongban.policies import profiles
from tongban.policies.models import BenefitGrant, Delivery, EligibilityRule, MatchRun, Policy
from tongban.policies.services import matching

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    from tongban.credentials import issuer_keys

    issuer_keys._load.cache_clear()
    call_command("demo", stdout=io.StringIO())
    yield
    issuer_keys._load.cache_clear()


def _counts():
    return (Policy.objects.count(), EligibilityRule.objects.count(), MatchRun.objects.count(),
            Delivery.objects.count(), BenefitGrant.objects.count(), Notification.objects.count())


def test_demo_policies_match_enterprise_demo_and_load_twice(loaded):
    published = Policy.objects.filter(status=Policy.Status.PUBLISHED)
    assert published.count() >= 10
    assert {p.mode for p in published} == {"apply", "auto_grant", "notify"}
    assert {p.target for p in published} == {"enterprise", "citizen"}

    user = User.objects.get(username="enterprise-demo")
    mine = matching.my_policies(actor_for_user(user), matched_only=True)
    assert len(mine) >= 3
    for entry in mine:
        assert entry["reasons"] and all(reason["passed"] for reason in entry["reasons"])
    grant = BenefitGrant.objects.get(delivery__user=user)
    assert grant.amount > 0
    assert Notification.objects.filter(user=user, category="policy").count() == Delivery.objects.filter(user=user).count()
    assert LedgerEvent.objects.filter(action="policies.granted").count() == BenefitGrant.objects.count()

    before = _counts()
    call_command("demo", stdout=io.StringIO())
    assert _counts() == before


def test_stored_match_counts_equal_row_by_row(loaded):
    """The bulk (compiled, set-wise) counts the demo stored agree with evaluating each rule one
    profile at a time over the same subjects."""
    by_target = {target: [p for _, p in profiles.iter_profiles(target)] for target in ("enterprise", "citizen")}
    for run in MatchRun.objects.select_related("policy"):
        rule = EligibilityRule.objects.get(policy=run.policy, version=run.rule_version)
        expected = sum(1 for profile in by_target[run.policy.target]
                       if jsonlogic.truthy(jsonlogic.evaluate(rule.logic, profile)))
        assert run.matched == expected, run.policy.code
