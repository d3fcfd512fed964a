"""Access requests: submission by sharing class, deadlines, decisions, escalation, withdrawal,
visibility and the overdue sweep."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import transaction

from tests.exchange.factories import enterprise_resource, official, person_resource, steward
from tests.exchange.factories_requests import pending_request, request_for
from tongban.core import generations
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import CalendarDay
from tongban.exchange.models import AccessRequest, Grant
from tongban.exchange.services import grants as grant_services
from tongban.exchange.services import requests
from tongban.identity.access import Actor
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def submit(actor: Actor, code: str, **over):
    data = {"items": ["id_number", "name", "marital_status"], "modes": ["query"], "purpose": "核查婚姻状况",
            "legal_basis": "《浙江省公共数据条例》第二十四条", "duration_days": 180, **over}
    with transaction.atomic():
        return requests.submit_request(actor, resource_code=code, **data)


def actions() -> list[str]:
    return list(LedgerEvent.objects.order_by("id").values_list("action", flat=True))


def payload_of(action: str) -> dict:
    event = LedgerEvent.objects.filter(action=action).order_by("-id").first()
    return json.loads(bytes(event.entry))["payload"]


def bureau_overseer() -> Actor:
    return official("bureau", "bureau_admin", is_bureau=True)


# --- submission -----------------------------------------------------------------------------------------------


def test_open_share_is_granted_at_once_and_recorded():
    resource = enterprise_resource("market", sharing="open_share")
    before = generations.current()
    request = submit(official("health", "clerk"), resource.code, items=["uscc", "org_name", "legal_representative"],
                     modes=["verify", "query"])
    assert request.status == "approved" and request.decided_by == requests.AUTO_APPROVER
    assert "无条件共享" in request.reason and request.due_on is None
    grant = Grant.objects.get(request=request)
    assert grant.items == ["uscc", "org_name", "legal_representative"]
    assert grant.modes == ["query", "verify"]  # canonical order
    # Default clear items: not personal-sensitive, and never the subject key.
    assert grant.clear_items == ["org_name"]
    assert grant.rate_limit_per_minute == 600
    assert abs((grant.expires_at - grant.starts_at) - datetime.timedelta(days=180)) < datetime.timedelta(seconds=1)
    assert grant_services.grant_state(grant) == "active"
    assert generations.current() > before
    assert actions()[-2:] == [requests.SUBMITTED, requests.APPROVED]
    approved = LedgerEvent.objects.filter(action=requests.APPROVED).last()
    assert approved.actor == requests.AUTO_APPROVER and approved.department == "market"
    assert payload_of(requests.APPROVED)["grant"] == grant.pk


def test_conditional_waits_ten_working_days_skipping_holidays(monkeypatch):
    # Thursday 2025-09-25; 2025-10-01..08 holidays, Sunday 2025-09-28 and Saturday 10-11 make-up days.
    monkeypatch.setattr(requests, "today", lambda: datetime.date(2025, 9, 25))
    for day in range(1, 9):
        CalendarDay.objects.update_or_create(date=datetime.date(2025, 10, day), defaults={"kind": "holiday"})
    for day in (datetime.date(2025, 9, 28), datetime.date(2025, 10, 11)):
        CalendarDay.objects.update_or_create(date=day, defaults={"kind": "workday"})
    resource = person_resource("civil", sharing="conditional")
    request = submit(official("health", "steward"), resource.code)
    # 9-26 (1), 9-28 (2), 9-29 (3), 9-30 (4), 10-09 (5), 10-10 (6), 10-11 (7), 10-13..15 (8..10)
    assert request.status == "pending" and request.due_on == datetime.date(2025, 10, 15)
    assert not Grant.objects.filter(request=request).exists()
    assert payload_of(requests.SUBMITTED)["due_on"] == "2025-10-15"


def test_no_share_refused_unless_verification_enabled():
    resource = person_resource("civil", sharing="no_share")
    consumer = official("health", "clerk")
    with pytest.raises(InvalidInput) as refused:
        submit(consumer, resource.code, modes=["verify"])
    assert refused.value.code == "not_shared" and "不予共享" in refused.value.message_zh
    with pytest.raises(PermissionDenied):  # a clerk of the provider does not set it
        with transaction.atomic():
            requests.set_verify_when_not_shared(official("civil", "clerk"), resource.code, True)
    with pytest.raises(PermissionDenied):  # nor another department's steward
        with transaction.atomic():
            requests.set_verify_when_not_shared(steward("health"), resource.code, True)
    with transaction.atomic():
        state = requests.set_verify_when_not_shared(steward("civil"), resource.code, True)
    assert state.verify_when_not_shared and state.department.code == "civil"
    assert requests.VERIFY_SETTING in actions()
    with pytest.raises(InvalidInput) as query:
        submit(consumer, resource.code, modes=["query", "verify"])
    assert query.value.code == "not_shared" and "核验" in query.value.message_zh
    request = submit(consumer, resource.code, modes=["verify"])
    assert request.status == "pending" and request.modes == ["verify"] and request.due_on is not None


@pytest.mark.parametrize(("over", "code", "field"), [
    ({"items": []}, "items_required", "items"),
    ({"items": ["name", "salary", "bonus"]}, "unknown_item", "items"),
    ({"modes": []}, "invalid_modes", "modes"),
    ({"modes": ["query", "download"]}, "invalid_modes", "modes"),
    ({"purpose": "  "}, "purpose_required", "purpose"),
    ({"purpose": "用" * 501}, "too_long", "purpose"),
    ({"legal_basis": ""}, "legal_basis_required", "legal_basis"),
    ({"duration_days": 0}, "invalid_duration", "duration_days"),
    ({"duration_days": 1096}, "invalid_duration", "duration_days"),
])
def test_submission_is_validated(over, code, field):
    resource = person_resource("civil")
    with pytest.raises(InvalidInput) as error:
        submit(official("health", "clerk"), resource.code, **over)
    assert error.value.code == code
    assert [p["field"] for p in error.value.details["errors"]] == [field]
    if code == "unknown_item":
        assert error.value.details["unknown"] == ["salary", "bonus"]
    assert not AccessRequest.objects.exists()


def test_all_field_problems_are_reported_together():
    resource = person_resource("civil")
    with pytest.raises(InvalidInput) as error:
        submit(official("health", "clerk"), resource.code, items=[], purpose="", duration_days=9999)
    assert {p["field"] for p in error.value.details["errors"]} == {"items", "purpose", "duration_days"}


def test_who_may_submit():
    resource = person_resource("civil")
    with pytest.raises(InvalidInput) as own:
        submit(official("civil", "steward"), resource.code)
    assert own.value.code == "own_resource"
    for actor in (official("health", "auditor"), official("health"),
                  Actor(kind="system", username="system:x", department_id=official("health").department_id,
                        department_code="health", scopes=frozenset({"exchange:query"})),
                  Actor(kind="citizen", username="c", user_id=1)):
        with pytest.raises(PermissionDenied):
            submit(actor, resource.code)
    with pytest.raises(NotFound):
        submit(official("health", "clerk"), "NOPE-0001")
    assert submit(official("health", "dept_admin"), resource.code).status == "pending"


def test_one_pending_request_per_consumer_and_resource():
    resource = person_resource("civil")
    first = submit(official("health", "clerk"), resource.code)
    with pytest.raises(Conflict) as error:
        submit(official("health", "approver"), resource.code)
    assert error.value.code == "request_pending" and error.value.details == {"request": first.pk}
    assert submit(official("hr", "clerk"), resource.code).status == "pending"  # another consumer may
    with transaction.atomic():
        requests.withdraw(official("health", "clerk"), first.pk)
    assert submit(official("health", "clerk"), resource.code).status == "pending"


# --- decisions -------------------------------------------------------------------------------------------------


def test_approval_creates_the_grant_with_defaults_and_a_ledger_entry():
    request = pending_request("civil", "health", items=["id_number", "name", "sex", "marital_status"])
    before = generations.current()
    with transaction.atomic():
        decided = requests.decide(official("civil", "approver"), request.pk, approve=True, reason="依法履职需要")
    assert decided.status == "approved" and decided.reason == "依法履职需要" and decided.decided_at
    grant = Grant.objects.get(request=decided)
    assert grant.items == ["id_number", "name", "sex", "marital_status"]
    assert grant.clear_items == ["sex", "marital_status"]  # name is personal-sensitive, id_number the key
    assert grant.purpose == request.purpose and grant.legal_basis == request.legal_basis
    assert grant.provider.code == "civil" and grant.consumer.code == "health"
    assert grant.rate_limit_per_minute == 600 and grant.created_by == decided.decided_by
    assert generations.current() > before
    payload = payload_of(requests.APPROVED)
    assert payload["grant"] == grant.pk and payload["request"] == request.pk and not payload["automatic"]
    assert "依法履职需要" not in json.dumps(payload, ensure_ascii=False)  # the reason enters as a hash


def test_approval_with_explicit_clear_items_and_rate():
    request = pending_request("civil", "health", items=["id_number", "name", "sex"])
    with transaction.atomic():
        requests.decide(official("civil", "steward"), request.pk, approve=True, reason="同意",
                        clear_items=["id_number", "name"], rate_limit_per_minute=30)
    grant = Grant.objects.get(request=request)
    assert grant.clear_items == ["id_number", "name"] and grant.rate_limit_per_minute == 30


@pytest.mark.parametrize(("clear", "rate", "code"), [
    (["phone"], None, "invalid_clear_items"), (None, 0, "invalid_rate_limit"), (None, 10**6, "invalid_rate_limit"),
])
def test_approval_input_is_checked(clear, rate, code):
    request = pending_request("civil", "health", items=["id_number", "name"])
    with pytest.raises(InvalidInput) as error:
        with transaction.atomic():
            requests.decide(official("civil", "approver"), request.pk, approve=True, reason="同意",
                            clear_items=clear, rate_limit_per_minute=rate)
    assert error.value.code == code
    request.refresh_from_db()
    assert request.status == "pending" and not Grant.objects.exists()


def test_rejection_needs_a_reason_and_creates_no_grant():
    request = pending_request("civil", "health")
    approver = official("civil", "approver")
    with pytest.raises(InvalidInput) as error:
        with transaction.atomic():
            requests.decide(approver, request.pk, approve=False, reason="   ")
    assert error.value.code == "reason_required"
    with transaction.atomic():
        rejected = requests.decide(approver, request.pk, approve=False, reason="用途与履职无关")
    assert rejected.status == "rejected" and not Grant.objects.exists()
    assert actions()[-1] == requests.REJECTED


def test_who_may_decide():
    request = pending_request("civil", "health")
    cases = [
        (official("civil", "clerk"), PermissionDenied),  # provider, wrong role
        (official("health", "approver"), PermissionDenied),  # the consumer sees it but does not decide
        (official("hr", "approver"), NotFound),  # a third department does not even see it
        (bureau_overseer(), PermissionDenied),  # the bureau oversees, the provider decides
    ]
    for actor, error in cases:
        with pytest.raises(error):
            with transaction.atomic():
                requests.decide(actor, request.pk, approve=True, reason="同意")
    request.refresh_from_db()
    assert request.status == "pending"
    with transaction.atomic():
        requests.decide(official("civil", "dept_admin"), request.pk, approve=True, reason="同意")


def test_a_second_decision_conflicts():
    request = pending_request("civil", "health")
    approver = official("civil", "approver")
    with transaction.atomic():
        requests.decide(approver, request.pk, approve=True, reason="同意")
    for approve in (True, False):
        with pytest.raises(Conflict) as error:
            with transaction.atomic():
                requests.decide(approver, request.pk, approve=approve, reason="再次审批")
        assert error.value.code == "request_not_pending"
    assert Grant.objects.count() == 1


# --- escalation, withdrawal ---------------------------------------------------------------------------------


def test_escalation_by_the_bureau_only():
    request = pending_request("civil", "health")
    for actor, error in ((official("civil", "approver"), PermissionDenied),
                         (official("bureau", "steward", is_bureau=True), PermissionDenied),
                         (official("hr", "steward"), NotFound)):
        with pytest.raises(error):
            with transaction.atomic():
                requests.escalate(actor, request.pk, "请尽快答复")
    bureau = bureau_overseer()
    with pytest.raises(InvalidInput):
        with transaction.atomic():
            requests.escalate(bureau, request.pk, "")
    with transaction.atomic():
        escalated = requests.escalate(bureau, request.pk, "请于三日内答复")
    assert escalated.escalated_by == bureau.username and escalated.escalation_note == "请于三日内答复"
    assert escalated.escalated_at and actions()[-1] == requests.ESCALATED
    with transaction.atomic():
        requests.decide(official("civil", "approver"), request.pk, approve=False, reason="不符合条件")
    with pytest.raises(Conflict):
        with transaction.atomic():
            requests.escalate(bureau, request.pk, "再次督办")


def test_withdrawal_by_the_consumer_while_pending():
    request = pending_request("civil", "health")
    with pytest.raises(PermissionDenied):
        with transaction.atomic():
            requests.withdraw(official("civil", "approver"), request.pk)
    with pytest.raises(NotFound):
        with transaction.atomic():
            requests.withdraw(official("hr", "clerk"), request.pk)
    with transaction.atomic():
        withdrawn = requests.withdraw(official("health", "steward"), request.pk)
    assert withdrawn.status == "withdrawn" and actions()[-1] == requests.WITHDRAWN
    with pytest.raises(Conflict):
        with transaction.atomic():
            requests.withdraw(official("health", "steward"), request.pk)


# --- listing, overdue -------------------------------------------------------------------------------------------


def test_list_visibility_by_side_and_department():
    civil_to_health = pending_request("civil", "health")
    health_to_civil = pending_request("health", "civil")
    market_to_hr = pending_request("market", "hr")
    civil = official("civil", "clerk")
    ids = lambda rows: {r.pk for r in rows}  # noqa: E731
    assert ids(requests.list_requests(civil)) == {civil_to_health.pk, health_to_civil.pk}
    assert ids(requests.list_requests(civil, side="provider")) == {civil_to_health.pk}
    assert ids(requests.list_requests(civil, side="consumer")) == {health_to_civil.pk}
    assert ids(requests.list_requests(official("transport", "steward"))) == set()
    assert ids(requests.list_requests(official("bureau", is_bureau=True))) == {
        civil_to_health.pk, health_to_civil.pk, market_to_hr.pk}
    with pytest.raises(NotFound):
        requests.get_request(official("transport", "steward"), market_to_hr.pk)
    assert requests.get_request(official("hr", "auditor"), market_to_hr.pk) == market_to_hr
    with pytest.raises(PermissionDenied):
        requests.list_requests(Actor(kind="citizen", username="c", user_id=1))
    with pytest.raises(InvalidInput):
        requests.list_requests(civil, side="both")
    with pytest.raises(InvalidInput):
        requests.list_requests(civil, status="done")
    assert ids(requests.list_requests(civil, status="approved")) == set()


def test_overdue_listing_and_the_sweep(monkeypatch):
    base = requests.today()
    late = pending_request("civil", "health")
    fresh = pending_request("civil", "hr")
    AccessRequest.objects.filter(pk=late.pk).update(due_on=requests.today() - datetime.timedelta(days=1))
    AccessRequest.objects.filter(pk=fresh.pk).update(due_on=requests.today())
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert requests.is_overdue(late) and not requests.is_overdue(fresh)
    civil = official("civil", "approver")
    assert [r.pk for r in requests.list_requests(civil, overdue=True)] == [late.pk]
    assert [r.pk for r in requests.oversight_queue(official("bureau", is_bureau=True))] == [late.pk, fresh.pk]
    with pytest.raises(PermissionDenied):
        requests.oversight_queue(civil)

    with transaction.atomic():
        assert [r.pk for r in requests.flag_overdue()] == [late.pk]
    assert payload_of(requests.OVERDUE) == {"overdue": [late.pk], "new": [late.pk],
                                            "on": requests.today().isoformat()}
    with transaction.atomic():
        requests.flag_overdue()  # nothing new: no second entry
    assert actions().count(requests.OVERDUE) == 1
    # The next day the other one is late too: one more entry naming it as new.
    monkeypatch.setattr(requests, "today", lambda: base + datetime.timedelta(days=3))
    assert requests.sweep_overdue_requests.call_local() == 2
    assert actions().count(requests.OVERDUE) == 2
    assert payload_of(requests.OVERDUE)["new"] == [fresh.pk]
    with transaction.atomic():
        requests.decide(civil, late.pk, approve=False, reason="不符合条件")
    assert not requests.is_overdue(AccessRequest.objects.get(pk=late.pk))


def test_trail_lists_the_request_and_its_grant_entries():
    request = pending_request("civil", "health")
    other = request_for("hr", person_resource("civil"))
    with transaction.atomic():
        requests.decide(official("civil", "approver"), request.pk, approve=True, reason="同意")
    grant = Grant.objects.get(request=request)
    with transaction.atomic():
        grant_services.revoke_grant(official("civil", "steward"), grant.pk, "业务终止")
    assert [e["action"] for e in requests.trail(request)] == [
        requests.SUBMITTED, requests.APPROVED, grant_services.GRANT_REVOKED]
    assert [e["action"] for e in requests.trail(other)] == [requests.SUBMITTED]
