"""Who is acting, and the authorization helpers every service uses (deny by default).

Every service takes an ``Actor`` as its first argument: a plain, immutable description of the
caller, built once per request from a session, a user token or a department-system token. The
services then ask the helpers below; they raise domain errors, so the API, the pages and the
CLI answer the same way (401, 403, or 404 for another department's private object — not
revealing it exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tongban.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.identity.models import RoleAssignment, User

Role = RoleAssignment.Role
# Roles with platform-wide reach: only the bureau's administrator grants them.
PLATFORM_ROLES = frozenset({Role.BUREAU_ADMIN, Role.CDO, Role.AUDITOR})

# Scopes a department-system token may carry: "<app>:<action>". Tokens of people carry none
# (``scopes is None``): their rights come from their roles.
SCOPES: dict[str, tuple[str, str]] = {
    "catalog:read": ("读取数据目录", "Read the data catalog"),
    "catalog:write": ("维护本部门数据目录", "Maintain the department's catalog entries"),
    "exchange:records:write": ("归集本部门数据", "Load records of the department's resources"),
    "exchange:query": ("查询共享数据", "Query shared records under a grant"),
    "exchange:verify": ("核验共享数据", "Verify claims against shared records under a grant"),
    "exchange:subscribe": ("订阅数据变更", "Subscribe to changes under a grant"),
    "credentials:issue": ("签发电子证照", "Issue e-certificates"),
    "credentials:verify": ("核验电子证照", "Verify e-certificates"),
    "onestop:applications": ("办理办件", "Handle applications"),
}


@dataclass(frozen=True)
class Actor:
    kind: str  # "anonymous", "citizen", "enterprise", "official", "system"
    user_id: int | None = None
    username: str = ""
    department_id: int | None = None
    department_code: str | None = None
    is_bureau: bool = False  # acting for the big-data bureau (platform-wide oversight)
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] | None = None  # None: not a scoped system token
    token_id: int | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def allows(self, scope: str) -> bool:
        """A system token may do only what its scopes name; people are limited by roles instead."""
        return self.scopes is None or scope in self.scopes


ANONYMOUS = Actor(kind="anonymous")


def actor_for_user(user: User | None, *, token_id: int | None = None) -> Actor:
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    department = user.department if user.department_id else None
    roles: frozenset[str] = frozenset()
    if user.kind == User.Kind.OFFICIAL:
        roles = frozenset(user.role_assignments.values_list("role", flat=True))
    return Actor(
        kind=user.kind,
        user_id=user.pk,
        username=user.username,
        department_id=user.department_id,
        department_code=department.code if department else None,
        is_bureau=bool(department and department.is_bureau),
        roles=roles,
        token_id=token_id,
    )


def require_authenticated(actor: Actor) -> Actor:
    if not actor.is_authenticated:
        raise NotAuthenticated()
    return actor


def require_kind(actor: Actor, *kinds: str) -> Actor:
    require_authenticated(actor)
    if actor.kind not in kinds:
        raise PermissionDenied(details={"required_kind": sorted(kinds)})
    return actor


def require_role(actor: Actor, *roles: str) -> Actor:
    """The actor must be an official holding one of ``roles``."""
    require_authenticated(actor)
    if not actor.has_role(*roles):
        raise PermissionDenied(details={"required_role": sorted(roles)})
    return actor


def require_scope(actor: Actor, scope: str) -> Actor:
    require_authenticated(actor)
    if not actor.allows(scope):
        raise PermissionDenied(
            "该应用凭证无此权限范围", "This system token lacks the scope", details={"required_scope": scope}
        )
    return actor


def require_same_department(actor: Actor, department_id: int | None, *, bureau_sees_all: bool = True) -> Actor:
    """The object belongs to the actor's department (the bureau may see every department's).

    Another department's private object is reported as not found, so its existence leaks nothing.
    """
    require_authenticated(actor)
    if bureau_sees_all and actor.is_bureau and actor.kind == "official":
        return actor
    if department_id is None or actor.department_id != department_id:
        raise NotFound()
    return actor


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown or not chosen:
        raise InvalidInput(
            "应用凭证的权限范围无效", "Invalid token scopes", code="invalid_scopes",
            details={"unknown": unknown, "allowed": sorted(SCOPES)},
        )
    return chosen
