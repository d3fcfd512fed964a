"""Delivery (送达), handling (办理) and evaluation (评价) on the beneficiary's side.

After a bulk match, every matched subject that has an account gets one ``Delivery`` (once per
policy: a later run does not notify again) with the reasons, an inbox notice and a ledger entry
(the subject as a keyed hash). By mode:

* notify — the notice links to the policy;
* apply (一键申报) — the notice links to one-click application: ``apply`` re-checks the live
  profile, starts the policy's service-item application prefilled from the shared data and the
  wallet (``onestop.start_application``) and marks the delivery applied;
* auto_grant (免申即享) — a ``BenefitGrant`` with the amount and its own ledger entry; the notice
  says what was granted. Nobody has to apply. Only under a rule version a second official
  confirmed (publishing confirms; ``rules.confirm_rule`` confirms a later version).
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from tongban.core import jsonlogic
from tongban.core.errors import Conflict, InvalidInput, NotFound
from tongban.core.notifications import notify
from tongban.identity.access import Actor, require_kind
from tongban.identity.models import Citizen, Enterprise
from tongban.ledger import services as ledger
from tongban.onestop.models import Application
from tongban.onestop.services.applications import start_application
from tongban.policies import engine, profiles
from tongban.policies.models import BenefitGrant, Delivery, EligibilityRule, MatchRun, Policy, PolicyRating
from tongban.policies.services import snapshots
from tongban.policies.services.policies import accepts_applications, current_rule, get_policy, is_in_force
from tongban.policies.services.rules import explain, needs_confirmation, value_labels

logger = logging.getLogger("tongban.policies")
DELIVERED = "policies.delivered"
GRANTED = "policies.granted"
APPLIED = "policies.applied"
CATEGORY = "policy"
# An application that ended like this may be made again (a new one replaces it on the delivery).
ENDED_WITHOUT_BENEFIT = {Application.Status.WITHDRAWN, Application.Status.REFUSED, Application.Status.DENIED}


MAX_AMOUNT = Decimal("1e11")  # below the amount columns' 14 digits (12 before the point)
CHUNK = 500  # deliveries per transaction: a long delivery must not hold the write lock for minutes


def benefit_amount(policy: Policy, profile: dict[str, Any]) -> Decimal | None:
    """The amount for one beneficiary: the fixed amount, or the formula over the profile, capped,
    in yuan and fen. None when it cannot be computed for this profile, or is not a positive amount
    below ``MAX_AMOUNT`` — nobody is paid an amount the policy's figures did not produce."""
    if policy.benefit_formula:
        try:
            value = jsonlogic.evaluate(policy.benefit_formula, profile)
        except (jsonlogic.RuleError, RecursionError):
            return None
        if not jsonlogic.is_number(value):
            return None
        amount = Decimal(str(value))
    elif policy.benefit_amount is not None:
        amount = policy.benefit_amount
    else:
        return None
    if policy.benefit_cap is not None:
        amount = min(amount, policy.benefit_cap)
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        return None
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def subject_of(actor: Actor) -> str:
    if actor.kind == "enterprise":
        return Enterprise.objects.filter(user_id=actor.user_id).values_list("uscc", flat=True).first() or ""
    return Citizen.objects.filter(user_id=actor.user_id).values_list("id_number", flat=True).first() or ""


def _accounts(target: str) -> dict[str, int]:
    """subject -> user id of every subject of ``target`` with an active account."""
    model, key = (Enterprise, "uscc") if target == Policy.Target.ENTERPRISE else (Citizen, "id_number")
    return dict(model.objects.filter(user__isnull=False, user__is_active=True).values_list(key, "user_id"))


def _yuan(amount: Decimal | None) -> str:
    return f"{amount:,.2f}" if amount is not None else ""


def _summary(reasons: list[dict[str, Any]]) -> str:
    return "；".join(r["condition"] for r in reasons if r.get("passed"))[:900]


def _notice(policy: Policy, delivery: Delivery) -> None:
    reasons = _summary(delivery.reasons)
    if policy.mode == Policy.Mode.AUTO_GRANT:
        title_zh = f"免申即享：{policy.title} 已为您兑现 {_yuan(delivery.amount)} 元"
        title_en = f"Granted without application: {policy.title_en or policy.title}, CNY {_yuan(delivery.amount)}"
        link = f"/policies/{policy.pk}/"
    elif policy.mode == Policy.Mode.APPLY:
        title_zh = f"您符合「{policy.title}」的享受条件，可一键申报"
        title_en = f"You qualify for {policy.title_en or policy.title}: apply in one click"
        link = f"/policies/{policy.pk}/apply/"
    else:
        title_zh = f"您符合「{policy.title}」的享受条件"
        title_en = f"You qualify for {policy.title_en or policy.title}"
        link = f"/policies/{policy.pk}/"
    notify(delivery.user, category=CATEGORY, title_zh=title_zh, title_en=title_en,
           body_zh=f"符合的条件：{reasons}", body_en=f"Conditions met: {reasons}", link=link)


