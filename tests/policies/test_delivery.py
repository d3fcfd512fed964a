"""The beneficiary's side: one-click application (一键申报) re-checks the live profile and starts the
service item's application; ratings (评价) once per delivery, 1–5."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from tests.policies import factories as f
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import Record
from tongban.ledger import services as ledger
from tongban.onestop.models import Application
from tongban.policies.models import Delivery, Policy, PolicyRating
from tongban.policies.services import delivery

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()


@pytest.fixture
def one_click():
    return f.policy("hr", mode="apply", apply_from=TODAY - datetime.timedelta(days=10),
                    apply_until=TODAY + datetime.timedelta(days=20))


def test_not_eligible_is_409_with_the_reasons_and_no_application(one_click):
    firm = f.enterprise(employees=500, insured_count=480)
    with pytest.raises(Conflict) as caught:
        delivery.apply(f.actor(firm.user), one_click.pk)
    assert caught.value.code == "not_eligible"
    reasons = caught.value.details["reasons"]
    assert [r["passed"] for r in reasons] == [False, True, True] and "企业规模" in reasons[0]["condition"]
    assert not Application.objects.exists() and not Delivery.objects.exists()
    assert not f.ledger_entries(delivery.APPLIED)


def test_eligible_starts_a_draft_of_the_service_item(one_click):
    firm = f.enterprise()
    application = delivery.apply(f.actor(firm.user), one_click.pk, language="en")
    assert application.status == Application.Status.DRAFT and application.item.code == one_click.service_item
    assert application.applicant_id == firm.user_id and application.subject == firm.uscc
    item = Delivery.objects.get(policy=one_click)
    assert item.status == Delivery.Status.APPLIED and item.application_number == application.number
    assert item.subject == firm.uscc and item.rule_version == 1 and item.viewed_at and item.handled_at
    assert item.due_on == one_click.apply_until and "Size class" in item.reasons[0]["condition"]
    (entry,) = f.ledger_entries(delivery.APPLIED)
    assert entry["payload"] == {"application": application.number, "rule_version": 1}
    assert entry["hashes"] == [ledger.subject_hash(firm.uscc)] and firm.uscc not in entry["raw"]
    again = delivery.apply(f.actor(firm.user), one_click.pk)  # the same draft, recorded once
    assert again.pk == application.pk and len(f.ledger_entries(delivery.APPLIED)) == 1


def test_applying_after_a_delivery_marks_that_delivery_applied(one_click):
    firm = f.enterprise()
    notified = Delivery.objects.create(policy=one_click, user=firm.user, subject=firm.uscc, rule_version=1,
                                       reasons=[], notified_at=timezone.now(), due_on=one_click.apply_until)
    application = delivery.apply(f.actor(firm.user), one_click.pk)
    notified.refresh_from_db()
    assert notified.status == Delivery.Status.APPLIED and notified.application_number == application.number
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize(("start", "end"), [(5, 30), (-30, -1)])
def test_outside_the_application_window_is_409(start, end):
    policy = f.policy("hr", mode="apply", apply_from=TODAY + datetime.timedelta(days=start),
                      apply_until=TODAY + datetime.timedelta(days=end))
    with pytest.raises(Conflict) as caught:
        delivery.apply(f.actor(f.enterprise().user), policy.pk)
    assert caught.value.code == "outside_application_window"
    assert not Application.objects.exists()


def test_expired_policy_takes_no_application():
    policy = f.policy("hr", mode="apply", valid_until=TODAY - datetime.timedelta(days=1))
    with pytest.raises(Conflict) as caught:
        delivery.apply(f.actor(f.enterprise().user), policy.pk)
    assert caught.value.code == "outside_application_window"


def test_wrong_kind_or_mode_is_409(one_click):
    with pytest.raises(Conflict) as caught:
        delivery.apply(f.actor(f.citizen().user), one_click.pk)
    assert caught.value.code == "not_applicable"
    for mode in ("notify", "auto_grant"):
        with pytest.raises(Conflict) as caught:
            delivery.apply(f.actor(f.enterprise().user), f.policy("hr", mode=mode).pk)
        assert caught.value.code == "not_applicable"
    with pytest.raises(PermissionDenied):
        delivery.apply(f.actor(f.steward()), one_click.pk)


def test_a_draft_or_withdrawn_policy_is_not_found():
    for status in (Policy.Status.DRAFT, Policy.Status.WITHDRAWN):
        policy = f.policy("hr", mode="apply", status=status)
        with pytest.raises(NotFound):
            delivery.apply(f.actor(f.enterprise().user), policy.pk)


def test_an_account_without_a_registry_entry_is_not_found(one_click):
    from tongban.identity.models import User

    orphan = User.objects.create_user(username="orphan-firm", password=f.PASSWORD, kind=User.Kind.ENTERPRISE)
    with pytest.raises(NotFound):
        delivery.apply(f.actor(orphan), one_click.pk)


# --- ratings --------------------------------------------------------------------------------------------------------


def _delivered(policy=None):
    policy = policy or f.policy("hr")
    firm = f.enterprise()
    Delivery.objects.create(policy=policy, user=firm.user, subject=firm.uscc, rule_version=1, reasons=[],
                            notified_at=timezone.now())
    return policy, firm


def test_rating_once():
    policy, firm = _delivered()
    rating = delivery.rate(f.actor(firm.user), policy.pk, 5, "  很方便，没跑腿  ")
    assert (rating.score, rating.comment) == (5, "很方便，没跑腿")
    assert rating.delivery.subject == firm.uscc
    with pytest.raises(Conflict) as caught:
        delivery.rate(f.actor(firm.user), policy.pk, 4)
    assert caught.value.code == "already_rated"
    assert PolicyRating.objects.count() == 1


@pytest.mark.parametrize("score", [0, 6, -1, True, "5", 4.5, None])
def test_rating_is_1_to_5(score):
    policy, firm = _delivered()
    with pytest.raises(InvalidInput) as caught:
        delivery.rate(f.actor(firm.user), policy.pk, score)
    assert caught.value.code == "invalid_score"
    assert not PolicyRating.objects.exists()


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_every_score_of_the_scale(score):
    policy, firm = _delivered()
    assert delivery.rate(f.actor(firm.user), policy.pk, score).score == score


def test_rating_what_was_not_delivered_is_404():
    policy, _firm = _delivered()
    stranger = f.enterprise()
    with pytest.raises(NotFound):
        delivery.rate(f.actor(stranger.user), policy.pk, 5)
    with pytest.raises(NotFound):
        delivery.rate(f.actor(stranger.user), 999_999, 5)
    with pytest.raises(PermissionDenied):
        delivery.rate(f.actor(f.steward()), policy.pk, 5)


def test_one_click_twice_answers_the_application_in_progress(one_click):
    firm = f.enterprise()
    first = delivery.apply(f.actor(firm.user), one_click.pk)
    Application.objects.filter(pk=first.pk).update(status=Application.Status.SUBMITTED)
    again = delivery.apply(f.actor(firm.user), one_click.pk)
    assert again.pk == first.pk and Application.objects.count() == 1
    Application.objects.filter(pk=first.pk).update(status=Application.Status.WITHDRAWN)
    fresh = delivery.apply(f.actor(firm.user), one_click.pk)  # a withdrawn one may be made again
    assert fresh.pk != first.pk
    assert Delivery.objects.get(policy=one_click).application_number == fresh.number


def test_submission_rechecks_eligibility_and_the_window(one_click):
    from tongban.onestop.services import applications

    firm = f.enterprise()
    application = delivery.apply(f.actor(firm.user), one_click.pk)
    # Since applying, the firm fell into social-insurance arrears (the rule requires none).
    Record.objects.filter(resource_code="hr-00005", subject=firm.uscc).update(
        data={"uscc": firm.uscc, "insured_count": 28, "in_arrears": True})
    with pytest.raises(Conflict) as caught:
        applications.submit(f.actor(firm.user), application.number)
    assert caught.value.code == "not_eligible" and caught.value.details["reasons"]
    Policy.objects.filter(pk=one_click.pk).update(apply_until=TODAY - datetime.timedelta(days=1))
    with pytest.raises(Conflict) as caught:
        applications.submit(f.actor(firm.user), application.number)
    assert caught.value.code == "outside_application_window"
    application.refresh_from_db()
    assert application.status == Application.Status.DRAFT
