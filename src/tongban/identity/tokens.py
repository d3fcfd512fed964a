"""Bearer tokens: short-lived user sessions for the API and department-system credentials.

A token is ``tb<kind>_<random>``; only its SHA-256 is stored, so a database leak does not leak
usable credentials, and the token is shown once at creation. Revocation and expiry take effect
on the next request: ``actor_for_bearer`` looks the token up on every request, and the cached
lookup of hot paths (``cached_actor_for_bearer``) checks expiry against the clock each time and
is dropped whenever the access generation (``tongban.core.generations``) moves, which every
revocation bumps in its transaction. A hot path must therefore read the generation once per
request and hand it to ``observe_generation`` (the exchange reads it with the record).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, user_login_failed
from django.db import transaction
from django.utils import timezone

from tongban.core import generations
from tongban.core.errors import DomainError, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity import events
from tongban.identity.access import (
    Actor,
    Role,
    actor_for_user,
    require_role,
    require_same_department,
    validate_scopes,
)
from tongban.identity.mfa import mfa_required, verify_totp
from tongban.identity.models import AccessToken, Department, User

PREFIXES = {AccessToken.Kind.USER: "tbu", AccessToken.Kind.SYSTEM: "tbs"}
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)  # avoid a write on every request
MAX_SYSTEM_TOKEN_DAYS = 366


class AccountLocked(DomainError):
    status = 429
    code = "account_locked"
    message_zh = "登录失败次数过多，账号已暂时锁定，请稍后再试"
    message_en = "Too many failed logins: the account is locked for a while; try again later"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _new_token(kind: str, **fields) -> tuple[AccessToken, str]:
    key = f"{PREFIXES[kind]}_{secrets.token_urlsafe(32)}"
    token = AccessToken.objects.create(kind=kind, key_hash=hash_key(key), prefix=key[:10], **fields)
    return token, key


@dataclass(frozen=True)
class IssuedToken:
    token: AccessToken
    key: str  # shown once

    @property
    def expires_in(self) -> int:
        return max(0, int((self.token.expires_at - timezone.now()).total_seconds()))


def login_for_token(request, username: str, password: str, otp: str | None = None) -> IssuedToken:
    """Check credentials (with lockout and TOTP) and issue a short-lived user token.

    The exception to "the caller holds the transaction": failed attempts are recorded
    (django-axes, security events) even though the call then fails, so this function must
    run outside a transaction and commits the issued token in its own.
    """
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        events.record_auth_event(events.LOCKED_OUT, actor=username)
        raise AccountLocked()
    if user is None:
        events.record_auth_event(events.LOGIN_FAILED, actor=username, payload={"reason": "credentials"})
        raise NotAuthenticated("用户名或密码错误", "Wrong username or password", code="invalid_credentials")
    if mfa_required(user):
        check_second_factor(request, user, otp)
    with transaction.atomic():
        issued = issue_user_token(user)
        events.record_auth_event(events.LOGIN_SUCCEEDED, actor=user.username, payload={"channel": "api"})
    return issued


def check_second_factor(request, user: User, otp: str | None) -> None:
    """TOTP for roles that require it; a wrong code counts as a failed login for the lockout."""
    if not user.totpdevice_set.filter(confirmed=True).exists():
        raise PermissionDenied(
            "您的角色须先启用双因素认证（TOTP）", "Your role requires two-factor authentication: enrol TOTP first",
            code="mfa_enrolment_required",
        )
    if not otp:
        raise NotAuthenticated("请输入动态验证码", "A one-time code (otp) is required", code="otp_required")
    if not verify_totp(user, otp):
        user_login_failed.send(sender=__name__, credentials={"username": user.username}, request=request)
        events.record_auth_event(events.LOGIN_FAILED, actor=user.username, payload={"reason": "otp"})
        raise NotAuthenticated("动态验证码错误", "The one-time code is wrong", code="invalid_otp")


def issue_user_token(user: User) -> IssuedToken:
    ttl = datetime.timedelta(seconds=settings.TONGBAN_USER_TOKEN_TTL)
    token, key = _new_token(AccessToken.Kind.USER, user=user, name="api session",
                            expires_at=timezone.now() + ttl)
    return IssuedToken(token, key)


def create_system_token(actor: Actor, *, name: str, scopes: list[str], expires_in_days: int) -> IssuedToken:
    """A steward (or department admin) creates a credential for one of the department's systems."""
    require_role(actor, Role.STEWARD, Role.DEPT_ADMIN)
    if actor.scopes is not None:  # a system token cannot mint tokens
        raise PermissionDenied()
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("请填写应用名称（不超过100字）", "Give the system a name (at most 100 characters)",
                           code="invalid_name")
    if not 1 <= expires_in_days <= MAX_SYSTEM_TOKEN_DAYS:
        raise InvalidInput(f"有效期须为 1 至 {MAX_SYSTEM_TOKEN_DAYS} 天",
                           f"Validity must be 1 to {MAX_SYSTEM_TOKEN_DAYS} days", code="invalid_expiry")
    chosen = validate_scopes(scopes)
    token, key = _new_token(
        AccessToken.Kind.SYSTEM, name=name, department_id=actor.department_id, scopes=chosen,
        created_by_id=actor.user_id, expires_at=timezone.now() + datetime.timedelta(days=expires_in_days),
    )
    events.record_auth_event(events.TOKEN_CREATED, actor=actor.username, subject=f"token:{token.pk}",
                             department=actor.department_code, payload={"scopes": chosen, "name": name})
    return IssuedToken(token, key)