def deliver_run(run: MatchRun, rule: EligibilityRule, *, created_by: str) -> tuple[int, int]:
    """Deliver ``run``'s matches to subjects with accounts, in transactions of ``CHUNK``
    subjects. Each chunk locks the policy and checks again that it is in force and that ``rule``
    is still its current version — a policy withdrawn, expired or re-ruled while the job ran
    delivers nothing more. Answers (deliveries made, benefits granted)."""
    policy = run.policy
    accounts = _accounts(policy.target)
    if not accounts or not run.matched:
        return 0, 0
    path = snapshots.snapshot_path(run.snapshot)
    matched = engine.subjects(path, run.bitmap, among=accounts.keys())
    sent = granted = 0
    for start in range(0, len(matched), CHUNK):
        with transaction.atomic():
            current = Policy.objects.select_for_update().select_related("department").filter(pk=policy.pk).first()
            still = EligibilityRule.objects.filter(policy=current, is_current=True, version=rule.version).first()
            if current is None or not is_in_force(current) or still is None:
                logger.info("policy %s changed during run %s: delivery stopped", policy.code, run.pk)
                break
            if needs_confirmation(current, still):  # four-eyes: nothing is paid under an unconfirmed rule
                logger.info("policy %s rule v%s awaits confirmation: not delivered", policy.code, rule.version)
                break
            made, paid = _deliver_chunk(current, run, rule, matched[start:start + CHUNK], accounts, path,
                                        created_by=created_by)
            sent, granted = sent + made, granted + paid
    return sent, granted


def _deliver_chunk(policy: Policy, run: MatchRun, rule: EligibilityRule, subjects: list[str],
                   accounts: dict[str, int], path, *, created_by: str) -> tuple[int, int]:
    done = set(Delivery.objects.filter(policy=policy, subject__in=subjects).values_list("subject", flat=True))
    fresh = [s for s in subjects if s not in done]
    if not fresh:
        return 0, 0
    rows = engine.profile_rows(path, fresh)
    now = timezone.now()
    sent = granted = 0
    labels = value_labels(policy.target)
    for subject in fresh:
        profile = rows.get(subject)
        passed, reasons = explain(policy, rule.logic, profile or {}, values=labels)
        if profile is None or not passed:  # the two evaluations disagree: never deliver on doubt
            logger.error("policy %s run %s: compiled match not confirmed row by row", policy.code, run.pk)
            continue
        amount = benefit_amount(policy, profile)
        if policy.mode == Policy.Mode.AUTO_GRANT and amount is None:
            # No amount to grant (the data the formula reads is missing): no delivery either, so a
            # later run, once the data is there, delivers and grants.
            logger.warning("policy %s run %s: no amount for a matched subject; not delivered", policy.code, run.pk)
            continue
        item = Delivery.objects.create(
            policy=policy, run=run, user_id=accounts[subject], subject=subject, rule_version=run.rule_version,
            reasons=reasons, amount=amount, notified_at=now, due_on=policy.apply_until
            if policy.mode == Policy.Mode.APPLY else None)
        ledger.record(actor=created_by, action=DELIVERED, subject=f"policy:{policy.code}",
                      department=policy.department.code, subject_ids=[subject],
                      payload={"rule_version": run.rule_version, "run": run.pk, "mode": policy.mode})
        sent += 1
        if policy.mode == Policy.Mode.AUTO_GRANT:
            _grant(policy, item, amount, created_by=created_by)
            granted += 1
        _notice(policy, item)
    return sent, granted


def _grant(policy: Policy, item: Delivery, amount: Decimal, *, created_by: str) -> BenefitGrant:
    event = ledger.record(actor=created_by, action=GRANTED, subject=f"policy:{policy.code}",
                          department=policy.department.code, subject_ids=[item.subject],
                          payload={"amount": str(amount), "currency": "CNY", "rule_version": item.rule_version})
    grant = BenefitGrant.objects.create(policy=policy, delivery=item, subject=item.subject, amount=amount,
                                        rule_version=item.rule_version, granted_at=timezone.now(),
                                        ledger_event=event.pk)
    item.status, item.handled_at = Delivery.Status.GRANTED, grant.granted_at
    item.save(update_fields=["status", "handled_at"])
    return grant


