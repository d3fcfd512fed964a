"""Identity use cases: registration, officials and roles, passwords, the current account.

Callers hold the transaction (``transaction.atomic()`` at the edge); every function takes the
acting ``Actor`` (or, for self-registration, no actor) and checks authorization first.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, override

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.identity import events
from tongban.identity.access import PLATFORM_ROLES, Actor, Role, require_authenticated, require_role
from tongban.identity.models import Citizen, Department, Enterprise, Region, RoleAssignment, User
from tongban.identity.validators import validate_id_number, validate_uscc

USERNAME_RULE = "3–40 个字母、数字或 . _ - / 3–40 letters, digits or . _ -"


def _check_username(username: str) -> str:
    username = (username or "").strip()
    if not 3 <= len(username) <= 40 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in username):
        raise InvalidInput("用户名须为 3–40 个字母、数字或 . _ -", "Username must be 3–40 letters, digits or . _ -",
                           code="invalid_username")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict("该用户名已被使用", "That username is taken", code="username_taken")
    return username


def check_password_strength(password: str, user: User | None = None) -> None:
    """Django's validators plus ours; the error lists every rule broken, in both languages."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        with override("zh-hans"):
            zh = [gettext(m) for m in _messages(error)]
        with override("en"):
            en = [gettext(m) for m in _messages(error)]
        raise InvalidInput("密码强度不足：" + "；".join(zh), "Password too weak: " + " ".join(en),
                           code="weak_password", details={"rules": [e.code for e in error.error_list]}) from None


def _messages(error: ValidationError) -> list[str]:
    return [str(m) for m in error.messages]


def _check_name(name: str, field: str = "name", max_length: int = 100) -> str:
    name = (name or "").strip()
    if not name or len(name) > max_length:
        raise InvalidInput(f"请填写名称（不超过{max_length}字）", f"{field} is required (at most {max_length} characters)",
                           code="invalid_name", details={"field": field})
    return name


def _check_phone(phone: str) -> str:
    phone = (phone or "").strip()
    if phone and not (len(phone) == 11 and phone.isdigit() and phone.startswith("1")):
        raise InvalidInput("手机号码须为 11 位数字", "Mobile phone must be 11 digits starting with 1",
                           code="invalid_phone")
    return phone


def register_citizen(*, username: str, id_number: str, name: str, phone: str, password: str) -> User:
    """A citizen creates their one platform account, bound to their ID number.

    When the platform already knows the person (from departments' records), the account is
    bound to that record — only if the name matches, so an ID number alone cannot claim it.
    """
    info = validate_id_number(id_number)
    name = _check_name(name)
    phone = _check_phone(phone)
    username = _check_username(username)
    citizen = Citizen.objects.select_for_update().filter(id_number=info.number).first()
    if citizen is not None:
        if citizen.user_id is not None:
            raise Conflict("该身份证号码已注册账号", "An account already exists for this ID number",
                           code="id_number_registered")
        if citizen.name != name:
            raise InvalidInput("姓名与身份证号码不一致", "Name does not match the ID number", code="identity_mismatch")
    user = User(username=username, kind=User.Kind.CITIZEN, full_name=name, phone=phone)
    check_password_strength(password, user)
    user.set_password(password)
    _save_new(user)
    if citizen is None:
        region = Region.objects.filter(code=info.region_code).first()
        citizen = Citizen(id_number=info.number, name=name, sex=info.sex, birth_date=info.birth_date,
                          region=region or _fallback_region(), phone=phone)
    citizen.user = user
    citizen.save()
    events.record_auth_event(events.ACCOUNT_REGISTERED, actor=username, payload={"kind": "citizen"})
    return user


def register_enterprise(*, username: str, uscc: str, name: str, password: str,
                        legal_representative: str = "") -> User:
    info = validate_uscc(uscc)
    name = _check_name(name, max_length=150)
    username = _check_username(username)
    enterprise = Enterprise.objects.select_for_update().filter(uscc=info.code).first()
    if enterprise is not None:
        if enterprise.user_id is not None:
            raise Conflict("该统一社会信用代码已注册账号", "An account already exists for this credit code",
                           code="uscc_registered")
        if enterprise.name != name:
            raise InvalidInput("名称与统一社会信用代码不一致", "Name does not match the credit code",
                               code="identity_mismatch")
    user = User(username=username, kind=User.Kind.ENTERPRISE, full_name=name)
    check_password_strength(password, user)
    user.set_password(password)
    _save_new(user)
    if enterprise is None:
        region = Region.objects.filter(code=info.region_code).first()
        enterprise = Enterprise(uscc=info.code, name=name, region=region or _fallback_region(),
                                legal_representative=(legal_representative or "").strip()[:50])
    enterprise.user = user
    enterprise.save()
    events.record_auth_event(events.ACCOUNT_REGISTERED, actor=username, payload={"kind": "enterprise"})
    return user


def _save_new(user: User) -> None:
    try:
        with transaction.atomic():  # a savepoint: a lost race on the username answers 409, not 500
            user.save()
    except IntegrityError:
        raise Conflict("该用户名已被使用", "That username is taken", code="username_taken") from None


