"""Eligibility rules (享受条件) as data: JSON-Logic over the profile variables, versioned.

``set_rule`` refuses a rule with any problem — unknown variable, a literal of the wrong type,
or a construct the set-wise compiler cannot run exactly as the row-by-row evaluator does — and
lists every problem (422 ``invalid_rule``). Each version is a ledger entry. A new version of a
published auto-grant policy grants nothing until a second official confirms it (``confirm_rule``). ``test_rule`` runs a
rule on a sample profile in the editor (nothing stored), with the reason for every condition,
and, when a profile snapshot exists, how many subjects it would match.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Max
from django.utils import timezone

from tongban.core import jsonlogic
from tongban.core.errors import Conflict, InvalidInput
from tongban.credentials.models import CertificateType
from tongban.identity.access import Actor
from tongban.ledger import services as ledger
from tongban.policies import compiler, engine
from tongban.policies import variables as vocabulary
from tongban.policies.models import EligibilityRule, Policy
from tongban.policies.services.policies import editable, may_oversee, require_second_official
from tongban.policies.services.snapshots import latest_snapshot, snapshot_path

RULE_SET = "policies.rule_set"
RULE_CONFIRMED = "policies.rule_confirmed"
MAX_RULE_BYTES = 20_000
SMALL_COUNT = 10


def problems(logic: Any, target: str) -> list[dict[str, Any]]:
    """Every problem of ``logic`` as an eligibility rule for ``target`` (empty: fine to store)."""
    if not isinstance(logic, dict) or len(logic) != 1:
        return [{"path": "$", "code": "not_an_operation", "message_zh": "规则应为一个 JSON-Logic 表达式",
                 "message_en": "The rule must be one JSON-Logic expression"}]
    if len(json.dumps(logic, ensure_ascii=False).encode("utf-8")) > MAX_RULE_BYTES:
        return [{"path": "$", "code": "too_long", "message_zh": "规则过长", "message_en": "The rule is too long"}]
    types = vocabulary.types_for(target)
    found = jsonlogic.validate(logic, types)
    if found:
        return found
    return compiler.problems(logic, types)


def _refuse(found: list[dict[str, Any]]) -> InvalidInput:
    first = found[0]
    return InvalidInput(f"规则有误：{first['message_zh']}", f"The rule has errors: {first['message_en']}",
                        code="invalid_rule", details={"problems": found})


def set_rule(actor: Actor, policy_id: int, logic: Any, description: str = "") -> EligibilityRule:
    """A new current version of the policy's rule (its editors; a draft or a published policy —
    a published one is re-matched with the new version on the next run)."""
    policy = editable(actor, policy_id, lock=True)
    if policy.status == Policy.Status.WITHDRAWN:
        raise InvalidInput("已撤回的政策不能修改规则", "A withdrawn policy's rule cannot change", code="invalid_rule",
                           details={"problems": []})
    found = problems(logic, policy.target)
    if found:
        raise _refuse(found)
    EligibilityRule.objects.filter(policy=policy, is_current=True).update(is_current=False)
    version = (EligibilityRule.objects.filter(policy=policy).aggregate(v=Max("version"))["v"] or 0) + 1
    rule = EligibilityRule.objects.create(policy=policy, version=version, logic=logic,
                                          description=(description or "").strip()[:2000], is_current=True,
                                          created_by=actor.username or actor.kind)
    ledger.record(actor=actor.username or actor.kind, action=RULE_SET, subject=f"policy:{policy.code}",
                  department=policy.department.code,
                  payload={"version": version, "logic": logic, "variables": jsonlogic.variables_of(logic),
                           "needs_confirmation": needs_confirmation(policy, rule)})
    return rule


def needs_confirmation(policy: Policy, rule: EligibilityRule | None) -> bool:
    """A published auto-grant policy whose current rule no second official has confirmed: it
    matches and shows as before, but grants nothing until the version is confirmed."""
    return (policy.mode == Policy.Mode.AUTO_GRANT and policy.status == Policy.Status.PUBLISHED
            and rule is not None and not rule.confirmed_by)


def confirm_rule(actor: Actor, policy_id: int, version: int) -> EligibilityRule:
    """A second official confirms the current rule version of a published auto-grant policy
    (双人复核): the next matching run grants under it. 409 when the version is not the current
    one, is confirmed already, or the actor wrote it."""
    policy = editable(actor, policy_id, lock=True)
    rule = EligibilityRule.objects.filter(policy=policy, is_current=True).first()
    if rule is None or rule.version != version:
        raise Conflict("只能复核当前版本的享受条件", "Only the current rule version can be confirmed",
                       code="not_current_version", details={"current": rule.version if rule else None})
    if not needs_confirmation(policy, rule):
        raise Conflict("这个版本无需复核或已经复核", "This version needs no confirmation or has been confirmed",
                       code="illegal_transition", details={"confirmed_by": rule.confirmed_by or None})
    confirmer = actor.username or actor.kind
    require_second_official(confirmer, {rule.created_by}, "享受条件须由设置者以外的另一名工作人员复核",
                            "A rule must be confirmed by an official other than the one who set it")
    rule.confirmed_by, rule.confirmed_at = confirmer, timezone.now()
    rule.save(update_fields=["confirmed_by", "confirmed_at"])
    ledger.record(actor=confirmer, action=RULE_CONFIRMED, subject=f"policy:{policy.code}",
                  department=policy.department.code, payload={"version": version, "set_by": rule.created_by})
    return rule


def value_labels(target: str, language: str = "zh") -> dict[str, dict[Any, str]]:
    """{variable: {value: label}} so reasons read 企业规模 in [微型, 小型], 持有证照 … 高新技术企业证书,
    存续经营 = 是 rather than codes."""
    english = language.startswith("en")
    yes_no = {True: "yes", False: "no"} if english else {True: "是", False: "否"}
    out: dict[str, dict[Any, str]] = {}
    for variable in vocabulary.variables_for(target):
        if variable.type == "boolean":
            out[variable.name] = yes_no
        elif variable.choices and not english:
            out[variable.name] = dict(variable.choices)
    certificates = dict(CertificateType.objects.values_list("code", "name_en" if english else "name"))
    out["certificates"] = {code: name for code, name in certificates.items() if name}
    return out


def explain(policy: Policy, logic: Any, profile: dict[str, Any], language: str = "zh",
            values: dict[str, dict[Any, str]] | None = None) -> tuple[bool, list[dict]]:
    """Whether ``profile`` qualifies, with one readable line per condition (labels, values).
    ``values``: the value labels, when the caller explains many profiles (read once)."""
    if values is None:
        values = value_labels(policy.target, language)
    result, reasons = jsonlogic.explain(logic, profile, vocabulary.labels_for(policy.target, language), values)
    return jsonlogic.truthy(result), reasons


def sample_profile(target: str) -> dict[str, Any]:
    """A made-up profile to start the editor's test with (no real subject's data)."""
    if target == vocabulary.ENTERPRISE:
        return {"industry": "I6513", "industry_section": "I", "size_class": "small", "region": "330106",
                "city": "330100", "years_registered": 4, "registered_capital": 500, "employees": 36,
                "insured_count": 32, "revenue": 1800, "revenue_band": "R3", "tax_credit_grade": "A",
                "in_arrears": False, "penalized_recently": False, "active": True,
                "certificates": ["business_licence"]}
    return {"age": 82, "sex": "female", "region": "330106", "city": "330100", "marital_status": "30",
            "household_size": None, "low_income": False, "disabled": False, "insured": False, "months_paid": 180,
            "employed": False, "certificates": []}


def test_rule(actor: Actor, policy_id: int, logic: Any, sample: dict[str, Any] | None,
              language: str = "zh") -> dict[str, Any]:
    """Try ``logic`` on ``sample`` (the policy's editors; nothing stored): ``{"problems", "passed",
    "reasons", "snapshot": {"rows", "matched", "as_of"} | None}``."""
    policy = editable(actor, policy_id)
    found = problems(logic, policy.target)
    if found:
        return {"problems": found, "passed": False, "reasons": [], "snapshot": None}
    if sample is not None and not isinstance(sample, dict):
        raise InvalidInput("样例应为 JSON 对象", "The sample must be a JSON object", code="invalid_sample")
    passed, reasons = explain(policy, logic, sample if sample is not None else sample_profile(policy.target), language)
    snapshot = latest_snapshot(policy.target)
    counted = None
    if snapshot is not None:
        try:
            matched = engine.match(snapshot_path(snapshot), {"rule": logic}, vocabulary.types_for(policy.target))
        except engine.SnapshotError:  # built with an older list of variables: no count until rebuilt
            matched = None
        if matched is not None:
            number = matched["rule"].count
            # Small counts would let a rule single out people and learn their data: shown exactly
            # to platform oversight only.
            shown = number if number >= SMALL_COUNT or may_oversee(actor) else f"<{SMALL_COUNT}"
            counted = {"rows": snapshot.rows, "matched": shown, "as_of": snapshot.as_of.isoformat()}
    return {"problems": [], "passed": passed, "reasons": reasons, "snapshot": counted}
