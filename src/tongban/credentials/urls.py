"""Credential pages, mounted at the site root before core's (site/urls.py)."""

from django.urls import path

from tongban.credentials import views

app_name = "credentials"

urlpatterns = [
    path("me/credentials/", views.wallet, name="wallet"),
    path("me/credentials/<uuid:credential_id>.jwt", views.download, name="download"),
    path("me/credentials/<uuid:credential_id>/present/", views.present_page, name="present"),
    path("credentials/verify/", views.verify_page, name="verify"),
]
