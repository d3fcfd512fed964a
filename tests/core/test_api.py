"""Health and the error envelope of DESIGN.md §7."""

from __future__ import annotations

import json

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def _error(response):
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_health_reports_database_vendor_and_ledger_size(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == connection.vendor
    assert body["database"] in {"sqlite", "postgresql"}
    assert isinstance(body["ledger"]["size"], int)


def test_openapi_document_lists_health(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/health" in spec["paths"]


def test_docs_page_is_served_without_cdn(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_unknown_api_path_is_404_in_envelope(client):
    error = _error(client.get("/api/v1/no-such-thing"))
    assert error["code"] == "not_found"


def test_wrong_method_is_405_in_envelope(client):
    response = client.delete("/api/v1/health")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_error_message_is_chinese_by_default_and_english_on_request(client):
    zh = _error(client.get("/api/v1/no-such-thing"))
    en = _error(client.get("/api/v1/no-such-thing", HTTP_ACCEPT_LANGUAGE="en"))
    assert zh["message"] == "未找到该资源"
    assert en["message"] == "Not found"
    assert zh["messages"] == en["messages"] == {"zh-hans": "未找到该资源", "en": "Not found"}


def test_pages_outside_api_keep_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.urls("tests.core.urls_errors")
def test_domain_error_keeps_code_status_and_details(client):
    response = client.post("/api/v1/conflict")
    assert response.status_code == 409
    error = _error(response)
    assert error["code"] == "conflict"
    assert error["details"] == {"state": "approved"}
    assert error["message"] == "申请已处理"


@pytest.mark.urls("tests.core.urls_errors")
def test_invalid_body_is_422_listing_the_field(client):
    response = client.post("/api/v1/validate", data=json.dumps({"count": "many"}), content_type="application/json")
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "invalid_input"
    assert any(detail["location"][-1] == "count" for detail in error["details"])


@pytest.mark.urls("tests.core.urls_errors")
def test_malformed_json_is_rejected_in_envelope(client):
    response = client.post("/api/v1/validate", data="{not json", content_type="application/json")
    assert response.status_code in {400, 422}
    assert _error(response)["code"] in {"bad_request", "invalid_input"}


@pytest.mark.urls("tests.core.urls_errors")
def test_crash_in_api_is_500_without_internal_detail(client, caplog):
    response = client.get("/api/v1/crash")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error"
    assert "secret internal detail" not in response.content.decode()


@pytest.mark.urls("tests.core.urls_errors")
def test_crash_outside_ninja_under_api_still_answers_envelope(client):
    client.raise_request_exception = False
    response = client.get("/api/raw-crash")
    assert response.status_code == 500
    assert _error(response)["code"] == "internal_error"
