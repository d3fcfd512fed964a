"""Policies: drafting (every problem listed), publishing (needs a rule), withdrawing, the library
(published policies of every department; drafts invisible), views, who may do what, the ledger."""

from __future__ import annotations

import datetime

import pytest

from tests.policies import factories as f
from tongban.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity.access import ANONYMOUS
from tongban.onestop.models import ServiceItem
from tongban.policies.models import Delivery, Policy
from tongban.policies.services import policies as services
from tongban.policies.services import rules

pytestmark = pytest.mark.django_db


def _draft(user=None, **over) -> Policy:
    user = user or f.steward()
    return services.create_policy(f.actor(user), f.policy_data(**over))


# --- drafting -----------------------------------------------------------------------------------------------------


def test_steward_drafts_a_policy_of_their_department():
    user = f.steward()
    first = _draft(user)
    second = _draft(user, title="第二项")
    year = datetime.date.today().year
    assert (first.code, second.code) == (f"hr-{year}-001", f"hr-{year}-002")
    assert first.status == Policy.Status.DRAFT and first.department.code == "hr" and first.created_by == user.username
    assert first.published_at is None and first.service_item == "" and first.benefit_formula is None
    assert first.valid_until == datetime.date.today() + datetime.timedelta(days=365)


@pytest.mark.parametrize("role", ["dept_admin", "approver"])
def test_other_editing_roles_draft(role):
    assert _draft(f.official("hr", role)).department.code == "hr"


def test_the_code_skips_numbers_taken():
    user = f.steward()
    year = datetime.date.today().year
    f.policy("hr", code=f"hr-{year}-002")
    assert _draft(user).code == f"hr-{year}-003"  # one taken → the count says 002, which is taken


@pytest.mark.parametrize("user", [lambda: f.clerk(), lambda: f.auditor(), lambda: f.cdo()])
def test_who_else_cannot_draft(user):
    with pytest.raises(PermissionDenied):
        _draft(user())


def test_citizens_enterprises_and_anonymous_cannot_draft():
    person = f.citizen()
    firm = f.enterprise()
    for who in (person.user, firm.user):
        with pytest.raises(PermissionDenied):
            services.create_policy(f.actor(who), f.policy_data())
    with pytest.raises(NotAuthenticated):
        services.create_policy(ANONYMOUS, f.policy_data())


def test_bureau_admin_drafts_for_a_named_department_others_cannot_name_one():
    f.steward("civil")
    admin = f.bureau_admin()
    assert services.create_policy(f.actor(admin), f.policy_data(), department_code="civil").department.code == "civil"
    mine = services.create_policy(f.actor(f.steward("hr")), f.policy_data(), department_code="civil")
    assert mine.department.code == "hr"  # naming another department is the bureau's only


def test_validation_lists_every_problem():
    with pytest.raises(InvalidInput) as caught:
        _draft(title="", theme="weather", mode="auto_grant", benefit_cap="-1", valid_until="2000-01-01",
               apply_from="2026-02-30", handling_days=0, benefit_formula={"*": [{"var": "headcount"}, 1000]},
               document_number="x" * 101)
    error = caught.value
    assert error.code == "invalid_policy"
    fields = [e["field"] for e in error.details["errors"]]
    assert set(fields) == {"title", "theme", "valid_until", "apply_from", "benefit_cap", "benefit_formula",
                           "handling_days", "document_number"}
    assert all(e["message_zh"] and e["message_en"] for e in error.details["errors"])
    with pytest.raises(InvalidInput) as caught:
        _draft(target="company", mode="lottery", valid_from="", summary="  ", handling_days=366)
    assert {e["field"] for e in caught.value.details["errors"]} == {"target", "mode", "valid_from", "summary",
                                                                    "handling_days"}
    assert Policy.objects.count() == 0


def test_auto_grant_needs_an_amount_or_a_formula():
    with pytest.raises(InvalidInput) as caught:
        _draft(mode="auto_grant")
    assert [e["field"] for e in caught.value.details["errors"]] == ["benefit_amount"]
    assert _draft(mode="auto_grant", benefit_amount="3000").benefit_amount == 3000
    formula = {"*": [{"var": "insured_count"}, 1000]}
    assert _draft(mode="auto_grant", benefit_formula=formula, benefit_cap="200000").benefit_formula == formula


def test_apply_mode_needs_a_published_item_for_the_target():
    citizens_item = f.service_item("hr", applicant_kind="citizen")
    draft_item = f.service_item("hr", applicant_kind="enterprise", status=ServiceItem.Status.DRAFT)
    firms_item = f.service_item("hr", applicant_kind="enterprise")
    for code in ("", "no-such-item", draft_item.code, citizens_item.code):
        with pytest.raises(InvalidInput) as caught:
            _draft(mode="apply", service_item=code)
        assert [e["field"] for e in caught.value.details["errors"]] == ["service_item"]
    assert _draft(mode="apply", service_item=firms_item.code).service_item == firms_item.code
    assert _draft(mode="notify", service_item=firms_item.code).service_item == ""  # only apply mode keeps one


