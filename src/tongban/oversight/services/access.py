"""Who sees what in the cockpit (deny by default).

* bureau administrator and chief data officer (of the bureau): everything, and they work alerts;
* auditor (of the bureau): everything, read only;
* a department's officials (steward, approver, department administrator, clerk): their own
  department's quality scores, assessment and the alerts about its systems and users, read only;
* everyone else (citizens, enterprises, system tokens, anonymous): nothing.
"""

from __future__ import annotations

from tongban.core.errors import PermissionDenied
from tongban.identity.access import Actor, Role, require_authenticated

PLATFORM = (Role.BUREAU_ADMIN, Role.CDO, Role.AUDITOR)
MANAGERS = (Role.BUREAU_ADMIN, Role.CDO)
DEPARTMENT = (Role.DEPT_ADMIN, Role.STEWARD, Role.APPROVER, Role.CLERK)


def sees_all(actor: Actor) -> bool:
    return actor.kind == "official" and actor.is_bureau and actor.has_role(*PLATFORM)


def may_manage(actor: Actor) -> bool:
    """May change things in the cockpit (alert workflow, recompute): administrator and CDO."""
    return actor.kind == "official" and actor.is_bureau and actor.has_role(*MANAGERS)


def scope(actor: Actor) -> int | None:
    """The department the actor may see (``None``: every department). Raises 401/403 otherwise."""
    require_authenticated(actor)
    if sees_all(actor):
        return None
    if actor.kind == "official" and actor.department_id and actor.has_role(*DEPARTMENT):
        return actor.department_id
    raise PermissionDenied("只有大数据局和部门工作人员可以查看驾驶舱",
                           "Only the bureau and department staff see the cockpit")


def require_manager(actor: Actor) -> Actor:
    require_authenticated(actor)
    if not may_manage(actor):
        raise PermissionDenied("只有大数据局管理员或首席数据官可以执行此操作",
                               "Only the bureau's administrator or chief data officer may do this")
    return actor
