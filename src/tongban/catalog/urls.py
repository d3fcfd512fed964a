"""Catalog pages, mounted at the site root before core's portal placeholders (site/urls.py)."""

from django.urls import path

from tongban.catalog import views

app_name = "catalog"

urlpatterns = [
    path("catalog/", views.catalog_search, name="search"),
    path("catalog.jsonld", views.catalog_jsonld, name="jsonld"),
    path("catalog/<slug:code>/", views.resource_detail, name="detail"),
    path("open-data/", views.open_data, name="open-data"),
    path("workbench/catalog/", views.workbench, name="workbench"),
    path("workbench/catalog/new/", views.edit, name="new"),
    path("workbench/catalog/import/", views.import_file, name="import"),
    path("workbench/catalog/review/", views.review_queue, name="review-queue"),
    path("workbench/catalog/review/<slug:code>/", views.review_decide, name="review-decide"),
    path("workbench/catalog/<slug:code>/edit/", views.edit, name="edit"),
    *[path(f"workbench/catalog/<slug:code>/{verb}/", views.action, {"verb": verb}, name=verb)
      for verb in ("submit", "revise", "deprecate")],
]
