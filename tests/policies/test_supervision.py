"""Supervision (督查): the figures per policy, who sees which policies, and urging (督办)."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.policies import factories as f
from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.core.models import Notification
from tongban.onestop.models import Application
from tongban.policies.models import BenefitGrant, Delivery, MatchRun, Policy, PolicyRating, ProfileSnapshot
from tongban.policies.services import supervision

pytestmark = pytest.mark.django_db

TODAY = datetime.date.today()
_numbers = itertools.count(1)


def _run(policy, matched: int) -> MatchRun:
    snapshot = ProfileSnapshot.objects.create(target=policy.target, status=ProfileSnapshot.Status.READY,
                                              as_of=TODAY, created_by="test", rows=100)
    return MatchRun.objects.create(policy=policy, rule_version=1, snapshot=snapshot, matched=matched,
                                   created_by="test")


def _delivery(policy, *, status=Delivery.Status.NOTIFIED, viewed=False, application=None, amount=None,
              score=None, comment="") -> Delivery:
    firm = f.enterprise()
    now = timezone.now()
    item = Delivery.objects.create(policy=policy, user=firm.user, subject=firm.uscc, rule_version=1, reasons=[],
                                   status=status, notified_at=now, viewed_at=now if viewed else None)
    if application is not None:
        app_status, due = application
        number = f"TEST-{next(_numbers):06d}"
        Application.objects.create(number=number, item_id=_item(policy).pk, applicant=firm.user,
                                   subject=firm.uscc, status=app_status, due_on=due)
        item.application_number = number
        item.save(update_fields=["application_number"])
    if amount is not None:
        BenefitGrant.objects.create(policy=policy, delivery=item, subject=firm.uscc, amount=Decimal(amount),
                                    rule_version=1, granted_at=now)
    if score is not None:
        PolicyRating.objects.create(delivery=item, score=score, comment=comment)
    return item


def _item(policy):
    from tongban.onestop.models import ServiceItem

    return ServiceItem.objects.filter(code=policy.service_item).first() or f.service_item("hr")


@pytest.fixture
def busy():
    """An apply-mode policy: 6 matched (last run), 5 delivered, 3 viewed, 3 applied (one approved, one
    overdue, one in time); an auto-grant policy with 2 grants; ratings 5, 4, 2."""
    apply = f.policy("hr", mode="apply", title="一键申报政策")
    _run(apply, 4)
    _run(apply, 6)
    late, soon = TODAY - datetime.timedelta(days=2), TODAY + datetime.timedelta(days=5)
    _delivery(apply)
    _delivery(apply, status=Delivery.Status.VIEWED, viewed=True, score=5, comment="很方便")
    _delivery(apply, status=Delivery.Status.APPLIED, viewed=True, application=(Application.Status.APPROVED, late),
              score=4)
    overdue = _delivery(apply, status=Delivery.Status.APPLIED, viewed=True,
                        application=(Application.Status.SUBMITTED, late), score=2, comment="太慢")
    _delivery(apply, status=Delivery.Status.APPLIED, application=(Application.Status.ACCEPTED, soon))
    grant = f.policy("hr", mode="auto_grant", title="免申即享政策")
    _run(grant, 2)
    _delivery(grant, status=Delivery.Status.GRANTED, amount="3000.00")
    _delivery(grant, status=Delivery.Status.GRANTED, amount="1500.50")
    return {"apply": apply, "grant": grant, "overdue": overdue}


def test_figures(busy):
    out = supervision.figures(busy["apply"])
    assert (out["matched"], out["notified"], out["viewed"], out["applied"]) == (6, 5, 3, 3)
    assert (out["granted"], out["amount"], out["overdue"]) == (1, Decimal(0), 1)
    assert out["overdue_applications"] == [busy["overdue"].application_number]
    assert out["not_handled"] == 2
    assert (out["ratings"], out["rating_average"]) == (3, 3.67)
    assert out["rating_distribution"] == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    grants = supervision.figures(busy["grant"])
    assert (grants["matched"], grants["notified"], grants["granted"], grants["amount"]) == (2, 2, 2, Decimal("4500.50"))
    assert grants["rating_average"] is None and grants["overdue"] == 0


def test_figures_of_a_policy_never_matched():
    out = supervision.figures(f.policy("hr"))
    assert (out["matched"], out["last_run"], out["notified"], out["amount"]) == (0, None, 0, Decimal(0))


def test_dashboard_totals(busy):
    board = supervision.dashboard(f.actor(f.steward("hr")))
    assert {row["policy"].pk for row in board["policies"]} == {busy["apply"].pk, busy["grant"].pk}
    assert board["totals"]["notified"] == 7 and board["totals"]["granted"] == 3
    assert board["totals"]["amount"] == Decimal("4500.50") and board["totals"]["matched"] == 8


def test_department_sees_its_own_policies_only(busy):
    f.policy("civil", title="民政政策")
    f.policy("hr", status=Policy.Status.DRAFT)  # drafts are not supervised
    mine = supervision.dashboard(f.actor(f.approver("hr")))
    assert {row["policy"].department.code for row in mine["policies"]} == {"hr"} and len(mine["policies"]) == 2
    theirs = supervision.dashboard(f.actor(f.steward("civil")))
    assert [row["policy"].title for row in theirs["policies"]] == ["民政政策"]
    with pytest.raises(NotFound):
        supervision.policy_figures(f.actor(f.steward("civil")), busy["apply"].pk)
    assert supervision.policy_figures(f.actor(f.dept_admin("hr")), busy["apply"].pk)["notified"] == 5


@pytest.mark.parametrize("who", ["clerk", "citizen", "enterprise"])
def test_others_are_refused(busy, who):
    user = {"clerk": lambda: f.clerk("hr"), "citizen": lambda: f.citizen().user,
            "enterprise": lambda: f.enterprise().user}[who]()
    with pytest.raises(PermissionDenied):
        supervision.dashboard(f.actor(user))
    with pytest.raises(PermissionDenied):
        supervision.policy_figures(f.actor(user), busy["apply"].pk)


def test_oversight_reads_every_policy_with_comments(busy):
    f.policy("civil")
    for who in (f.auditor(), f.cdo(), f.bureau_admin()):
        assert len(supervision.dashboard(f.actor(who))["policies"]) == 3
    out = supervision.policy_figures(f.actor(f.auditor()), busy["apply"].pk)
    assert [(c["score"], c["comment"]) for c in out["comments"]] == [(2, "太慢"), (5, "很方便")]
    with pytest.raises(NotFound):
        supervision.policy_figures(f.actor(f.auditor()), 999_999)


# --- urging ---------------------------------------------------------------------------------------------------------


def test_urge_notifies_the_departments_officials_and_is_recorded(busy):
    officials = [f.steward("hr"), f.approver("hr"), f.dept_admin("hr")]
    clerk, elsewhere = f.clerk("hr"), f.steward("civil")
    admin = f.bureau_admin()
    sent = supervision.urge(f.actor(admin), busy["apply"].pk, "  请于五个工作日内办结逾期件  ")
    assert sent == 3
    for user in officials:
        (notice,) = Notification.objects.filter(user=user, category="policy_urge")
        assert notice.body_zh == "请于五个工作日内办结逾期件" and "一键申报政策" in notice.title_zh
        assert notice.link == f"/workbench/policies/{busy['apply'].pk}/supervision/"
    assert not Notification.objects.filter(user__in=[clerk, elsewhere]).exists()
    (entry,) = f.ledger_entries(supervision.URGED)
    assert entry["payload"] == {"note": "请于五个工作日内办结逾期件", "notified": 3}
    assert entry["actor"] == admin.username and entry["subject"] == f"policy:{busy['apply'].code}"
    assert supervision.urge(f.actor(f.cdo()), busy["grant"].pk, "复核") == 3


def test_only_bureau_admin_or_cdo_urges(busy):
    for who in (f.auditor(), f.steward("hr"), f.dept_admin("hr"), f.citizen().user):
        with pytest.raises(PermissionDenied):
            supervision.urge(f.actor(who), busy["apply"].pk, "请办结")
    admin = f.actor(f.bureau_admin())
    with pytest.raises(InvalidInput) as caught:
        supervision.urge(admin, busy["apply"].pk, "   ")
    assert caught.value.code == "reason_required"
    with pytest.raises(NotFound):
        supervision.urge(admin, f.policy("hr", status=Policy.Status.DRAFT).pk, "请办结")
    assert not f.ledger_entries(supervision.URGED)