def list_system_tokens(actor: Actor):
    require_role(actor, Role.STEWARD, Role.DEPT_ADMIN, Role.BUREAU_ADMIN)
    tokens = AccessToken.objects.filter(kind=AccessToken.Kind.SYSTEM).select_related("department")
    if not (actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)):
        tokens = tokens.filter(department_id=actor.department_id)
    return tokens.order_by("-created_at")


def revoke_token(actor: Actor, token_id: int) -> AccessToken:
    require_role(actor, Role.STEWARD, Role.DEPT_ADMIN, Role.BUREAU_ADMIN)
    token = AccessToken.objects.filter(pk=token_id, kind=AccessToken.Kind.SYSTEM).first()
    if token is None:
        raise NotFound()
    require_same_department(actor, token.department_id, bureau_sees_all=actor.has_role(Role.BUREAU_ADMIN))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        generations.bump()  # every process drops its cached lookup of this token
        events.record_auth_event(events.TOKEN_REVOKED, actor=actor.username, subject=f"token:{token.pk}",
                                 department=token.department.code if token.department else None)
    return token


def revoke_user_token(key: str) -> None:
    """Log out of an API session."""
    if AccessToken.objects.filter(key_hash=hash_key(key), revoked_at=None).update(revoked_at=timezone.now()):
        generations.bump()


def actor_for_bearer(key: str) -> Actor | None:
    """The actor a bearer token stands for, or None when it is unknown, revoked or expired."""
    if not key or len(key) > 200:
        return None
    found = _token_actor(AccessToken.objects.filter(key_hash=hash_key(key)))
    return found[0] if found is not None else None


def _token_actor(tokens) -> tuple[Actor, datetime.datetime] | None:
    """The actor of the one token in ``tokens`` (a queryset) and its expiry, if it is valid."""
    token = tokens.select_related("user__department", "department").first()
    now = timezone.now()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    if token.kind == AccessToken.Kind.USER:
        actor = actor_for_user(token.user, token_id=token.pk)
        return (actor, token.expires_at) if actor.is_authenticated else None
    department: Department = token.department
    actor = Actor(
        kind="system", username=f"system:{token.prefix}", department_id=department.pk,
        department_code=department.code, is_bureau=department.is_bureau,
        scopes=frozenset(token.scopes), token_id=token.pk,
    )
    return actor, token.expires_at


# --- the cached lookup of hot paths ------------------------------------------------------------

# Re-read a cached token at least this often even when nothing bumped the generation (so
# last_used_at stays within a minute, and role changes of a token's user reach the cache).
CACHE_SECONDS = 60.0
CACHE_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _CachedToken:
    actor: Actor
    expires_at: float  # Unix time
    fetched_at: float  # time.monotonic()


_cache: dict[str, _CachedToken] = {}
_seen_generation: list[int | None] = [None]


def cached_actor_for_bearer(key: str) -> Actor | None:
    """``actor_for_bearer`` from a per-process cache: no query while the token is cached.

    Expiry is checked against the clock on every call. The cache is only as fresh as the last
    ``observe_generation``: the caller must read the generation in the same request and pass it
    there, then ``revalidate`` the actor if that reports a change.
    """
    if not key or len(key) > 200:
        return None
    key_hash = hash_key(key)
    entry = _cache.get(key_hash)
    if entry is not None:
        if time.time() < entry.expires_at and time.monotonic() - entry.fetched_at < CACHE_SECONDS:
            return entry.actor
        _cache.pop(key_hash, None)
    found = _token_actor(AccessToken.objects.filter(key_hash=key_hash))
    if found is None:
        return None
    actor, expires_at = found
    if len(_cache) >= CACHE_MAX_ENTRIES:
        _cache.clear()
    _cache[key_hash] = _CachedToken(actor, expires_at.timestamp(), time.monotonic())
    return actor


def observe_generation(generation: int) -> bool:
    """Tell the cache the access generation just read; True (and the cache dropped) if it moved."""
    if _seen_generation[0] == generation:
        return False
    _cache.clear()
    _seen_generation[0] = generation
    return True


def revalidate(actor: Actor) -> Actor | None:
    """The token-based ``actor`` re-read from the database (None: revoked, expired or gone)."""
    if actor.token_id is None:
        return actor
    found = _token_actor(AccessToken.objects.filter(pk=actor.token_id))
    return found[0] if found is not None else None


def clear_cache() -> None:
    _cache.clear()
    _seen_generation[0] = None