def _fallback_region() -> Region:
    """Registrants from outside the node's region are filed under the node's own region."""
    from django.conf import settings

    region, _ = Region.objects.get_or_create(
        code=settings.TONGBAN_REGION, defaults={"name": settings.TONGBAN_REGION, "level": Region.Level.PROVINCE}
    )
    return region


def _managed_department(actor: Actor, department_code: str | None) -> Department:
    """Which department an administrator may manage officials of: any for the bureau admin,
    their own for a department admin."""
    require_role(actor, Role.BUREAU_ADMIN, Role.DEPT_ADMIN)
    if actor.has_role(Role.BUREAU_ADMIN) and actor.is_bureau:
        department = Department.objects.filter(code=department_code or actor.department_code).first()
        if department is None:
            raise NotFound("部门不存在", "No such department")
        return department
    if department_code and department_code != actor.department_code:
        raise PermissionDenied("只能管理本部门人员", "You may manage officials of your own department only")
    return Department.objects.get(pk=actor.department_id)


def _check_roles(actor: Actor, roles: list[str]) -> list[str]:
    chosen = sorted(set(roles))
    unknown = [r for r in chosen if r not in Role.values]
    if unknown:
        raise InvalidInput("角色无效", "Unknown role", code="invalid_roles",
                           details={"unknown": unknown, "allowed": list(Role.values)})
    # Platform-wide roles are granted by the bureau only.
    if PLATFORM_ROLES.intersection(chosen) and not (actor.is_bureau and actor.has_role(Role.BUREAU_ADMIN)):
        raise PermissionDenied("平台级角色只能由大数据局授予", "Only the bureau grants platform-wide roles")
    return chosen


def create_official(actor: Actor, *, username: str, full_name: str, password: str, roles: list[str],
                    department_code: str | None = None, phone: str = "") -> User:
    department = _managed_department(actor, department_code)
    chosen = _check_roles(actor, roles)
    username = _check_username(username)
    user = User(username=username, kind=User.Kind.OFFICIAL, full_name=_check_name(full_name),
                phone=_check_phone(phone), department=department, is_staff=True)
    check_password_strength(password, user)
    user.set_password(password)
    _save_new(user)
    RoleAssignment.objects.bulk_create([RoleAssignment(user=user, role=role) for role in chosen])
    events.record_auth_event(events.OFFICIAL_CREATED, actor=actor.username, subject=username,
                             department=department.code, payload={"roles": chosen})
    return user


def set_roles(actor: Actor, username: str, roles: list[str]) -> list[str]:
    official = User.objects.filter(username=username, kind=User.Kind.OFFICIAL).select_related("department").first()
    if official is None:
        raise NotFound()
    department = _managed_department(actor, official.department.code if official.department else None)
    if official.department_id != department.pk:
        raise NotFound()
    chosen = _check_roles(actor, roles)
    before = sorted(official.role_assignments.values_list("role", flat=True))
    official.role_assignments.exclude(role__in=chosen).delete()
    for role in chosen:
        RoleAssignment.objects.get_or_create(user=official, role=role)
    if before != chosen:
        events.record_auth_event(events.ROLES_CHANGED, actor=actor.username, subject=username,
                                 department=department.code, payload={"before": before, "after": chosen})
    return chosen


def list_officials(actor: Actor, department_code: str | None = None):
    department = _managed_department(actor, department_code)
    return (User.objects.filter(kind=User.Kind.OFFICIAL, department=department)
            .prefetch_related("role_assignments").order_by("username"))


def change_password(actor: Actor, *, old_password: str, new_password: str) -> None:
    require_authenticated(actor)
    if actor.user_id is None:
        raise PermissionDenied()
    user = User.objects.get(pk=actor.user_id)
    if not user.check_password(old_password):
        raise InvalidInput("原密码错误", "The current password is wrong", code="wrong_password")
    check_password_strength(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    events.record_auth_event(events.PASSWORD_CHANGED, actor=user.username)


@dataclass(frozen=True)
class Profile:
    username: str
    kind: str
    full_name: str
    department: str | None
    department_name: str | None
    roles: list[str]
    id_number: str | None
    uscc: str | None
    scopes: list[str] | None


def profile(actor: Actor) -> Profile:
    """What ``GET /me`` answers: the caller's own identity (their own ID number in full)."""
    require_authenticated(actor)
    department_name = None
    if actor.department_id:
        department_name = Department.objects.filter(pk=actor.department_id).values_list("name", flat=True).first()
    id_number = uscc = None
    full_name = actor.username
    if actor.user_id is not None:
        user = User.objects.get(pk=actor.user_id)
        full_name = user.full_name or user.username
        if actor.kind == User.Kind.CITIZEN:
            id_number = Citizen.objects.filter(user_id=user.pk).values_list("id_number", flat=True).first()
        elif actor.kind == User.Kind.ENTERPRISE:
            uscc = Enterprise.objects.filter(user_id=user.pk).values_list("uscc", flat=True).first()
    return Profile(
        username=actor.username, kind=actor.kind, full_name=full_name, department=actor.department_code,
        department_name=department_name, roles=sorted(actor.roles), id_number=id_number, uscc=uscc,
        scopes=sorted(actor.scopes) if actor.scopes is not None else None,
    )
