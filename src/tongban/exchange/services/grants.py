"""Grants (授权): what a consumer department may do with a provider's resource — items, modes,
purpose, legal basis, expiry, rate limit, and which items come back in clear.

Grants are created by ``requests.decide`` (or at once for 无条件共享 resources) through
``create_grant``. Callers hold the transaction. Authorization (deny by default):
* the provider department, the consumer department and the bureau see a grant; anyone else
  is told it does not exist (404);
* the provider (approver, steward, department admin) changes a grant: clear items, rate limit,
  expiry (only ever shortened);
* the provider or the bureau (bureau admin, chief data officer) revokes it, with a reason.
Every change writes a ledger entry and bumps the access generation in the same transaction,
so revocation and early expiry take effect on the very next access, in every worker.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from tongban.core import generations
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import AccessRequest, Grant
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.ledger import services as ledger

DECIDER_ROLES = (Role.APPROVER, Role.STEWARD, Role.DEPT_ADMIN)
BUREAU_ROLES = (Role.BUREAU_ADMIN, Role.CDO)
DEFAULT_RATE_LIMIT = 600
MAX_RATE_LIMIT = 100_000
MAX_TEXT = 2000

GRANT_UPDATED = "exchange.grant_updated"
GRANT_REVOKED = "exchange.grant_revoked"

SIDES = ("provider", "consumer")


# --- shared helpers (also used by requests.py) ----------------------------------------------------


def actor_name(actor: Actor) -> str:
    return actor.username or actor.kind


def is_bureau_official(actor: Actor) -> bool:
    return actor.kind == "official" and actor.is_bureau


def is_bureau_overseer(actor: Actor) -> bool:
    """The bureau's administrator or chief data officer (oversight: escalate, revoke)."""
    return is_bureau_official(actor) and actor.has_role(*BUREAU_ROLES)


