"""Open data downloads: /open-data/<code>/records.csv and .json, for anyone, streamed."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from tongban.exchange.services import opendata
from tongban.identity.decorators import domain_errors_as_pages


def _download(resource, body, content_type: str, extension: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=content_type)
    # Codes are ASCII slugs, so the file name needs no quoting beyond the quotes.
    response["Content-Disposition"] = f'attachment; filename="{resource.code}.{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
@domain_errors_as_pages
def records_csv(request, code: str):
    resource = opendata.open_resource(code)
    return _download(resource, opendata.stream_csv(resource), "text/csv; charset=utf-8", "csv")


@require_GET
@domain_errors_as_pages
def records_json(request, code: str):
    resource = opendata.open_resource(code)
    return _download(resource, opendata.stream_json(resource), "application/json; charset=utf-8", "json")


urlpatterns = [
    path("open-data/<slug:code>/records.csv", records_csv, name="open-records-csv"),
    path("open-data/<slug:code>/records.json", records_json, name="open-records-json"),
]
