from django.contrib import admin
from django.urls import include, path

from tongban.site.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("tongban.identity.urls")),
    path("ledger/", include("tongban.ledger.urls")),
    path("", include("tongban.catalog.urls")),  # /catalog/, /open-data/, /catalog.jsonld, /workbench/catalog/
    path("", include("tongban.exchange.urls")),  # /workbench/exchange/, /me/data/, /open-data/<code>/records.*
    path("", include("tongban.credentials.urls")),  # /me/credentials/, /credentials/verify/
    path("", include("tongban.onestop.urls")),  # /services/, /me/applications/, /me/inbox/, /workbench/onestop/
    path("", include("tongban.policies.urls")),  # /policies/, /me/policies/, /workbench/policies/
    path("", include("tongban.oversight.urls")),  # /cockpit/...
    path("", include("tongban.core.urls")),
]