def test_the_formula_is_checked_against_the_targets_variables():
    with pytest.raises(InvalidInput) as caught:
        _draft(target="citizen", mode="auto_grant", benefit_formula={"*": [{"var": "insured_count"}, 10]},
               benefit_cap="5000")
    assert caught.value.details["errors"][0]["field"] == "benefit_formula"


def test_a_formula_amount_needs_a_cap():
    with pytest.raises(InvalidInput) as caught:
        _draft(mode="auto_grant", benefit_formula={"*": [{"var": "insured_count"}, 10]})
    assert [e["field"] for e in caught.value.details["errors"]] == ["benefit_cap"]


def test_update_a_draft():
    user = f.steward()
    draft = _draft(user)
    changed = services.update_policy(f.actor(user), draft.pk, {"title": "新标题", "benefit_amount": "12.3",
                                                               "code": "hijack", "status": "published"})
    assert changed.title == "新标题" and str(changed.benefit_amount) == "12.30"
    assert changed.code == draft.code and changed.status == Policy.Status.DRAFT  # not editable fields
    with pytest.raises(InvalidInput) as caught:
        services.update_policy(f.actor(user), draft.pk, {"target": "", "valid_from": None, "benefit_amount": "1.005"})
    assert {e["field"] for e in caught.value.details["errors"]} == {"target", "valid_from", "benefit_amount"}
    draft.refresh_from_db()
    assert draft.title == "新标题"


def test_only_a_draft_changes():
    user = f.steward()
    published = f.policy("hr")
    with pytest.raises(Conflict) as caught:
        services.update_policy(f.actor(user), published.pk, {"title": "x"})
    assert caught.value.code == "illegal_transition"


def test_wrong_department_draft_is_not_found_published_is_forbidden():
    draft = _draft(f.steward("hr"))
    published = f.policy("hr")
    stranger = f.actor(f.steward("civil"))
    with pytest.raises(NotFound):
        services.update_policy(stranger, draft.pk, {"title": "x"})
    with pytest.raises(PermissionDenied):
        services.update_policy(stranger, published.pk, {"title": "x"})
    with pytest.raises(NotFound):
        services.update_policy(stranger, 999_999, {"title": "x"})
    with pytest.raises(PermissionDenied):
        services.withdraw(f.actor(f.clerk("hr")), published.pk, "理由")


# --- publishing and withdrawing --------------------------------------------------------------------------------


def test_publish_needs_a_rule():
    user = f.steward()
    draft = _draft(user)
    with pytest.raises(Conflict) as caught:
        services.publish(f.actor(user), draft.pk)
    assert caught.value.code == "rule_required"
    assert not f.ledger_entries(services.PUBLISHED)


def test_publish_records_the_rule_in_the_ledger():
    from tongban.policies.services import rules

    user = f.steward()
    draft = _draft(user)
    rules.set_rule(f.actor(user), draft.pk, f.SMALL_FIRM_RULE)
    published = services.publish(f.actor(user), draft.pk)
    assert published.status == Policy.Status.PUBLISHED and published.published_at is not None
    (entry,) = f.ledger_entries(services.PUBLISHED)
    assert entry["subject"] == f"policy:{draft.code}" and entry["actor"] == user.username
    assert entry["department"] == "hr"
    assert entry["payload"]["rule_version"] == 1 and entry["payload"]["rule"] == f.SMALL_FIRM_RULE
    with pytest.raises(Conflict) as caught:
        services.publish(f.actor(user), draft.pk)
    assert caught.value.code == "illegal_transition"


def test_publish_checks_the_fields_again():
    user = f.steward()
    item = f.service_item("hr")
    draft = f.policy("hr", status=Policy.Status.DRAFT, mode="apply", service_item=item.code)
    ServiceItem.objects.filter(pk=item.pk).update(status=ServiceItem.Status.WITHDRAWN)
    with pytest.raises(InvalidInput) as caught:
        services.publish(f.actor(user), draft.pk)
    assert caught.value.details["errors"][0]["field"] == "service_item"
    draft.refresh_from_db()
    assert draft.status == Policy.Status.DRAFT


