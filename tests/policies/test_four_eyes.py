"""Four-eyes (双人复核) on money: a 免申即享 policy is published, and a new rule version of one is
confirmed, only by an official other than the ones who wrote it — and grants nothing before."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - fixture
from tongban.core.errors import Conflict, NotFound, PermissionDenied
from tongban.policies.models import BenefitGrant, EligibilityRule, Policy
from tongban.policies.services import matching, rules
from tongban.policies.services import policies as services

pytestmark = pytest.mark.django_db

GRANTING = {"mode": "auto_grant", "benefit_amount": "3000.00"}


def _auto_grant_draft(author):
    draft = services.create_policy(f.actor(author), f.policy_data(**GRANTING))
    rules.set_rule(f.actor(author), draft.pk, f.SMALL_FIRM_RULE)
    return draft


def _refused(call) -> Conflict:
    with pytest.raises(Conflict) as caught:
        call()
    assert caught.value.code == "second_official_required"
    assert "双人复核" in caught.value.message_zh and "four-eyes" in caught.value.message_en
    return caught.value


# --- publishing ---------------------------------------------------------------------------------------------------


def test_the_drafter_cannot_publish_an_auto_grant_policy():
    author = f.steward("hr")
    draft = _auto_grant_draft(author)
    error = _refused(lambda: services.publish(f.actor(author), draft.pk))
    assert error.details["authors"] == [author.username]
    draft.refresh_from_db()
    assert draft.status == Policy.Status.DRAFT
    assert not f.ledger_entries(services.PUBLISHED)


def test_neither_can_the_rule_author_or_the_last_editor():
    drafter, rule_author, editor = f.steward("hr"), f.approver("hr"), f.dept_admin("hr")
    draft = services.create_policy(f.actor(drafter), f.policy_data(**GRANTING))
    rules.set_rule(f.actor(rule_author), draft.pk, f.SMALL_FIRM_RULE)
    _refused(lambda: services.publish(f.actor(rule_author), draft.pk))
    services.update_policy(f.actor(editor), draft.pk, {"benefit_amount": "4000.00"})
    _refused(lambda: services.publish(f.actor(editor), draft.pk))
    _refused(lambda: services.publish(f.actor(drafter), draft.pk))
    assert Policy.objects.get(pk=draft.pk).status == Policy.Status.DRAFT


def test_a_second_official_publishes_and_confirms_the_rule():
    author, second = f.steward("hr"), f.approver("hr")
    draft = _auto_grant_draft(author)
    published = services.publish(f.actor(second), draft.pk)
    assert published.status == Policy.Status.PUBLISHED
    rule = EligibilityRule.objects.get(policy=draft, is_current=True)
    assert rule.confirmed_by == second.username and rule.confirmed_at == published.published_at
    (entry,) = f.ledger_entries(services.PUBLISHED)
    assert entry["actor"] == second.username
    assert entry["payload"]["drafted_by"] == author.username and entry["payload"]["rule_by"] == author.username


def test_a_notice_only_policy_needs_no_second_official():
    author = f.steward("hr")
    draft = services.create_policy(f.actor(author), f.policy_data())
    rules.set_rule(f.actor(author), draft.pk, f.SMALL_FIRM_RULE)
    assert services.publish(f.actor(author), draft.pk).status == Policy.Status.PUBLISHED


# --- a new rule version of a published auto-grant policy ----------------------------------------------------------


@pytest.fixture
def firms():
    return [f.enterprise("甲小微", employees=30, insured_count=28), f.enterprise("乙微型", employees=8, insured_count=12)]


def _granted(policy) -> int:
    return matching.run_match([policy.pk], created_by="po-test")["policies"][policy.code]["granted"]


def test_a_new_version_grants_nothing_until_a_second_official_confirms_it(data_dir, firms):  # noqa: F811
    policy = f.policy("hr", mode="auto_grant", benefit_amount=Decimal("3000.00"), rule={"==": [1, 0]})
    author, second = f.steward("hr"), f.approver("hr")
    rule = rules.set_rule(f.actor(author), policy.pk, f.SMALL_FIRM_RULE)
    assert rules.needs_confirmation(policy, rule)
    (entry,) = f.ledger_entries(rules.RULE_SET)
    assert entry["payload"]["needs_confirmation"] is True
    assert _granted(policy) == 0  # matched, but nothing paid under an unconfirmed version
    assert not BenefitGrant.objects.exists()

    _refused(lambda: rules.confirm_rule(f.actor(author), policy.pk, rule.version))
    confirmed = rules.confirm_rule(f.actor(second), policy.pk, rule.version)
    assert confirmed.confirmed_by == second.username
    (entry,) = f.ledger_entries(rules.RULE_CONFIRMED)
    assert entry["actor"] == second.username and entry["payload"] == {"version": 2, "set_by": author.username}
    assert _granted(policy) == 2
    assert BenefitGrant.objects.filter(policy=policy).count() == 2


def test_confirming_what_needs_no_confirmation_or_an_old_version_is_409():
    granting = f.policy("hr", mode="auto_grant")
    second = f.approver("hr")
    with pytest.raises(Conflict) as caught:  # the factory's version 1 was confirmed when published
        rules.confirm_rule(f.actor(second), granting.pk, 1)
    assert caught.value.code == "illegal_transition"
    rules.set_rule(f.actor(f.steward("hr")), granting.pk, f.SMALL_FIRM_RULE)
    with pytest.raises(Conflict) as caught:
        rules.confirm_rule(f.actor(second), granting.pk, 1)
    assert caught.value.code == "not_current_version" and caught.value.details == {"current": 2}
    notify = f.policy("hr")
    rules.set_rule(f.actor(f.steward("hr")), notify.pk, f.SMALL_FIRM_RULE)
    with pytest.raises(Conflict) as caught:  # money is not at stake: nothing to confirm
        rules.confirm_rule(f.actor(second), notify.pk, 2)
    assert caught.value.code == "illegal_transition"


def test_only_the_issuing_departments_editors_confirm():
    granting = f.policy("hr", mode="auto_grant")
    rules.set_rule(f.actor(f.steward("hr")), granting.pk, f.SMALL_FIRM_RULE)
    with pytest.raises(PermissionDenied):
        rules.confirm_rule(f.actor(f.steward("civil")), granting.pk, 2)
    with pytest.raises(PermissionDenied):
        rules.confirm_rule(f.actor(f.clerk("hr")), granting.pk, 2)
    draft = f.policy("hr", status=Policy.Status.DRAFT, mode="auto_grant")
    with pytest.raises(NotFound):
        rules.confirm_rule(f.actor(f.steward("civil")), draft.pk, 1)
    assert not EligibilityRule.objects.filter(policy=granting, version=2).exclude(confirmed_by="").exists()


def test_an_upgrade_keeps_published_rules_in_force():
    migration = importlib.import_module("tongban.policies.migrations.0002_four_eyes")
    granting = f.policy("hr", mode="auto_grant")
    draft = f.policy("hr", status=Policy.Status.DRAFT, mode="auto_grant")
    EligibilityRule.objects.update(confirmed_by="", confirmed_at=None)
    migration.confirm_rules_in_force(apps, None)
    assert EligibilityRule.objects.get(policy=granting).confirmed_by == "pre-four-eyes"
    assert EligibilityRule.objects.get(policy=draft).confirmed_by == ""


# --- API and page -------------------------------------------------------------------------------------------------


def test_confirm_through_the_api(client):
    granting = f.policy("hr", mode="auto_grant")
    author, second = f.steward("hr"), f.approver("hr")
    rules.set_rule(f.actor(author), granting.pk, f.SMALL_FIRM_RULE)
    path = f"/api/v1/policies/{granting.pk}"
    assert client.get(path, **f.auth(client, second)).json()["rule_awaits_confirmation"] is True
    refused = f.post(client, f"{path}/rule/confirm", {"version": 2}, **f.auth(client, author))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "second_official_required"
    done = f.post(client, f"{path}/rule/confirm", {"version": 2}, **f.auth(client, second))
    assert done.status_code == 200, done.content
    assert done.json()["confirmed_by"] == second.username and done.json()["version"] == 2
    assert client.get(path).json()["rule_awaits_confirmation"] is False


def test_the_workbench_offers_confirmation_to_the_second_official_only(client):
    granting = f.policy("hr", mode="auto_grant")
    author, second = f.steward("hr"), f.approver("hr")
    rules.set_rule(f.actor(author), granting.pk, f.SMALL_FIRM_RULE)
    page = f"/workbench/policies/{granting.pk}/"
    client.force_login(author)
    text = client.get(page).content.decode()
    assert 'data-testid="rule-awaits-confirmation"' in text and 'data-testid="confirm-rule"' not in text
    client.force_login(second)
    text = client.get(page).content.decode()
    assert 'data-testid="confirm-rule"' in text
    response = client.post(f"{page}rule/confirm/", {"version": "2"})
    assert response.status_code == 302
    assert EligibilityRule.objects.get(policy=granting, version=2).confirmed_by == second.username
    assert 'data-testid="rule-awaits-confirmation"' not in client.get(page).content.decode()
