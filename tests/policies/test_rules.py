"""Eligibility rules: versioned, every problem listed (unknown variable, wrong type, a construct the
set-wise compiler cannot run exactly), the editor's test with reasons and the snapshot count."""

from __future__ import annotations

import pytest

from tests.policies import factories as f
from tests.policies.factories import data_dir  # noqa: F401 - fixture
from tongban.core import jsonlogic
from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.policies import profiles
from tongban.policies.models import EligibilityRule, Policy
from tongban.policies.services import rules, snapshots

pytestmark = pytest.mark.django_db


def _problems(policy, logic, user=None) -> list[dict]:
    with pytest.raises(InvalidInput) as caught:
        rules.set_rule(f.actor(user or f.steward()), policy.pk, logic)
    assert caught.value.code == "invalid_rule"
    found = caught.value.details["problems"]
    assert all({"path", "code", "message_zh", "message_en"} <= set(p) for p in found)
    return found


def test_each_save_is_a_new_current_version_in_the_ledger():
    user = f.steward()
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    first = rules.set_rule(f.actor(user), draft.pk, f.SMALL_FIRM_RULE, "  小微企业  ")
    second = rules.set_rule(f.actor(user), draft.pk, {">=": [{"var": "employees"}, 5]})
    assert (first.version, second.version, first.description) == (1, 2, "小微企业")
    assert list(EligibilityRule.objects.filter(policy=draft, is_current=True).values_list("version", flat=True)) == [2]
    entries = f.ledger_entries(rules.RULE_SET)
    assert [e["payload"]["version"] for e in entries] == [1, 2]
    assert entries[0]["payload"]["variables"] == ["size_class", "insured_count", "in_arrears"]
    assert entries[1]["payload"]["logic"] == {">=": [{"var": "employees"}, 5]}
    assert entries[1]["actor"] == user.username and entries[1]["subject"] == f"policy:{draft.code}"


def test_a_published_policys_rule_changes_a_withdrawn_ones_does_not():
    user = f.steward()
    published = f.policy("hr")
    assert rules.set_rule(f.actor(user), published.pk, {"==": [{"var": "active"}, True]}).version == 2
    withdrawn = f.policy("hr", status=Policy.Status.WITHDRAWN)
    with pytest.raises(InvalidInput) as caught:
        rules.set_rule(f.actor(user), withdrawn.pk, {"==": [{"var": "active"}, True]})
    assert caught.value.code == "invalid_rule"


def test_unknown_variables_are_all_listed():
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    found = _problems(draft, {"and": [{">": [{"var": "headcount"}, 5]}, {"==": [{"var": "age"}, 30]}]})
    assert [(p["code"], p["variable"]) for p in found] == [("unknown_variable", "headcount"),
                                                           ("unknown_variable", "age")]  # age is a citizen's
    assert "employees" in found[0]["known"]
    assert not EligibilityRule.objects.filter(policy=draft).exists()
    assert not f.ledger_entries(rules.RULE_SET)


def test_literals_of_the_wrong_type_are_refused():
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    found = _problems(draft, {"or": [{"==": [{"var": "employees"}, "10"]}, {"==": [{"var": "region"}, 330106]},
                                     {">": [{"var": "active"}, False]}]})
    assert [(p["code"], p["variable"]) for p in found] == [("type_mismatch", "employees"),
                                                           ("type_mismatch", "region"), ("type_mismatch", "active")]


@pytest.mark.parametrize(("logic", "code"), [
    ({"if": [{"var": "active"}, True, False]}, "unsupported_operator"),
    ({">": [{"/": [{"var": "revenue"}, {"var": "employees"}]}, 10]}, "unsupported_operator"),
    ({">": [{"var": "revenue"}, 10.125]}, "unsupported_number"),
    ({"==": [{"var": "certificates"}, "high_tech_enterprise"]}, "unsupported_comparison"),
    ({"in": [{"var": "certificates"}, ["a", "b"]]}, "unsupported_in"),
    ({"==": [{"var": {"cat": "employ"}}, 1]}, "dynamic_variable"),
])
def test_constructs_the_compiler_cannot_run_exactly_are_refused(logic, code):
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    assert code in [p["code"] for p in _problems(draft, logic)]


@pytest.mark.parametrize("logic", [[], "true", None, {"==": [1, 1], "!": True}, {"nope": [1]},
                                   {"==": [{"var": "employees"}]}])
def test_malformed_rules_are_refused(logic):
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    assert _problems(draft, logic)


