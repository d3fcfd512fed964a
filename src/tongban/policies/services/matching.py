"""Matching (精准匹配): one subject against every policy, with reasons; and in bulk, every
subject against chosen policies, set-wise on the analytic engine.

* One subject (``my_policies``, ``qualify``): the subject's live profile, each rule evaluated
  with ``core.jsonlogic.explain`` — the same semantics the compiler reproduces in SQL — so the
  reasons shown are exactly why.
* Bulk (``start_match`` → job ``policies.match``): a fresh profile snapshot, every chosen rule
  compiled and run over it in one scan per group (``engine.match``), one ``MatchRun`` per policy
  (the matches as a bitmap over the snapshot), then delivery to the matched subjects that have
  accounts (``delivery.deliver_run``). Progress: snapshot 0–60 %, matching 60–80 %,
  delivery 80–100 %.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.jobs import job_task, report_progress, start_job
from tongban.core.models import Job
from tongban.identity.access import Actor, Role, require_authenticated, require_kind
from tongban.policies import engine, profiles
from tongban.policies import variables as vocabulary
from tongban.policies.models import Delivery, EligibilityRule, MatchRun, Policy
from tongban.policies.services import delivery, snapshots
from tongban.policies.services.delivery import benefit_amount, subject_of
from tongban.policies.services.policies import current_rule, editable, is_in_force, library
from tongban.policies.services.rules import explain, value_labels

PERCENT = 100
RUNNING_FOR = datetime.timedelta(hours=2)
logger = logging.getLogger("tongban.policies")


def _assessment(policy: Policy, rule: EligibilityRule | None, profile: dict[str, Any] | None,
                language: str, values: dict | None = None) -> dict[str, Any]:
    if rule is None or profile is None:
        return {"policy": policy, "matched": False, "reasons": [], "amount": None, "rule_version": None}
    matched, reasons = explain(policy, rule.logic, profile, language, values)
    return {"policy": policy, "matched": matched, "reasons": reasons, "rule_version": rule.version,
            "amount": benefit_amount(policy, profile) if matched else None}


def my_policies(actor: Actor, *, language: str = "zh", matched_only: bool = False) -> list[dict[str, Any]]:
    """Every policy in force for the actor's kind, whether they qualify and why, with their
    delivery (if one reached them); qualifying ones first."""
    require_kind(actor, "citizen", "enterprise")
    profile = profiles.profile_for(actor.kind, subject_of(actor))
    policies = [p for p in library(target=actor.kind) if is_in_force(p)]
    rules = {r.policy_id: r for r in EligibilityRule.objects.filter(policy__in=policies, is_current=True)}
    deliveries = {d.policy_id: d for d in Delivery.objects.filter(user_id=actor.user_id, policy__in=policies)}
    out = []
    labels = value_labels(actor.kind, language)
    for policy in policies:
        entry = _assessment(policy, rules.get(policy.pk), profile, language, labels)
        entry["delivery"] = deliveries.get(policy.pk)
        if entry["matched"] or not matched_only:
            out.append(entry)
    out.sort(key=lambda e: (not e["matched"], -(e["policy"].published_at or timezone.now()).timestamp()))
    return out


def qualify(actor: Actor, policy: Policy, *, language: str = "zh") -> dict[str, Any] | None:
    """"Do I qualify" for one policy (None for callers who are not its target kind)."""
    if actor.kind != policy.target or not actor.user_id:
        return None
    profile = profiles.profile_for(actor.kind, subject_of(actor))
    entry = _assessment(policy, current_rule(policy), profile, language)
    entry["delivery"] = Delivery.objects.filter(user_id=actor.user_id, policy=policy).first()
    return entry


# --- bulk ------------------------------------------------------------------------------------------------------


def _may_run(actor: Actor, policy: Policy) -> None:
    if actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN):
        return
    editable(actor, policy.pk)


def start_match(actor: Actor, policy_ids: list[int] | None = None, *, deliver: bool = True) -> Job:
    """Queue a bulk match of the given published policies (None: every policy in force — the
    bureau's administrator only). Answers the job to follow."""
    require_authenticated(actor)
    if policy_ids is None:
        if not (actor.kind == "official" and actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)):
            raise PermissionDenied("只有大数据局管理员可以匹配全部政策", "Only the bureau's administrator matches all policies")
        chosen = [p for p in library() if is_in_force(p)]
    else:
        chosen = []
        for policy_id in policy_ids:
            policy = Policy.objects.filter(pk=policy_id).first()
            if policy is None:
                raise NotFound("没有这项政策", "No such policy")
            _may_run(actor, policy)
            if not is_in_force(policy):
                raise Conflict("只有已发布且在有效期内的政策可以匹配", "Only a published policy in force is matched",
                               code="policy_not_in_force", details={"status": policy.status})
            chosen.append(policy)
    if not chosen:
        raise InvalidInput("没有可匹配的政策", "No policy to match", code="nothing_to_match")
    # One bulk match at a time: each rebuilds every subject's profile (a stuck job stops blocking
    # after RUNNING_FOR).
    running = Job.objects.filter(kind=match_task.kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING],
                                 created_at__gte=timezone.now() - RUNNING_FOR).first()
    if running is not None:
        raise Conflict("已有一个政策匹配任务在运行，请稍后再试", "A policy match is already running; try again later",
                       code="match_running", details={"job": str(running.pk)})
    return start_job(match_task, [p.pk for p in chosen], deliver, created_by=actor.username or actor.kind,
                     department=actor.department_code or "", total=PERCENT)


