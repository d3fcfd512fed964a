"""Who may consume a resource, and how: the caller check, the grant check, and the per-process
caches that keep both off the database on the hot path.

The caller is a department-system token carrying the mode's scope, or an official of the
consumer department (clerk, approver, steward or department admin). The grant must be active,
for the caller's department and the resource, include the mode, and be within its validity
(``starts_at <= now < expires_at``, checked against the clock on every request).

Caches (per process): the grants of (department, resource code) and the compiled view of each
published resource (items, maskers, validators). Both are dropped when the access generation
(``tongban.core.generations``) moves: every grant change and token revocation bumps it in its
transaction, and every consuming request reads it with its record (``observe_generation``), so
a revocation takes effect on the very next request in every worker. The resource view is also
re-read every ``RESOURCE_SECONDS`` (catalog revisions do not bump the generation).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tongban.catalog import services as catalog
from tongban.catalog.validation import validator_for
from tongban.core.errors import NotAuthenticated, PermissionDenied
from tongban.exchange.models import Grant
from tongban.exchange.services.masking import clear, masker_for
from tongban.identity import tokens
from tongban.identity.access import Actor
from tongban.identity.validators import validate_id_number, validate_uscc

# Access modes (as logged) -> the grant mode they need and the system-token scope.
GRANT_MODE = {"query": "query", "lookup": "query", "verify": "verify", "changes": "subscribe",
              "push": "subscribe"}
SCOPE = {"query": "exchange:query", "lookup": "exchange:query", "verify": "exchange:verify",
         "changes": "exchange:subscribe", "push": "exchange:subscribe"}
CONSUMER_ROLES = ("clerk", "approver", "steward", "dept_admin")
RESOURCE_SECONDS = 30.0

_MODE_NAMES = {"query": ("查询", "query"), "verify": ("核验", "verify"), "subscribe": ("订阅", "subscribe")}


# --- errors -----------------------------------------------------------------------------------


def no_grant(code: str) -> PermissionDenied:
    return PermissionDenied("本部门没有该资源的有效授权", "Your department holds no grant for this resource",
                            code="no_grant", details={"resource": code})


def grant_expired(code: str, grant_id: int) -> PermissionDenied:
    return PermissionDenied("该资源的授权已过期", "The grant for this resource has expired",
                            code="grant_expired", details={"resource": code, "grant": grant_id})


def grant_revoked(code: str, grant_id: int) -> PermissionDenied:
    return PermissionDenied("该资源的授权已被撤销", "The grant for this resource has been revoked",
                            code="grant_revoked", details={"resource": code, "grant": grant_id})


def mode_not_granted(code: str, grant_id: int, mode: str) -> PermissionDenied:
    zh, en = _MODE_NAMES.get(mode, (mode, mode))
    return PermissionDenied(f"授权不包含{zh}方式", f"The grant does not include the {en} mode",
                            code="mode_not_granted", details={"resource": code, "grant": grant_id, "mode": mode})


# --- the caller ---------------------------------------------------------------------------------


def check_caller(actor: Actor, mode: str) -> Actor:
    """A system token with the mode's scope, or an official of a department with a consumer role."""
    if actor is None or not actor.is_authenticated:
        raise NotAuthenticated()
    if actor.kind == "system":
        scope = SCOPE[mode]
        if actor.scopes is None or scope not in actor.scopes:
            raise PermissionDenied("该应用凭证无此权限范围", "This system token lacks the scope",
                                   details={"required_scope": scope})
    elif actor.kind == "official":
        if not actor.has_role(*CONSUMER_ROLES):
            raise PermissionDenied(details={"required_role": sorted(CONSUMER_ROLES)})
    else:
        raise PermissionDenied("仅部门业务系统或部门工作人员可使用共享数据",
                               "Only department systems and officials may consume shared records")
    if actor.department_id is None:
        raise PermissionDenied()
    return actor


# --- resources: items compiled once ----------------------------------------------------------------


@dataclass
class ResourceView:
    """The published resource as the hot path needs it (compiled once per process)."""

    code: str
    name: str
    subject_kind: str  # "citizen" | "enterprise"
    subject_key: str
    items: dict[str, Any]  # key -> catalog Item, in resource order
    maskers: dict[str, Callable[[Any], Any]]
    fetched_at: float = field(default_factory=time.monotonic)

    def normalise_subject(self, subject: str) -> str:
        """The subject (ID number or USCC) normalised; 422 ``invalid_id_number``/``invalid_uscc``."""
        if self.subject_kind == "enterprise":
            return validate_uscc(subject).code
        return validate_id_number(subject).number

    def validator(self, key: str) -> Callable[[Any], Any]:
        return validator_for(self.items[key])


_resources: dict[str, ResourceView] = {}


def resource_view(code: str) -> ResourceView:
    """The compiled view of the published resource ``code`` (404 when none is published)."""
    view = _resources.get(code)
    if view is not None and time.monotonic() - view.fetched_at < RESOURCE_SECONDS:
        return view
    resource = catalog.get_published(code)
    items = catalog.items_of(resource)
    subject = next((item for item in items if item.is_subject_key), None)
    view = ResourceView(
        code=code, name=resource.name,
        subject_kind="enterprise" if subject is not None and subject.effective_type == "uscc" else "citizen",
        subject_key=subject.key if subject is not None else "",
        items={item.key: item for item in items},
        maskers={item.key: masker_for(item) for item in items},
    )
    _resources[code] = view
    return view