def test_too_long_a_rule_is_refused():
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    logic = {"in": [{"var": "industry"}, [f"C{n:04d}" for n in range(3000)]]}
    assert [p["code"] for p in _problems(draft, logic)] == ["too_long"]


def test_citizen_rules_read_citizen_variables():
    draft = f.policy("civil", status=Policy.Status.DRAFT, rule=None, target="citizen")
    user = f.steward("civil")
    rule = rules.set_rule(f.actor(user), draft.pk, {"and": [{">=": [{"var": "age"}, 80]},
                                                            {"in": ["disability_card", {"var": "certificates"}]}]})
    assert rule.version == 1
    assert _problems(draft, {">": [{"var": "employees"}, 1]}, user)[0]["code"] == "unknown_variable"


def test_only_the_departments_editors_set_rules():
    draft = f.policy("hr", status=Policy.Status.DRAFT, rule=None)
    published = f.policy("hr")
    logic = {"==": [{"var": "active"}, True]}
    for who in (f.steward("civil"), f.clerk("hr"), f.auditor()):
        with pytest.raises(NotFound):
            rules.set_rule(f.actor(who), draft.pk, logic)
        with pytest.raises(PermissionDenied):
            rules.set_rule(f.actor(who), published.pk, logic)
    with pytest.raises(PermissionDenied):
        rules.set_rule(f.actor(f.enterprise().user), published.pk, logic)
    assert rules.set_rule(f.actor(f.bureau_admin()), draft.pk, logic).version == 1


# --- trying a rule --------------------------------------------------------------------------------------------


def test_test_rule_on_the_sample_with_reasons(data_dir):  # noqa: F811
    published = f.policy("hr")
    user = f.steward()
    out = rules.test_rule(f.actor(user), published.pk, f.SMALL_FIRM_RULE, None)
    assert out["problems"] == [] and out["passed"] is True and out["snapshot"] is None
    assert [r["passed"] for r in out["reasons"]] == [True, True, True]
    assert out["reasons"][0]["condition"] == "企业规模 in [微型, 小型] (企业规模 = 小型)"  # coded values by their labels
    mine = rules.test_rule(f.actor(user), published.pk, f.SMALL_FIRM_RULE,
                           {"size_class": "large", "insured_count": 400, "in_arrears": None}, "en")
    assert mine["passed"] is False and [r["passed"] for r in mine["reasons"]] == [False, True, False]
    assert "Size class" in mine["reasons"][0]["condition"]
    assert not EligibilityRule.objects.filter(policy=published, version=2).exists()  # nothing stored


def test_test_rule_answers_problems_rather_than_raising(data_dir):  # noqa: F811
    published = f.policy("hr")
    out = rules.test_rule(f.actor(f.steward()), published.pk, {">": [{"var": "headcount"}, 1]}, None)
    assert out["passed"] is False and out["problems"][0]["code"] == "unknown_variable" and out["snapshot"] is None
    with pytest.raises(InvalidInput) as caught:
        rules.test_rule(f.actor(f.steward()), published.pk, f.SMALL_FIRM_RULE, ["not", "a", "profile"])
    assert caught.value.code == "invalid_sample"
    with pytest.raises(PermissionDenied):
        rules.test_rule(f.actor(f.steward("civil")), published.pk, f.SMALL_FIRM_RULE, None)


def test_test_rule_counts_the_latest_snapshot(data_dir):  # noqa: F811
    published = f.policy("hr")
    firms = [f.enterprise(employees=n * 40, insured_count=n * 7) for n in range(6)]
    snapshot = snapshots.build_snapshot("enterprise", created_by="test")
    expected = sum(jsonlogic.truthy(jsonlogic.evaluate(f.SMALL_FIRM_RULE, profiles.profile_for("enterprise", x.uscc)))
                   for x in firms)
    assert 0 < expected < 6
    # The bureau's oversight sees the exact count ...
    admin = f.actor(f.bureau_admin())
    out = rules.test_rule(admin, published.pk, f.SMALL_FIRM_RULE, None)
    assert out["snapshot"] == {"rows": 6, "matched": expected, "as_of": snapshot.as_of.isoformat()}
    # ... a department sees a count below 10 only as "<10" (no singling out of people by rule tests).
    out = rules.test_rule(f.actor(f.steward()), published.pk, f.SMALL_FIRM_RULE, None)
    assert out["snapshot"]["matched"] == "<10"
