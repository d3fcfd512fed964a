from django.contrib.auth import views as auth_views
from django.urls import path

from tongban.identity import views

urlpatterns = [
    path("accounts/login/", views.login_view, name="login"),
    path("accounts/login/verify/", views.login_verify, name="login-verify"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
    # "My space" (/me/) of the main navigation starts with the account page.
    path("me/", views.me, name="me"),
    path("me/password/", views.change_password, name="change-password"),
    path("me/two-factor/", views.two_factor, name="two-factor"),
    path("me/tokens/", views.tokens_page, name="tokens"),
    path("me/tokens/<int:token_id>/revoke/", views.revoke_token, name="token-revoke"),
    # Only this sub-path of the workbench: /workbench/ itself is core's portal page.
    path("workbench/officials/", views.officials, name="officials"),
    path("workbench/officials/<str:username>/roles/", views.official_roles, name="official-roles"),
]
