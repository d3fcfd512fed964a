"""The back office (Django admin) behind the platform's own login.

Officials are staff, so without this the admin's login form would accept a password alone,
bypassing the lockout page and the TOTP step the bureau's roles require. Here the admin has no
login form of its own: it sends visitors to the platform login, and it admits only sessions
that passed the second factor where the user's role requires it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse

from tongban.core.errors import PermissionDenied
from tongban.identity.decorators import error_page, needs_second_factor


class TongbanAdminSite(admin.AdminSite):
    site_header = "通办 tongban"
    site_title = "通办后台 / tongban back office"

    def has_permission(self, request) -> bool:
        return super().has_permission(request) and not needs_second_factor(request)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(reverse("admin:index", current_app=self.name))
            if needs_second_factor(request):
                return redirect("two-factor")
            return error_page(request, PermissionDenied(
                "后台仅向工作人员开放", "The back office is open to officials only"))
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), reverse("login"))