def run_match(policy_ids: list[int], *, created_by: str, deliver: bool = True, job_id: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The bulk match itself (the job's body; also the CLI's). Answers per-policy figures."""
    def report(done: float) -> None:
        value = min(int(done), PERCENT)
        if job_id:
            report_progress(job_id, value, PERCENT)
        if progress is not None:
            progress(value, PERCENT)

    policies = list(Policy.objects.filter(pk__in=policy_ids).select_related("department"))
    rules = {r.policy_id: r for r in EligibilityRule.objects.filter(policy__in=policies, is_current=True)}
    targets = sorted({p.target for p in policies if p.pk in rules})
    result: dict[str, Any] = {"policies": {}, "snapshots": {}}
    share = 1 / max(len(targets), 1)
    for index, target in enumerate(targets):
        base = index * share * PERCENT
        snapshot = snapshots.build_snapshot(
            target, created_by=created_by,
            progress=lambda done, total, base=base: report(base + share * 60 * done / max(total, 1)))
        result["snapshots"][target] = {"id": snapshot.pk, "rows": snapshot.rows}
        chosen = [p for p in policies if p.target == target and p.pk in rules]
        started = time.perf_counter()
        matches, failed = _match_isolated(
            snapshots.snapshot_path(snapshot), {p.pk: rules[p.pk].logic for p in chosen}, vocabulary.types_for(target),
            progress=lambda done, total, base=base: report(base + share * (60 + 20 * done / max(total, 1))))
        elapsed = int((time.perf_counter() - started) * 1000)
        for number, policy in enumerate(chosen, start=1):
            if policy.pk in failed:
                result["policies"][policy.code] = {"error": failed[policy.pk]}
                continue
            found = matches[policy.pk]
            job = Job.objects.filter(pk=job_id).first() if job_id else None
            run = MatchRun.objects.create(policy=policy, rule_version=rules[policy.pk].version, snapshot=snapshot,
                                          job=job, matched=found.count, bitmap=found.bitmap,
                                          duration_ms=elapsed // max(len(chosen), 1), created_by=created_by)
            sent = granted = 0
            if deliver:
                sent, granted = delivery.deliver_run(run, rules[policy.pk], created_by=created_by)
                MatchRun.objects.filter(pk=run.pk).update(delivered=sent, granted=granted)
            result["policies"][policy.code] = {"run": run.pk, "matched": found.count, "delivered": sent,
                                               "granted": granted}
            report(base + share * (80 + 20 * number / len(chosen)))
    report(PERCENT)
    return result


def _match_isolated(path, rules: dict[int, Any], types: dict[str, str], *,
                    progress: Callable[[int, int], None]) -> tuple[dict, dict[int, str]]:
    """All rules in shared scans; should that fail, each rule on its own, so one policy's
    faulty rule fails that policy only (its error in the result), never the others'."""
    try:
        return engine.match(path, rules, types, progress=progress), {}
    except Exception:  # noqa: BLE001 - isolate below, rule by rule
        logger.warning("bulk match of %d rules failed together; matching them one by one", len(rules))
    matches, failed = {}, {}
    for key, logic in rules.items():
        try:
            matches.update(engine.match(path, {key: logic}, types))
        except Exception as exc:  # noqa: BLE001 - reported per policy
            logger.exception("policy %s: its rule could not be matched", key)
            failed[key] = type(exc).__name__
    return matches, failed


@job_task("policies.match")
def match_task(job_id: str, policy_ids: list[int], deliver: bool = True) -> dict[str, Any]:
    job = Job.objects.get(pk=job_id)
    return run_match(policy_ids, created_by=job.created_by, deliver=deliver, job_id=job_id)
