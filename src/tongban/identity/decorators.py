"""Guards for server-rendered pages: login with the second factor, and domain errors as pages.

``verified_login_required`` is what every page behind a login uses (in this app and the apps
above it): a visitor must be logged in, and a user whose role requires TOTP must have passed it
in this session. Until such a user has enrolled an authenticator, the only pages open to them
are the enrolment page (``allow_unenrolled=True``) and logging out.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from tongban.core.errors import DomainError, PermissionDenied
from tongban.identity import mfa


def needs_second_factor(request) -> bool:
    """Logged in, but this session has not passed the TOTP the user's role requires."""
    user = request.user
    if not user.is_authenticated or not mfa.mfa_required(user):
        return False
    is_verified = getattr(user, "is_verified", None)
    return not (is_verified is not None and is_verified())


def verified_login_required(view=None, *, allow_unenrolled: bool = False):
    """Require a login that has passed the second factor where the user's role requires it."""

    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if needs_second_factor(request):
                if mfa.has_confirmed_device(request.user):
                    # Enrolled (perhaps in another session) but this session never gave a code:
                    # it must log in again, through the code step.
                    logout(request)
                    messages.info(request, _("Please log in again with the code from your authenticator app."))
                    return redirect_to_login(request.get_full_path())
                if not allow_unenrolled:
                    query = urlencode({"next": request.get_full_path()})
                    return redirect(f"{reverse('two-factor')}?{query}")
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


def error_page(request, error: DomainError):
    """A domain error (403 permission denied, 404 not found, …) as a page with the error's status."""
    return render(request, "identity/error.html", {"error": error}, status=error.status)


def domain_errors_as_pages(view_func):
    """A domain error a view lets through becomes an error page, never a 500."""

    @wraps(view_func)
    def wrapper(request, *args, **kwargs):
        try:
            return view_func(request, *args, **kwargs)
        except DomainError as error:
            return error_page(request, error)

    return wrapper


def actor_page(view=None, *, kinds: tuple[str, ...] = (), refusal: tuple[str, str] | None = None):
    """A page for a signed-in user (second factor passed where required): the view receives the
    ``Actor`` after ``request``; an account of another kind than ``kinds`` is refused (403, with
    ``refusal`` as the Chinese and English message); domain errors become error pages."""

    def decorator(view_func):
        @verified_login_required
        @domain_errors_as_pages
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            from tongban.identity.access import actor_for_user

            actor = actor_for_user(request.user)
            if kinds and actor.kind not in kinds:
                message_zh, message_en = refusal or ("此页面不适用于您的账号", "This page is not for your kind of account")
                raise PermissionDenied(message_zh, message_en)
            return view_func(request, actor, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
