"""What the identity pages need beyond ``services``, ``tokens`` and ``mfa``.

Small read helpers and one enrolment action. Authorization still goes through the services:
each helper that reveals department data calls the service that checks the actor first.
Callers hold the transaction, as with the services.
"""

from __future__ import annotations

import base64

from django_otp.plugins.otp_totp.models import TOTPDevice

from tongban.core.errors import NotFound, PermissionDenied
from tongban.identity import services
from tongban.identity.access import PLATFORM_ROLES, Actor, Role
from tongban.identity.models import Department, User

# Roles only the bureau grants (mirrors ``services._check_roles``, which enforces it): the
# pages offer them to the bureau administrator only.


def is_bureau_admin(actor: Actor) -> bool:
    return actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)


def grantable_roles(actor: Actor) -> list[tuple[str, str]]:
    """(value, label) of the roles this administrator may grant, in the platform's order."""
    return [(value, label) for value, label in Role.choices
            if is_bureau_admin(actor) or value not in PLATFORM_ROLES]


def managed_department(actor: Actor, department_code: str | None) -> Department:
    """The department whose officials the actor manages (checked by ``services.list_officials``)."""
    services.list_officials(actor, department_code)
    return Department.objects.get(code=department_code or actor.department_code)


def selectable_departments(actor: Actor) -> list[Department]:
    """Departments the bureau administrator may switch between (others manage their own only)."""
    if not is_bureau_admin(actor):
        return []
    return list(Department.objects.order_by("-is_bureau", "region_id", "code"))


def get_official(actor: Actor, username: str) -> User:
    """One official the actor may manage; another department's official is reported not found."""
    official = (User.objects.filter(username=username, kind=User.Kind.OFFICIAL)
                .select_related("department").first())
    if official is None or official.department is None:
        raise NotFound()
    try:
        officials = services.list_officials(actor, official.department.code)
    except PermissionDenied:
        if actor.has_role(Role.BUREAU_ADMIN, Role.DEPT_ADMIN):
            raise NotFound() from None  # an administrator of another department: do not confirm it exists
        raise
    found = officials.filter(pk=official.pk).first()
    if found is None:
        raise NotFound()
    return found


def pending_device(user: User) -> TOTPDevice | None:
    """The authenticator being enrolled (started, not yet confirmed with a code)."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def confirmed_device(user: User) -> TOTPDevice | None:
    """The user's authenticator (``mfa.confirm_enrolment`` keeps one confirmed device)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def cancel_enrolment(user: User) -> None:
    """Drop an enrolment that was started but not confirmed; the confirmed device stays."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()


def secret_base32(device: TOTPDevice) -> str:
    """The TOTP secret for typing into an app by hand, in groups of four: ``ABCD EFGH …``."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