def apply(actor: Actor, policy_id: int, *, language: str = "zh") -> Application:
    """One-click application (一键申报): the live profile must still qualify; the application of
    the policy's service item is started prefilled (or the existing draft answered)."""
    require_kind(actor, "citizen", "enterprise")
    policy = get_policy(actor, policy_id)
    if policy.mode != Policy.Mode.APPLY or actor.kind != policy.target:
        raise Conflict("这项政策不需要或不面向您申报", "This policy takes no application from you",
                       code="not_applicable", details={"mode": policy.mode, "target": policy.target})
    if not accepts_applications(policy):
        raise Conflict("不在申报期内", "Applications are not open", code="outside_application_window",
                       details={"apply_from": str(policy.apply_from or ""), "apply_until": str(policy.apply_until or "")})
    rule = current_rule(policy)
    subject = subject_of(actor)
    profile = profiles.profile_for(actor.kind, subject) if subject else None
    if rule is None or profile is None:
        raise NotFound("没有这项政策", "No such policy")
    passed, reasons = explain(policy, rule.logic, profile, language)
    if not passed:
        raise Conflict("您暂不符合享受条件", "You do not meet the conditions", code="not_eligible",
                       details={"reasons": reasons})
    # The policy row lock serialises the delivery rows of the policy — with a concurrent one-click
    # application of the same beneficiary and with a bulk delivery chunk (which locks it too) —
    # so the one delivery per policy and subject is found, never inserted twice.
    Policy.objects.select_for_update().filter(pk=policy.pk).first()
    item = Delivery.objects.select_for_update().filter(policy=policy, subject=subject).first()
    if item is not None and item.application_number:
        earlier = Application.objects.filter(number=item.application_number, applicant_id=actor.user_id).first()
        if earlier is not None and earlier.status not in ENDED_WITHOUT_BENEFIT:
            return earlier  # one application per policy and beneficiary: answer the one in progress
    application = start_application(actor, policy.service_item)
    now = timezone.now()
    if item is None:  # found in the library rather than delivered: recorded the same way
        item = Delivery(policy=policy, user_id=actor.user_id, subject=subject, rule_version=rule.version,
                        reasons=reasons, amount=benefit_amount(policy, profile), notified_at=now,
                        viewed_at=now, due_on=policy.apply_until)
    if item.application_number != application.number:
        item.status, item.handled_at, item.application_number = Delivery.Status.APPLIED, now, application.number
        item.save()
        ledger.record(actor=actor.username or actor.kind, action=APPLIED, subject=f"policy:{policy.code}",
                      department=policy.department.code, subject_ids=[subject],
                      payload={"application": application.number, "rule_version": rule.version})
    return application


def rate(actor: Actor, policy_id: int, score: int, comment: str = "") -> PolicyRating:
    """A beneficiary rates how the policy reached them (once per delivery)."""
    require_kind(actor, "citizen", "enterprise")
    # policy__pk, not policy_id: Django answers "no row" for an id no integer column can hold only
    # through the target's own lookup (a raw foreign key with 2**63 was a 500 on SQLite).
    item = Delivery.objects.select_for_update().filter(policy__pk=policy_id, user_id=actor.user_id).first()
    if item is None:
        raise NotFound("您没有收到这项政策", "This policy was not delivered to you")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput("评分应为 1–5", "The score is 1 to 5", code="invalid_score")
    if PolicyRating.objects.filter(delivery=item).exists():
        raise Conflict("您已评价过这项政策", "You have rated this policy already", code="already_rated")
    return PolicyRating.objects.create(delivery=item, score=score, comment=(comment or "").strip()[:1000])


def check_submission(actor: Actor, application: Application) -> None:
    """A one-click application of a policy is submitted only while the policy still takes
    applications and the applicant still qualifies (registered with onestop's submission checks)."""
    item = Delivery.objects.select_related("policy", "policy__department").filter(
        application_number=application.number).first()
    if item is None:
        return
    policy = item.policy
    if not accepts_applications(policy):
        raise Conflict("该政策已不在申报期内", "The policy no longer takes applications",
                       code="outside_application_window", details={"policy": policy.pk})
    rule = current_rule(policy)
    profile = profiles.profile_for(policy.target, item.subject)
    passed, reasons = explain(policy, rule.logic, profile) if rule and profile else (False, [])
    if not passed:
        raise Conflict("您已不符合该政策的享受条件", "You no longer meet the policy's conditions",
                       code="not_eligible", details={"policy": policy.pk, "reasons": reasons})