def text_hash(text: str) -> str | None:
    """Free text (reasons, notes) enters the public ledger as its SHA-256 only."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def record(actor: str, action: str, resource_code: str, payload: dict[str, Any], department: str | None) -> None:
    ledger.record(actor=actor, action=action, subject=f"resource:{resource_code}", payload=payload,
                  department=department)


def required_text(value: str | None, field: str, label_zh: str, label_en: str, *, max_length: int = MAX_TEXT,
                  code: str | None = None) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"请填写{label_zh}", f"The {label_en} is required", code=code or f"{field}_required",
                           details={"errors": [_problem(field, code or f"{field}_required", f"请填写{label_zh}",
                                                        f"The {label_en} is required")]})
    if len(text) > max_length:
        message_zh, message_en = f"{label_zh}不得超过 {max_length} 个字符", f"The {label_en} is limited to {max_length} characters"
        raise InvalidInput(message_zh, message_en, code="too_long",
                           details={"errors": [_problem(field, "too_long", message_zh, message_en)]})
    return text


def _problem(field: str, code: str, message_zh: str, message_en: str) -> dict:
    return {"field": field, "code": code, "message_zh": message_zh, "message_en": message_en}


def check_rate_limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_RATE_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RATE_LIMIT:
        message_zh = f"调用频率上限应为 1 至 {MAX_RATE_LIMIT} 次/分钟"
        message_en = f"The rate limit must be 1 to {MAX_RATE_LIMIT} requests per minute"
        raise InvalidInput(message_zh, message_en, code="invalid_rate_limit",
                           details={"errors": [_problem("rate_limit_per_minute", "invalid_rate_limit", message_zh,
                                                        message_en)]})
    return value


def check_clear_items(clear_items: Iterable[str], items: list[str]) -> list[str]:
    chosen = set(clear_items)
    unknown = sorted(chosen.difference(items))
    if unknown:
        message_zh, message_en = "明文返回的信息项必须是已授权的信息项", "Items returned in clear must be granted items"
        raise InvalidInput(message_zh, message_en, code="invalid_clear_items",
                           details={"unknown": unknown,
                                    "errors": [_problem("clear_items", "invalid_clear_items", message_zh,
                                                        message_en)]})
    return [key for key in items if key in chosen]


# --- state ------------------------------------------------------------------------------------------------


def grant_state(grant: Grant, now: datetime.datetime | None = None) -> str:
    """``active``, ``expired``, ``revoked`` or ``not_started`` at ``now``."""
    now = now or timezone.now()
    if grant.status == Grant.Status.REVOKED:
        return "revoked"
    if now < grant.starts_at:
        return "not_started"
    if now >= grant.expires_at:
        return "expired"
    return "active"


def active_q(now: datetime.datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(status=Grant.Status.ACTIVE, starts_at__lte=now, expires_at__gt=now)


# --- creating (from a decision) ---------------------------------------------------------------------------


def create_grant(request: AccessRequest, *, created_by: str, clear_items: list[str],
                 rate_limit_per_minute: int, now: datetime.datetime | None = None) -> Grant:
    """The grant an approved request gives (the caller writes the ledger entry and checks rights)."""
    now = now or timezone.now()
    grant = Grant.objects.create(
        request=request, resource_code=request.resource_code, provider_id=request.provider_id,
        consumer_id=request.consumer_id, items=list(request.items), clear_items=list(clear_items),
        modes=list(request.modes), purpose=request.purpose, legal_basis=request.legal_basis,
        rate_limit_per_minute=rate_limit_per_minute, status=Grant.Status.ACTIVE, starts_at=now,
        expires_at=now + datetime.timedelta(days=request.duration_days), created_by=created_by,
    )
    generations.bump()
    return grant


def grant_payload(grant: Grant) -> dict[str, Any]:
    return {
        "grant": grant.pk, "request": grant.request_id, "consumer": grant.consumer.code,
        "provider": grant.provider.code, "items": list(grant.items), "clear_items": list(grant.clear_items),
        "modes": list(grant.modes), "rate_limit_per_minute": grant.rate_limit_per_minute,
        "expires_at": ledger.format_time(grant.expires_at),
    }


CONSUMING_SCOPES = frozenset({"exchange:query", "exchange:verify", "exchange:subscribe"})


# --- reading ------------------------------------------------------------------------------------------------


def _visible(actor: Actor) -> QuerySet[Grant]:
    require_authenticated(actor)
    rows = Grant.objects.select_related("provider", "consumer", "request")
    if is_bureau_official(actor):
        return rows
    if actor.kind not in ("official", "system") or actor.department_id is None:
        raise PermissionDenied("只有部门工作人员可以查看授权", "Only department staff see grants")
    # A department system sees its department's grants only when it may consume under them.
    if actor.kind == "system" and not any(actor.allows(scope) for scope in CONSUMING_SCOPES):
        raise PermissionDenied("该应用凭证无数据共享权限范围", "This system token has no exchange scope",
                               details={"required_scope": sorted(CONSUMING_SCOPES)})
    return rows.filter(Q(provider_id=actor.department_id) | Q(consumer_id=actor.department_id))


def list_grants(actor: Actor, *, side: str | None = None, active_only: bool = False) -> QuerySet[Grant]:
    """Grants of the actor's department as provider and as consumer (``side`` picks one); the
    bureau sees every grant unless it asks for a side (then its own department's)."""
    rows = _visible(actor)
    if side:
        if side not in SIDES:
            raise InvalidInput("side 只能是 provider 或 consumer", "side must be provider or consumer",
                               code="invalid_side")
        rows = rows.filter(**{f"{side}_id": actor.department_id})
    if active_only:
        rows = rows.filter(active_q())
    return rows.order_by("-created_at", "-id")


def get_grant(actor: Actor, grant_id: int) -> Grant:
    grant = _visible(actor).filter(pk=grant_id).first()
    if grant is None:
        raise NotFound("授权不存在", "No such grant", code="grant_not_found")
    return grant


def can_revoke(actor: Actor, grant: Grant) -> bool:
    if grant.status == Grant.Status.REVOKED:
        return False
    provider = actor.kind == "official" and actor.department_id == grant.provider_id \
        and actor.has_role(*DECIDER_ROLES)
    return provider or is_bureau_overseer(actor)


def can_update(actor: Actor, grant: Grant) -> bool:
    return (grant.status != Grant.Status.REVOKED and actor.kind == "official"
            and actor.department_id == grant.provider_id and actor.has_role(*DECIDER_ROLES))


# --- changing -----------------------------------------------------------------------------------------------


def _locked(actor: Actor, grant_id: int) -> Grant:
    get_grant(actor, grant_id)  # visibility: 404 for anyone else
    return Grant.objects.select_for_update(of=("self",)).select_related("provider", "consumer").get(pk=grant_id)


def revoke_grant(actor: Actor, grant_id: int, reason: str) -> Grant:
    """Revoke at once (provider or bureau); every later access is refused."""
    grant = _locked(actor, grant_id)
    if grant.status == Grant.Status.REVOKED:
        raise Conflict("该授权已撤销", "The grant is already revoked", code="grant_revoked")
    if not can_revoke(actor, grant):
        raise PermissionDenied("只有提供部门的审批人员、数据管理员或大数据局可以撤销授权",
                               "Only the provider's approver, steward or admin, or the bureau, revoke a grant")
    reason = required_text(reason, "reason", "撤销理由", "reason for revocation")
    now = timezone.now()
    grant.status = Grant.Status.REVOKED
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = now, actor_name(actor), reason
    grant.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    generations.bump()
    record(actor_name(actor), GRANT_REVOKED, grant.resource_code,
           {"grant": grant.pk, "request": grant.request_id, "consumer": grant.consumer.code,
            "provider": grant.provider.code, "reason_sha256": text_hash(reason)}, actor.department_code)
    return grant


def update_grant(actor: Actor, grant_id: int, *, clear_items: list[str] | None = None,
                 rate_limit_per_minute: int | None = None,
                 expires_at: datetime.datetime | None = None) -> Grant:
    """The provider narrows a grant: items in clear, rate limit, or an earlier expiry."""
    grant = _locked(actor, grant_id)
    if grant.status == Grant.Status.REVOKED:
        raise Conflict("该授权已撤销，不能修改", "A revoked grant cannot be changed", code="grant_revoked")
    if not can_update(actor, grant):
        raise PermissionDenied("只有提供部门的审批人员、数据管理员或部门管理员可以修改授权",
                               "Only the provider's approver, steward or admin change a grant")
    changes: dict[str, Any] = {}
    if clear_items is not None:
        cleaned = check_clear_items(clear_items, list(grant.items))
        if cleaned != list(grant.clear_items):
            changes["clear_items"] = cleaned
    if rate_limit_per_minute is not None:
        rate = check_rate_limit(rate_limit_per_minute)
        if rate != grant.rate_limit_per_minute:
            changes["rate_limit_per_minute"] = rate
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at)
        if expires_at > grant.expires_at:
            message_zh, message_en = "授权期限只能缩短，不能延长", "A grant's expiry can only be brought forward"
            raise InvalidInput(message_zh, message_en, code="expiry_extended",
                               details={"errors": [_problem("expires_at", "expiry_extended", message_zh,
                                                            message_en)]})
        if expires_at < grant.starts_at:
            message_zh, message_en = "到期时间不能早于授权生效时间", "The expiry cannot be before the grant starts"
            raise InvalidInput(message_zh, message_en, code="invalid_expiry",
                               details={"errors": [_problem("expires_at", "invalid_expiry", message_zh,
                                                            message_en)]})
        if expires_at != grant.expires_at:
            changes["expires_at"] = expires_at
    if not changes:
        return grant
    for name, value in changes.items():
        setattr(grant, name, value)
    grant.save(update_fields=list(changes))
    generations.bump()
    payload = {"grant": grant.pk, "request": grant.request_id, "consumer": grant.consumer.code,
               "changed": sorted(changes)}
    payload.update({k: (ledger.format_time(v) if isinstance(v, datetime.datetime) else v) for k, v in changes.items()})
    record(actor_name(actor), GRANT_UPDATED, grant.resource_code, payload, actor.department_code)
    return grant
