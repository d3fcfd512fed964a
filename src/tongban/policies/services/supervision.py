"""Supervision (督查) and evaluation (评价): per policy, how many subjects were matched,
notified, looked, applied and were granted, the amounts, handling that is overdue, and the
beneficiaries' ratings. The bureau urges (督办) the issuing department where handling lags.

Who sees what: the issuing department's stewards, approvers and administrators see their
policies; the bureau's administrator, chief data officer and auditor see all (the auditor read
only: urging is the administrator's and the CDO's).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.core.notifications import notify
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.identity.models import User
from tongban.ledger import services as ledger
from tongban.onestop.models import Application
from tongban.policies.models import BenefitGrant, Delivery, MatchRun, Policy, PolicyRating
from tongban.policies.services.policies import EDIT_ROLES, may_oversee

URGED = "policies.urged"
FINAL = {Application.Status.APPROVED, Application.Status.DENIED, Application.Status.COMPLETED,
         Application.Status.REFUSED, Application.Status.WITHDRAWN}
SUCCESS = {Application.Status.APPROVED, Application.Status.COMPLETED}
CENT = Decimal("0.01")


def visible_policies(actor: Actor):
    require_authenticated(actor)
    rows = Policy.objects.exclude(status=Policy.Status.DRAFT).select_related("department").order_by("-published_at")
    if may_oversee(actor):
        return rows
    if actor.kind == "official" and actor.department_id and actor.has_role(*EDIT_ROLES):
        return rows.filter(department_id=actor.department_id)
    raise PermissionDenied("只有政策发布部门和大数据局可以查看督查数据",
                           "Only the issuing department and the bureau see supervision figures")


def figures(policy: Policy) -> dict[str, Any]:
    """The supervision figures of one policy."""
    today = timezone.localdate()
    latest = MatchRun.objects.filter(policy=policy).order_by("-created_at", "-pk").first()
    deliveries = Delivery.objects.filter(policy=policy)
    statuses = Counter(dict(deliveries.values_list("status").annotate(n=Count("pk")).values_list("status", "n")))
    numbers = deliveries.exclude(application_number="").values("application_number")
    applications = Application.objects.filter(number__in=numbers)  # a subquery, not one parameter each
    applied = deliveries.exclude(application_number="").count()
    approved = applications.filter(status__in=SUCCESS).count()
    overdue = list(applications.exclude(status__in=FINAL | {Application.Status.DRAFT})
                   .filter(due_on__lt=today).values_list("number", flat=True))
    grants = BenefitGrant.objects.filter(policy=policy).aggregate(n=Count("pk"), amount=Sum("amount"))
    ratings = PolicyRating.objects.filter(delivery__policy=policy)
    scores = Counter(ratings.values_list("score", flat=True))
    rated = sum(scores.values())
    return {
        "policy": policy,
        "matched": latest.matched if latest else 0,
        "last_run": latest.created_at if latest else None,
        "notified": sum(statuses.values()),
        "viewed": deliveries.exclude(viewed_at=None).count(),
        "applied": applied,
        "granted": (grants["n"] or 0) + approved,
        "amount": (grants["amount"] or Decimal(0)).quantize(CENT),  # SQLite's SUM drops the scale
        "overdue": len(overdue),
        "overdue_applications": sorted(overdue),
        "not_handled": deliveries.filter(status__in=[Delivery.Status.NOTIFIED, Delivery.Status.VIEWED]).count(),
        "ratings": rated,
        "rating_average": round(sum(k * v for k, v in scores.items()) / rated, 2) if rated else None,
        "rating_distribution": {score: scores.get(score, 0) for score in range(1, 6)},
    }


def dashboard(actor: Actor) -> dict[str, Any]:
    """Figures of every policy the actor may supervise, and their totals."""
    rows = [figures(policy) for policy in visible_policies(actor)]
    totals = {key: sum(row[key] for row in rows) for key in ("matched", "notified", "viewed", "applied", "granted",
                                                             "overdue", "ratings")}
    totals["amount"] = sum((row["amount"] for row in rows), Decimal(0)).quantize(CENT)
    return {"policies": rows, "totals": totals}


def policy_figures(actor: Actor, policy_id: int) -> dict[str, Any]:
    policy = visible_policies(actor).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("没有这项政策", "No such policy")
    out = figures(policy)
    out["comments"] = list(PolicyRating.objects.filter(delivery__policy=policy).exclude(comment="")
                           .order_by("-created_at", "-pk").values("score", "comment", "created_at")[:50])
    return out


def urge(actor: Actor, policy_id: int, note: str) -> int:
    """督办: the bureau (administrator or CDO) reminds the issuing department; answers how many of
    its officials were notified."""
    require_authenticated(actor)
    if not (actor.kind == "official" and actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN, Role.CDO)):
        raise PermissionDenied("只有大数据局管理员或首席数据官可以督办", "Only the bureau's administrator or CDO urges")
    note = (note or "").strip()
    if not note:
        raise InvalidInput("督办须写明事项", "Say what is to be done", code="reason_required")
    policy = visible_policies(actor).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("没有这项政策", "No such policy")
    officials = User.objects.filter(department_id=policy.department_id, is_active=True,
                                    role_assignments__role__in=EDIT_ROLES).distinct()
    sent = 0
    for user in officials:
        notify(user, category="policy_urge", title_zh=f"政策督办：{policy.title}",
               title_en=f"Policy follow-up: {policy.title_en or policy.title}", body_zh=note[:1000],
               body_en=note[:1000], link=f"/workbench/policies/{policy.pk}/supervision/")
        sent += 1
    ledger.record(actor=actor.username, action=URGED, subject=f"policy:{policy.code}", department="bureau",
                  payload={"note": note[:500], "notified": sent})
    return sent
