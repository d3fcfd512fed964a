from django.urls import path

from tongban.core import views
from tongban.core.navigation import PORTALS

urlpatterns = [
    path("", views.home, name="home"),
    *[
        path(portal.path.strip("/") + "/", views.portal, {"slug": portal.slug}, name=f"portal-{portal.slug}")
        for portal in PORTALS
    ],
]