def test_withdraw():
    user = f.dept_admin()
    published = f.policy("hr")
    with pytest.raises(InvalidInput) as caught:
        services.withdraw(f.actor(user), published.pk, "  ")
    assert caught.value.code == "reason_required"
    withdrawn = services.withdraw(f.actor(user), published.pk, "政策期满")
    assert withdrawn.status == Policy.Status.WITHDRAWN and withdrawn.withdrawn_at is not None
    (entry,) = f.ledger_entries(services.WITHDRAWN)
    assert entry["payload"] == {"reason": "政策期满"} and entry["subject"] == f"policy:{published.code}"
    with pytest.raises(Conflict):
        services.withdraw(f.actor(user), published.pk, "again")
    with pytest.raises(Conflict):
        services.withdraw(f.actor(user), _draft(user).pk, "a draft")
    assert published.pk not in [p.pk for p in services.library()]
    with pytest.raises(NotFound):
        services.get_policy(ANONYMOUS, published.pk)
    assert services.get_policy(f.actor(user), published.pk).pk == published.pk


def test_bureau_admin_maintains_any_departments_policy():
    published = f.policy("civil")
    assert services.withdraw(f.actor(f.bureau_admin()), published.pk, "统一清理").status == Policy.Status.WITHDRAWN


# --- the library ---------------------------------------------------------------------------------------------------


def test_library_aggregates_published_policies_and_filters():
    today = datetime.date.today()
    jobs = f.policy("hr", title="小微企业稳岗补贴", document_number="浙人社发〔2025〕1号")
    care = f.policy("civil", title="高龄津贴", target="citizen", theme="elderly", rule=f.ELDERLY_RULE,
                    summary="八十周岁以上老年人按月发放。")
    f.policy("hr", title="草稿政策", status=Policy.Status.DRAFT)
    f.policy("hr", title="撤回政策", status=Policy.Status.WITHDRAWN)
    expired = f.policy("hr", title="过期政策", valid_until=today - datetime.timedelta(days=1))
    codes = lambda rows: {p.code for p in rows}  # noqa: E731
    assert codes(services.library()) == {jobs.code, care.code}
    assert codes(services.library(include_expired=True)) == {jobs.code, care.code, expired.code}
    assert codes(services.library(q="稳岗")) == {jobs.code}
    assert codes(services.library(q="八十周岁")) == {care.code}  # the summary
    assert codes(services.library(q="浙人社发〔2025〕1号")) == {jobs.code}
    assert codes(services.library(q="civil 部门")) == {care.code}  # the department's name, word by word
    assert codes(services.library(theme="elderly")) == {care.code}
    assert codes(services.library(department="hr")) == {jobs.code}
    assert codes(services.library(target="enterprise")) == {jobs.code}
    assert codes(services.library(q="草稿")) == set()


def test_library_is_newest_first():
    import django.utils.timezone as tz

    older = f.policy("hr", published_at=tz.now() - datetime.timedelta(days=3))
    newer = f.policy("hr", published_at=tz.now())
    assert [p.pk for p in services.library()] == [newer.pk, older.pk]


def test_drafts_are_invisible_except_to_their_editors_and_oversight():
    draft = _draft(f.steward("hr"))
    for who in (ANONYMOUS, f.actor(f.citizen().user), f.actor(f.steward("civil")), f.actor(f.clerk("hr"))):
        with pytest.raises(NotFound):
            services.get_policy(who, draft.pk)
    for who in (f.steward("hr"), f.approver("hr"), f.auditor(), f.bureau_admin()):
        assert services.get_policy(f.actor(who), draft.pk).pk == draft.pk
    with pytest.raises(NotFound):
        services.get_policy(ANONYMOUS, 999_999)


def test_department_list_shows_own_policies_oversight_all():
    mine = f.policy("hr")
    theirs = f.policy("civil")
    assert [p.pk for p in services.department_policies(f.actor(f.steward("hr")))] == [mine.pk]
    assert {p.pk for p in services.department_policies(f.actor(f.auditor()))} == {mine.pk, theirs.pk}
    with pytest.raises(PermissionDenied):
        services.department_policies(f.actor(f.citizen().user))


def test_a_view_is_counted_and_marks_the_recipients_delivery_viewed():
    import django.utils.timezone as tz

    published = f.policy("hr")
    firm = f.enterprise()
    delivery = Delivery.objects.create(policy=published, user=firm.user, subject=firm.uscc, rule_version=1,
                                       notified_at=tz.now())
    services.record_view(ANONYMOUS, published)
    services.record_view(f.actor(firm.user), published)
    published.refresh_from_db()
    delivery.refresh_from_db()
    assert published.view_count == 2
    assert delivery.status == Delivery.Status.VIEWED and delivery.viewed_at is not None


def test_changing_the_target_must_keep_the_rule_valid():
    user = f.steward()
    draft = _draft(user)
    rules.set_rule(f.actor(user), draft.pk, {">=": [{"var": "employees"}, 1]})
    with pytest.raises(InvalidInput) as caught:
        services.update_policy(f.actor(user), draft.pk, {"target": "citizen"})
    assert caught.value.code == "invalid_rule"
    draft.refresh_from_db()
    assert draft.target == "enterprise"
