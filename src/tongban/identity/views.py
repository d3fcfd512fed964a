"""Identity pages: log in (with the TOTP step), register, my account, two-factor authentication,
the department's system tokens, and the administration of officials.

Thin: each page builds the ``Actor``, calls the services inside one ``transaction.atomic()`` per
POST, and shows a domain error on the form (or, for a page the actor may not see, as an error
page) — never a 500.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from tongban.core.errors import DomainError, PermissionDenied
from tongban.core.navigation import sections_of
from tongban.identity import events, mfa, pages_support, services, tokens
from tongban.identity.access import SCOPES, Role, actor_for_user
from tongban.identity.decorators import domain_errors_as_pages, verified_login_required
from tongban.identity.forms import (
    CitizenRegistrationForm,
    EnterpriseRegistrationForm,
    LoginForm,
    OfficialForm,
    OtpForm,
    PasswordChangeForm,
    RolesForm,
    SystemTokenForm,
    scope_label,
)
from tongban.identity.models import User
from tongban.identity.validators import mask_id_number, mask_uscc

WEB = {"channel": "web"}
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Between the password and the code: who is logging in (not logged in yet), and until when.
PENDING_LOGIN = "identity_pending_login"
PENDING_LOGIN_SECONDS = 300


def _safe_next(request) -> str | None:
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return None


def _with_next(url_name: str, next_url: str | None) -> str:
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _form_status(error: DomainError | None) -> int:
    """A form shown again answers 200, or 403 when the service refused the actor."""
    return 403 if isinstance(error, PermissionDenied) else 200


# --- Log in ------------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request):
    next_url = _safe_next(request)
    if request.method != "POST" and request.user.is_authenticated:
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            response = _password_step(request, form, next_url)
        if response is not None:
            return response
    return render(request, "registration/login.html", {"form": form, "next": next_url or ""})


def _password_step(request, form: LoginForm, next_url: str | None):
    """Check the password; log in, or go on to the code step. None: the form shows the error.

    Nothing here raises: a failure must commit (the lockout counts it and the event is recorded).
    """
    username = form.cleaned_data["username"]
    user = authenticate(request, username=username, password=form.cleaned_data["password"])
    if user is None:
        events.record_auth_event(events.LOGIN_FAILED, actor=username, payload={**WEB, "reason": "credentials"})
        if getattr(request, "axes_locked_out", False):
            # django-axes turns this response into the lockout page (registration/locked_out.html).
            events.record_auth_event(events.LOCKED_OUT, actor=username, payload=WEB)
            form.add_error(None, tokens.AccountLocked().message)
        else:
            form.add_error(None, _("Wrong username or password."))
        return None
    if mfa.mfa_required(user) and mfa.has_confirmed_device(user):
        request.session[PENDING_LOGIN] = {
            "user_id": user.pk, "backend": user.backend, "next": next_url,
            "until": time.time() + PENDING_LOGIN_SECONDS,
        }
        return redirect("login-verify")
    auth_login(request, user)
    events.record_auth_event(events.LOGIN_SUCCEEDED, actor=user.username, payload=WEB)
    if mfa.mfa_required(user):
        # Logged in, but not verified: only enrolment and logging out are open until enrolled.
        messages.warning(request, _("Your role requires two-factor authentication. "
                                    "Set up an authenticator app to continue."))
        return redirect(_with_next("two-factor", next_url))
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _pending_login(request) -> tuple[dict, User] | None:
    pending = request.session.get(PENDING_LOGIN)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        request.session.pop(PENDING_LOGIN, None)
        return None
    user = User.objects.filter(pk=pending.get("user_id"), is_active=True).first()
    if user is None:
        request.session.pop(PENDING_LOGIN, None)
        return None
    return pending, user


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_verify(request):
    """Second step of logging in: the TOTP code. A wrong code counts as a failed login."""
    found = _pending_login(request)
    if found is None:
        messages.info(request, _("Please log in again."))
        return redirect("login")
    pending, user = found
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            response = _code_step(request, form, pending, user)
        if response is not None:
            return response
    return render(request, "identity/login_verify.html", {"form": form, "username": user.username})


def _code_step(request, form: OtpForm, pending: dict, user: User):
    credentials = {"username": user.username}
    if not AxesProxyHandler.is_allowed(request, credentials):
        request.session.pop(PENDING_LOGIN, None)
        events.record_auth_event(events.LOCKED_OUT, actor=user.username, payload=WEB)
        return get_lockout_response(request, None, credentials)
    if mfa.verify_totp(user, form.cleaned_data["code"]):
        del request.session[PENDING_LOGIN]
        auth_login(request, user, backend=pending.get("backend") or MODEL_BACKEND)
        django_otp.login(request, pages_support.confirmed_device(user))
        events.record_auth_event(events.LOGIN_SUCCEEDED, actor=user.username, payload=WEB)
        return redirect(pending.get("next") or resolve_url(settings.LOGIN_REDIRECT_URL))
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    events.record_auth_event(events.LOGIN_FAILED, actor=user.username, payload={**WEB, "reason": "otp"})
    if getattr(request, "axes_locked_out", False):
        request.session.pop(PENDING_LOGIN, None)  # django-axes answers with the lockout page
        events.record_auth_event(events.LOCKED_OUT, actor=user.username, payload=WEB)
    form.add_error("code", _("The code is wrong or has expired. Enter the code your app shows now."))
    return None


# --- Register ----------------------------------------------------------------------------------------

REGISTRATION = {
    "citizen": (CitizenRegistrationForm, services.register_citizen),
    "enterprise": (EnterpriseRegistrationForm, services.register_enterprise),
}


@sensitive_post_parameters("password", "password_confirm")
@csrf_protect
@never_cache
def register(request):
    kind = request.POST.get("kind") or request.GET.get("kind") or "citizen"
    if kind not in REGISTRATION:
        kind = "citizen"
    if request.method != "POST" and request.user.is_authenticated:
        return redirect("me")
    form_class, register_account = REGISTRATION[kind]
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = register_account(**form.service_kwargs())
                auth_login(request, user, backend=MODEL_BACKEND)
                events.record_auth_event(events.LOGIN_SUCCEEDED, actor=user.username, payload=WEB)
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("Your account is ready. Welcome to Tongban."))
            return redirect("me")
    return render(request, "identity/register.html", {"form": form, "kind": kind})


# --- My account --------------------------------------------------------------------------------------


def _account_context(request) -> dict:
    actor = actor_for_user(request.user)
    profile = services.profile(actor)
    return {
        "profile": profile,
        "kind_label": User.Kind(profile.kind).label if profile.kind in User.Kind.values else profile.kind,
        "role_labels": [Role(role).label for role in profile.roles if role in Role.values],
        "masked_id_number": mask_id_number(profile.id_number) if profile.id_number else None,
        "masked_uscc": mask_uscc(profile.uscc) if profile.uscc else None,
        "mfa_required": mfa.mfa_required(request.user),
        "mfa_enrolled": mfa.has_confirmed_device(request.user),
        "can_manage_tokens": actor.has_role(Role.STEWARD, Role.DEPT_ADMIN, Role.BUREAU_ADMIN),
        "can_manage_officials": actor.has_role(Role.DEPT_ADMIN, Role.BUREAU_ADMIN),
        # What other apps offer in "my space" (my data, certificates, applications, inbox).
        "sections": sections_of("me", profile.kind),
    }


@verified_login_required
@domain_errors_as_pages
def me(request):
    context = _account_context(request)
    context["password_form"] = PasswordChangeForm()
    return render(request, "identity/me.html", context)


@sensitive_post_parameters("old_password", "new_password", "new_password_confirm")
@verified_login_required
@domain_errors_as_pages
@require_POST
def change_password(request):
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                services.change_password(actor_for_user(request.user), old_password=form.cleaned_data["old_password"],
                                         new_password=form.cleaned_data["new_password"])
                # Other sessions end; this one stays logged in.
                update_session_auth_hash(request, User.objects.get(pk=request.user.pk))
        except DomainError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, _("Your password has been changed."))
            return redirect("me")
    context = _account_context(request)
    context["password_form"] = form
    return render(request, "identity/me.html", context)


# --- Two-factor authentication ------------------------------------------------------------------------


@sensitive_post_parameters("code")
@verified_login_required(allow_unenrolled=True)
@domain_errors_as_pages
@never_cache
def two_factor(request):
    """Enrol (or replace) the TOTP authenticator, confirming it with a code from the app."""
    user = request.user
    next_url = _safe_next(request)
    required = mfa.mfa_required(user)
    form = OtpForm()
    if request.method == "POST" and required:
        action = request.POST.get("action")
        if action == "start":
            with transaction.atomic():
                mfa.start_enrolment(user)
            return redirect(_with_next("two-factor", next_url))
        if action == "cancel":
            with transaction.atomic():
                pages_support.cancel_enrolment(user)
            return redirect("two-factor")
        form = OtpForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    device = mfa.confirm_enrolment(user, form.cleaned_data["code"])
                    django_otp.login(request, device)  # this session has now passed the code
            except DomainError as error:
                form.add_domain_error(error)
            else:
                messages.success(request, _("Two-factor authentication is on. From now on, log in with "
                                            "your password and the code from your app."))
                return redirect(next_url or "me")
    enrolled = mfa.has_confirmed_device(user)
    device = pages_support.pending_device(user) if required else None
    if required and device is None and not enrolled:
        with transaction.atomic():  # first visit: start at once, so the code to scan is on the page
            device = mfa.start_enrolment(user)
    context = {"required": required, "enrolled": enrolled, "device": device, "form": form,
               "next": next_url or ""}
    if device is not None:
        context["qr_svg"] = mfa.enrolment_qr_svg(device)
        context["secret"] = pages_support.secret_base32(device)
    return render(request, "identity/two_factor.html", context)


# --- System tokens ----------------------------------------------------------------------------------


def _token_rows(token_list) -> list[dict]:
    now = timezone.now()
    rows = []
    for token in token_list:
        if token.revoked_at is not None:
            status = "revoked"
        elif token.expires_at <= now:
            status = "expired"
        else:
            status = "active"
        scopes = [(scope, scope_label(scope) if scope in SCOPES else scope) for scope in token.scopes]
        rows.append({"token": token, "status": status, "scopes": scopes})
    return rows


@verified_login_required
@domain_errors_as_pages
@never_cache
def tokens_page(request):
    actor = actor_for_user(request.user)
    token_list = tokens.list_system_tokens(actor)  # 403 page for anyone but stewards and administrators
    can_create = actor.has_role(Role.STEWARD, Role.DEPT_ADMIN)
    form = SystemTokenForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                issued = tokens.create_system_token(
                    actor, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
                    expires_in_days=form.cleaned_data["expires_in_days"])
        except DomainError as caught:
            error = caught
            form.add_domain_error(caught)
        else:
            # Shown once, on this response only: not stored, not redirected to, not cached.
            return render(request, "identity/token_created.html", {
                "issued": issued, "scopes": [(s, scope_label(s)) for s in issued.token.scopes]})
    context = {"rows": _token_rows(token_list), "form": form, "can_create": can_create,
               "show_department": pages_support.is_bureau_admin(actor)}
    return render(request, "identity/tokens.html", context, status=_form_status(error))


@verified_login_required
@domain_errors_as_pages
@require_POST
def revoke_token(request, token_id: int):
    with transaction.atomic():
        token = tokens.revoke_token(actor_for_user(request.user), token_id)
    messages.success(request, _("The token “%(name)s” is revoked: the system can no longer use it.")
                     % {"name": token.name})
    return redirect("tokens")


# --- Officials ------------------------------------------------------------------------------------------


@sensitive_post_parameters("password", "password_confirm")
@verified_login_required
@domain_errors_as_pages
def officials(request):
    """Officials of a department: the bureau administrator picks any, a department admin has theirs."""
    actor = actor_for_user(request.user)
    source = request.POST if request.method == "POST" else request.GET
    department_code = source.get("department") or None
    department = pages_support.managed_department(actor, department_code)  # 403/404 page when not allowed
    form = OfficialForm(request.POST or None, roles=pages_support.grantable_roles(actor),
                        initial={"department": department.code})
    error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                created = services.create_official(
                    actor, username=data["username"], full_name=data["full_name"], password=data["password"],
                    roles=data["roles"], department_code=department.code, phone=data["phone"])
        except DomainError as caught:
            error = caught
            form.add_domain_error(caught)
        else:
            messages.success(request, _("Official %(username)s created.") % {"username": created.username})
            return redirect(f"{reverse('officials')}?{urlencode({'department': department.code})}")
    rows = [{"user": official, "roles": [Role(a.role).label for a in official.role_assignments.all()]}
            for official in services.list_officials(actor, department.code)]
    context = {"department": department, "departments": pages_support.selectable_departments(actor),
               "rows": rows, "form": form}
    return render(request, "identity/officials.html", context, status=_form_status(error))


@verified_login_required
@domain_errors_as_pages
def official_roles(request, username: str):
    actor = actor_for_user(request.user)
    official = pages_support.get_official(actor, username)  # 404 page for another department's official
    current = sorted(official.role_assignments.values_list("role", flat=True))
    choices = pages_support.grantable_roles(actor)
    # Roles the official holds but this administrator may not grant stay visible (and removable).
    choices += [(role, Role(role).label) for role in current if role not in {value for value, _l in choices}]
    form = RolesForm(request.POST or None, roles=choices, initial={"roles": current})
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.set_roles(actor, official.username, form.cleaned_data["roles"])
        except DomainError as caught:
            error = caught
            form.add_domain_error(caught)
        else:
            messages.success(request, _("Roles of %(username)s saved.") % {"username": official.username})
            return redirect(f"{reverse('officials')}?{urlencode({'department': official.department.code})}")
    return render(request, "identity/official_roles.html", {"official": official, "form": form},
                  status=_form_status(error))
