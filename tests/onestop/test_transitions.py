"""The window and the parallel review: every transition, every illegal one (409), roles and
other departments, the working-day deadline, supplement round trips, overdue sweeps, queues."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import CalendarDay, Notification
from tongban.identity.access import Actor
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application, ApplicationEvent
from tongban.onestop.services import applications as apps
from tongban.onestop.services import transitions, window

pytestmark = pytest.mark.django_db
MONDAY = datetime.date(2026, 11, 23)


def act(user):
    return f.actor(user)


def statuses(application):
    return [(e.from_status, e.to_status) for e in apps.timeline(application)]


def test_the_state_table_is_closed():
    for source, targets in transitions.ALLOWED.items():
        assert source in Application.Status.values
        assert targets <= set(Application.Status.values)
    assert transitions.FINAL == {s for s, t in transitions.ALLOWED.items() if not t}


def test_accept_sets_the_deadline_in_working_days_and_opens_parallel_tasks(monkeypatch):
    monkeypatch.setattr(transitions, "today", lambda: MONDAY)
    CalendarDay.objects.create(date=MONDAY + datetime.timedelta(days=2), kind=CalendarDay.Kind.HOLIDAY, name="test")
    item = f.service_item("market", co_departments=("health",), promised_days=5)
    application, user = fa.submitted(item)
    accepted = apps.accept(act(f.clerk("market")), application.number)
    # Mon + 5 working days, Wednesday off: Tue, Thu, Fri, Mon, Tue
    assert accepted.due_on == datetime.date(2026, 12, 1)
    assert accepted.status == "under_review" and accepted.accepted_at
    assert sorted(accepted.tasks.values_list("department__code", "status")) == [("health", "pending"),
                                                                              ("market", "pending")]
    assert statuses(accepted)[-2:] == [("submitted", "accepted"), ("accepted", "under_review")]
    assert {"onestop.accepted", "onestop.review_started"} <= set(LedgerEvent.objects.values_list("action", flat=True))
    titles = list(Notification.objects.filter(user=user).values_list("title_zh", flat=True))
    assert any("已受理" in t for t in titles) and any("进入审查" in t for t in titles)
    assert not window.overdue(accepted, on=datetime.date(2026, 12, 1))
    assert window.overdue(accepted, on=datetime.date(2026, 12, 2))


def test_window_roles_and_departments():
    application, user = fa.submitted(f.service_item("market", co_departments=("health",)))
    with pytest.raises(NotFound):
        apps.accept(act(f.clerk("hr")), application.number)  # another department: not found
    with pytest.raises(PermissionDenied):
        apps.accept(act(f.clerk("health")), application.number)  # co-handling sees it, but the window is market's
    with pytest.raises(PermissionDenied):
        apps.accept(act(f.steward("market")), application.number)  # no clerk/approver role
    with pytest.raises(PermissionDenied):
        apps.accept(act(user), application.number)  # the applicant sees it, but is no clerk
    with pytest.raises(NotFound):
        apps.accept(act(f.citizen_applicant()[0]), application.number)
    system = Actor(kind="system", username="system:window", department_id=application.item.department_id,
                   department_code="market", scopes=frozenset({"onestop:applications"}))
    assert apps.accept(system, application.number).status == "under_review"


def test_refuse_needs_a_reason():
    application, user = fa.submitted(f.service_item("civil"))
    clerk = act(f.clerk("civil"))
    with pytest.raises(InvalidInput) as no_reason:
        apps.refuse(clerk, application.number, "  ")
    assert no_reason.value.code == "reason_required"
    refused = apps.refuse(clerk, application.number, "不属于本部门受理范围")
    assert refused.status == "refused" and refused.reason == "不属于本部门受理范围" and refused.decided_at
    entry = LedgerEvent.objects.get(action="onestop.refused")
    assert "不属于".encode() not in bytes(entry.entry)  # only the reason's hash
    with pytest.raises(Conflict) as late:
        apps.accept(clerk, application.number)
    assert late.value.code == "illegal_transition" and late.value.details["from"] == "refused"


def test_supplement_round_trip_lists_all_problems():
    form = [{"key": "reason", "label": "申请事由", "type": "text", "required": True},
            {"key": "phone", "label": "联系电话", "type": "text"}]
    item = f.service_item("civil", form_schema=form, materials=[{"source": "upload", "name": "身份证复印件",
                                                                 "necessity": "optional"}])
    material = item.materials.get()
    application, user = fa.submitted(item)
    clerk = act(f.clerk("civil"))
    with pytest.raises(InvalidInput) as empty:
        apps.request_supplement(clerk, application.number, [])
    assert empty.value.code == "invalid_supplement"
    with pytest.raises(InvalidInput) as bad:
        apps.request_supplement(clerk, application.number, [
            {"field": "nope", "reason": "x"}, {"material": 999999, "reason": "x"}, {"field": "reason"},
            {"field": "reason", "material": material.pk, "reason": "x"}])
    assert [p["index"] for p in bad.value.details["problems"]] == [0, 1, 2, 3]
    problems = [{"field": "reason", "reason": "事由不清楚"}, {"field": "phone", "reason": "请填写联系电话"},
                {"material": material.pk, "reason": "复印件模糊"}]
    asked = apps.request_supplement(clerk, application.number, problems)
    assert asked.status == "supplement_requested"
    assert asked.supplement == [{"field": "reason", "label": "申请事由", "reason": "事由不清楚"},
                                {"field": "phone", "label": "联系电话", "reason": "请填写联系电话"},
                                {"material": material.pk, "name": "身份证复印件", "reason": "复印件模糊"}]
    notice = Notification.objects.filter(user=user, title_zh__contains="补正").get()
    assert "事由不清楚" in notice.body_zh and "复印件模糊" in notice.body_zh
    with pytest.raises(Conflict):
        apps.accept(clerk, application.number)  # waiting for the applicant
    apps.save_form(act(user), application.number, {"reason": "为父亲办理", "phone": "13800000000"})
    again = apps.submit(act(user), application.number)
    assert again.status == "submitted"
    assert statuses(again)[-2:] == [("submitted", "supplement_requested"), ("supplement_requested", "submitted")]
    assert apps.accept(clerk, application.number).status == "under_review"


def test_parallel_review_is_approved_only_after_every_department():
    item = f.service_item("market", co_departments=("health",), certificate_type="food_test_licence")
    application, user = fa.under_review(item)
    market_task = application.tasks.get(department__code="market")
    health_task = application.tasks.get(department__code="health")
    with transaction.atomic():
        apps.decide_task(act(f.approver("market")), market_task.pk, approve=True, opinion="符合条件")
    application.refresh_from_db()
    assert application.status == "under_review"
    with pytest.raises(Conflict) as twice:
        apps.decide_task(act(f.approver("market")), market_task.pk, approve=True, opinion="再次")
    assert twice.value.code == "task_not_pending"
    with pytest.raises(NotFound):
        apps.decide_task(act(f.approver("market")), health_task.pk, approve=True, opinion="越权")
    with pytest.raises(PermissionDenied):
        apps.decide_task(act(f.steward("health")), health_task.pk, approve=True, opinion="无角色")
    with pytest.raises(InvalidInput) as no_opinion:
        apps.decide_task(act(f.approver("health")), health_task.pk, approve=True, opinion="")
    assert no_opinion.value.code == "opinion_required"
    with transaction.atomic():
        apps.decide_task(act(f.approver("health")), health_task.pk, approve=True, opinion="卫生条件合格")
    application.refresh_from_db()
    assert application.status == "completed" and application.completed_at and application.decided_at
    assert application.credential_id is not None
    from tongban.credentials import services as credentials
    wallet = credentials.my_credentials(act(user))
    assert [c.type.code for c in wallet] == ["food_test_licence"] and str(wallet[0].pk) == str(application.credential_id)
    assert statuses(application)[-4:] == [("under_review", "under_review"), ("under_review", "under_review"),
                                          ("under_review", "approved"), ("approved", "completed")]
    assert LedgerEvent.objects.filter(action="onestop.task_decided").count() == 2


def test_one_denial_denies_and_cancels_the_rest():
    application, user = fa.under_review()
    health_task = application.tasks.get(department__code="health")
    apps.decide_task(act(f.clerk("health")), health_task.pk, approve=False, opinion="经营场所不符合卫生要求")
    application.refresh_from_db()
    assert application.status == "denied" and "经营场所不符合卫生要求" in application.reason
    assert application.tasks.get(department__code="market").status == "cancelled"
    market_task = application.tasks.get(department__code="market")
    with pytest.raises(Conflict):
        apps.decide_task(act(f.approver("market")), market_task.pk, approve=True, opinion="晚了")
    with pytest.raises(Conflict):
        apps.withdraw(act(user), application.number)


@pytest.mark.parametrize("call", ["accept", "refuse", "supplement"])
def test_window_calls_on_a_draft_are_not_found_and_on_a_decided_one_illegal(call):
    item = f.service_item("civil")
    user, _ = f.citizen_applicant()
    draft = fa.start(user, item)
    clerk = act(f.clerk("civil"))
    run = {"accept": lambda n: apps.accept(clerk, n), "refuse": lambda n: apps.refuse(clerk, n, "理由"),
           "supplement": lambda n: apps.request_supplement(clerk, n, [{"field": "reason", "reason": "r"}])}[call]
    with pytest.raises(NotFound):
        run(draft.number)
    decided, _ = fa.submitted(item)
    apps.refuse(clerk, decided.number, "不予受理")
    with pytest.raises(Conflict) as illegal:
        run(decided.number)
    assert illegal.value.code == "illegal_transition" and illegal.value.details["from"] == "refused"


def test_every_illegal_move_is_refused_by_the_table():
    application, _user = fa.submitted(f.service_item("civil"))
    for target in Application.Status.values:
        if target in transitions.ALLOWED["submitted"]:
            continue
        with pytest.raises(Conflict) as error:
            transitions.move(application, target, actor="t", department=None)
        assert error.value.details == {"number": application.number, "from": "submitted", "to": target}
    assert Application.objects.get(pk=application.pk).status == "submitted"


def test_queues():
    market = f.service_item("market", co_departments=("health",))
    first, _ = fa.submitted(market)
    second, _ = fa.submitted(market)
    fa.submitted(f.service_item("hr"))
    clerk = act(f.clerk("market"))
    assert [a.number for a in apps.clerk_queue(clerk)] == [first.number, second.number]
    apps.accept(clerk, first.number)
    assert [a.number for a in apps.clerk_queue(clerk)] == [second.number]
    assert [t.application.number for t in apps.task_queue(act(f.approver("health")))] == [first.number]
    assert [t.application.number for t in apps.task_queue(act(f.approver("market")))] == [first.number]
    assert list(apps.task_queue(act(f.approver("hr")))) == []
    with pytest.raises(PermissionDenied):
        apps.clerk_queue(act(f.steward("market")))
    with pytest.raises(PermissionDenied):
        apps.task_queue(act(f.citizen_applicant()[0]))


def test_overdue_sweep_flags_new_ones_once(monkeypatch):
    monkeypatch.setattr(transitions, "today", lambda: MONDAY)
    application, _user = fa.under_review(f.service_item("market", promised_days=1))
    assert application.due_on == MONDAY + datetime.timedelta(days=1)
    clerks = Notification.objects.filter(category="onestop.overdue")
    assert window.sweep_overdue_applications.call_local() == 0
    monkeypatch.setattr(transitions, "today", lambda: MONDAY + datetime.timedelta(days=3))
    assert window.sweep_overdue_applications.call_local() == 1
    assert LedgerEvent.objects.filter(action="onestop.applications_overdue").count() == 1
    assert clerks.count() >= 1
    assert window.sweep_overdue_applications.call_local() == 1  # nothing new: no second entry
    assert LedgerEvent.objects.filter(action="onestop.applications_overdue").count() == 1
    application.refresh_from_db()
    assert window.overdue(application)


def test_every_transition_is_an_event_a_ledger_entry_and_a_notice():
    application, user = fa.under_review(f.service_item("market"))
    task = application.tasks.get()
    apps.decide_task(act(f.approver("market")), task.pk, approve=True, opinion="同意")
    application.refresh_from_db()
    moves = ApplicationEvent.objects.filter(application=application).exclude(from_status="").exclude(
        from_status__in=["under_review"], to_status="under_review")
    expected = [("draft", "submitted"), ("submitted", "accepted"), ("accepted", "under_review"),
                ("under_review", "approved"), ("approved", "completed")]
    assert [(e.from_status, e.to_status) for e in moves] == expected
    actions = list(LedgerEvent.objects.filter(subject=f"application:{application.number}")
                   .values_list("action", flat=True).order_by("id"))
    assert actions == ["onestop.started", "onestop.submitted", "onestop.accepted", "onestop.review_started",
                       "onestop.task_decided", "onestop.approved", "onestop.completed"]
    assert Notification.objects.filter(user=user, category="onestop.application").count() == len(expected)