# --- grants ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """What one grant returns of one resource: the granted items in resource order, each with
    the function that masks it (identity for items cleared by the grant)."""

    keys: tuple[str, ...]
    functions: tuple[Callable[[Any], Any], ...]
    items_json: str  # the keys as JSON, for the access log
    masked: list[str]  # the keys whose values are masked (neither cleared nor free of any rule)

    def apply(self, data: dict) -> dict:
        get = data.get
        return {key: function(get(key)) for key, function in zip(self.keys, self.functions, strict=True)}


@dataclass
class GrantView:
    """A grant as cached by the hot path (an immutable snapshot of the row)."""

    id: int
    resource_code: str
    consumer_id: int
    status: str
    modes: frozenset[str]
    items: tuple[str, ...]
    clear_items: frozenset[str]
    purpose: str
    rate_limit: int
    starts_at: float
    expires_at: float
    webhook_url: str
    _projection: tuple[ResourceView, Projection] | None = None

    @classmethod
    def of(cls, grant: Grant) -> GrantView:
        return cls(
            id=grant.pk, resource_code=grant.resource_code, consumer_id=grant.consumer_id, status=grant.status,
            modes=frozenset(grant.modes or ()), items=tuple(grant.items or ()),
            clear_items=frozenset(grant.clear_items or ()), purpose=grant.purpose,
            rate_limit=int(grant.rate_limit_per_minute), starts_at=grant.starts_at.timestamp(),
            expires_at=grant.expires_at.timestamp(), webhook_url=grant.webhook_url,
        )

    def valid_at(self, now: float) -> bool:
        return self.status == Grant.Status.ACTIVE and self.starts_at <= now < self.expires_at

    def projection(self, resource: ResourceView) -> Projection:
        """Granted items that the resource has, masked unless cleared (compiled once)."""
        cached = self._projection
        if cached is not None and cached[0] is resource:
            return cached[1]
        granted = set(self.items)
        keys = tuple(key for key in resource.items if key in granted)
        functions = tuple(clear if key in self.clear_items else resource.maskers[key] for key in keys)
        masked = [key for key, function in zip(keys, functions, strict=True) if function is not clear]
        projection = Projection(keys, functions, json.dumps(list(keys)), masked)
        self._projection = (resource, projection)
        return projection


_grants: dict[tuple[int, str], tuple[GrantView, ...]] = {}
_seen_generation: list[int | None] = [None]
# Rate-limit capacity this process has leased: grant id -> (minute, requests left); see access.
leases: dict[int, tuple[int, int]] = {}


def grants_of(department_id: int, code: str) -> tuple[GrantView, ...]:
    """The department's grants for ``code`` (newest first), from the cache when there."""
    key = (department_id, code)
    found = _grants.get(key)
    if found is None:
        rows = Grant.objects.filter(consumer_id=department_id, resource_code=code).order_by("-created_at", "-id")
        found = tuple(GrantView.of(row) for row in rows)
        _grants[key] = found
    return found


def choose_grant(grants: tuple[GrantView, ...], code: str, mode: str, now: float | None = None) -> GrantView:
    """The grant that allows ``mode`` now, or the 403 that explains why there is none."""
    now = time.time() if now is None else now
    wanted = GRANT_MODE[mode]
    valid = [grant for grant in grants if grant.valid_at(now)]
    for grant in valid:
        if wanted in grant.modes:
            return grant
    if valid:
        raise mode_not_granted(code, valid[0].id, wanted)
    for grant in grants:  # newest first: say why the latest grant no longer works
        if grant.status == Grant.Status.REVOKED:
            raise grant_revoked(code, grant.id)
        if grant.expires_at <= now:
            raise grant_expired(code, grant.id)
    raise no_grant(code)


def grant_for(actor: Actor, code: str, mode: str, now: float | None = None) -> GrantView:
    """Caller check plus the grant to use (403 ``no_grant``/``grant_expired``/``grant_revoked``/
    ``mode_not_granted``). Cached: the caller must ``observe_generation`` in the same request."""
    check_caller(actor, mode)
    return choose_grant(grants_of(actor.department_id, code), code, mode, now)


def seen_generation() -> int | None:
    """The access generation this process's caches were last checked against (None: never)."""
    return _seen_generation[0]


def observe_generation(generation: int | None) -> bool:
    """Report the access generation read in this request. True when it moved since the last
    report: every cache (grants, tokens) has then been dropped and the caller must re-check."""
    generation = generation or 0
    tokens_moved = tokens.observe_generation(generation)
    if _seen_generation[0] == generation and not tokens_moved:
        return False
    _grants.clear()
    leases.clear()  # a changed limit applies to the next lease at once
    _seen_generation[0] = generation
    return True


def recheck(actor: Actor, code: str, mode: str, now: float | None = None) -> tuple[Actor, GrantView]:
    """After the generation moved: the actor re-read (token revoked → 401) and the grant re-chosen."""
    fresh = tokens.revalidate(actor)
    if fresh is None:
        raise NotAuthenticated()
    return fresh, grant_for(fresh, code, mode, now)


def clear_caches() -> None:
    """Drop every cache of this module and the token cache (tests, and after schema changes)."""
    _grants.clear()
    _resources.clear()
    leases.clear()
    _seen_generation[0] = None
    tokens.clear_cache()
